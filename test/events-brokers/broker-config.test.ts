/**
 * Broker handler entries: what the configuration accepts and refuses, what the factory
 * builds, and what a handler does before and after its broker answers (lazy connection,
 * a refused connection is a failed attempt naming the masked URL, close is safe).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile, maskSecrets, parseConfig } from "../../src/config/index.js";
import { ConfigError, DeliveryFailedError } from "../../src/errors.js";
import { AmqpEventHandler, amqpRoutingKey } from "../../src/events/handlers/amqp.js";
import { createEventHandler } from "../../src/events/handlers/factory.js";
import { NatsEventHandler, natsSubject } from "../../src/events/handlers/nats.js";
import { RedisStreamEventHandler } from "../../src/events/handlers/redis-stream.js";
import { freePort } from "../support/ports.js";
import { txupdate } from "./support/harness.js";

function parseHandler(handler: Record<string, unknown>) {
  return parseConfig({
    database: { url: "sqlite:///tmp/unused.db" },
    coins: { btc: { backend: { class: "null" } } },
    events: { broker: handler },
  });
}

const sample = { event_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", created_at: "2024-07-01T12:00:00.000Z" };

describe("broker handler configuration", () => {
  it("accepts each broker with its defaults and builds its handler", () => {
    const redis = parseHandler({
      class: "redis-stream",
      url: "redis://:pw@127.0.0.1:6379/2",
      stream: "events",
    });
    expect(redis.events.broker).toEqual({
      class: "redis-stream",
      url: "redis://:pw@127.0.0.1:6379/2",
      stream: "events",
      timeout: 10,
    });
    const amqp = parseHandler({ class: "amqp", url: "amqp://app:pw@127.0.0.1/shop", exchange: "payments" });
    expect(amqp.events.broker).toEqual({
      class: "amqp",
      url: "amqp://app:pw@127.0.0.1/shop",
      exchange: "payments",
      mandatory: true,
      timeout: 10,
    });
    const nats = parseHandler({ class: "nats", url: "nats://127.0.0.1:4222", token: "s3cret" });
    expect(nats.events.broker).toEqual({
      class: "nats",
      url: "nats://127.0.0.1:4222",
      subject_prefix: "cryptoassets",
      token: "s3cret",
      timeout: 10,
    });
    const built = [redis, amqp, nats].map((config) =>
      createEventHandler("broker", config.events.broker as Parameters<typeof createEventHandler>[1]),
    );
    expect(built.map((handler) => handler.constructor)).toEqual([
      RedisStreamEventHandler,
      AmqpEventHandler,
      NatsEventHandler,
    ]);
    expect(built.map((handler) => handler.timeoutMs)).toEqual([10_000, 10_000, 10_000]);
    expect(JSON.stringify(maskSecrets(nats).events)).not.toContain("s3cret");
    expect(JSON.stringify(maskSecrets(amqp).events)).toContain("amqp://app:***@127.0.0.1/shop");
  });

  it("loads examples/brokers/config.yaml: one handler per broker", () => {
    const config = loadConfigFile(join(import.meta.dirname, "../../examples/brokers/config.yaml"));
    expect(Object.values(config.events).map((handler) => handler.class)).toEqual([
      "redis-stream",
      "amqp",
      "nats",
    ]);
    expect(config.events.nats?.subscribe).toEqual({ transaction_types: ["deposit"] });
  });

  it.each([
    [
      { class: "redis-stream", url: "http://127.0.0.1:6379", stream: "s" },
      /events\.broker\.url: expected a URL starting with redis:\/\/ or rediss:\/\//,
    ],
    [{ class: "redis-stream", url: "redis://127.0.0.1" }, /events\.broker\.stream: /],
    [{ class: "redis-stream", url: "redis://127.0.0.1", stream: "s", maxlen: 0 }, /events\.broker\.maxlen: /],
    [{ class: "amqp", url: "amqp://127.0.0.1" }, /events\.broker\.exchange: /],
    [
      { class: "amqp", url: "amqp://u:p%zz@127.0.0.1", exchange: "x" },
      /events\.broker\.url: expected a URL: /,
    ],
    [
      { class: "nats", url: "nats://s3cret-token@127.0.0.1:4222" },
      /events\.broker\.url: expected user:password@ in the URL, or no credentials there \(a token goes in `token`\)/,
    ],
    [
      { class: "nats", url: "nats://127.0.0.1", subject_prefix: "a.*" },
      /events\.broker\.subject_prefix: expected subject tokens/,
    ],
    [
      { class: "kafka", url: "kafka://127.0.0.1" },
      /events\.broker\.class: unknown class "kafka"; expected one of: .*redis-stream, amqp, nats/,
    ],
  ])("refuses %j naming the key", (handler, message) => {
    expect(() => parseHandler(handler)).toThrow(ConfigError);
    expect(() => parseHandler(handler)).toThrow(message);
    expect(() => parseHandler(handler)).not.toThrow(/s3cret/);
  });

  it("routes by event name, coin and transaction type; '-' for a field the event lacks", () => {
    const deposit = { ...sample, event_name: "txupdate" as const, data: txupdate(2, 0) };
    expect(amqpRoutingKey(deposit)).toBe("txupdate.btc.deposit");
    expect(natsSubject("shop.events", deposit)).toBe("shop.events.txupdate.btc");
    const statusChange = { event_name: "backendstatus", data: { coin_name: "btc", state: "down" } };
    expect(amqpRoutingKey(statusChange as never)).toBe("backendstatus.btc.-");
    expect(natsSubject("cryptoassets", { event_name: "x", data: {} } as never)).toBe("cryptoassets.x.-");
  });
});

describe("a broker that is not there", () => {
  it.each([
    [
      "redis-stream",
      (port: number) =>
        new RedisStreamEventHandler("r", { url: `redis://:pw-1@127.0.0.1:${port}`, stream: "s", timeout: 2 }),
    ],
    [
      "amqp",
      (port: number) =>
        new AmqpEventHandler("a", { url: `amqp://app:pw-1@127.0.0.1:${port}`, exchange: "x", timeout: 2 }),
    ],
    [
      "nats",
      (port: number) => new NatsEventHandler("n", { url: `nats://app:pw-1@127.0.0.1:${port}`, timeout: 2 }),
    ],
  ])(
    "%s: nothing happens before the first delivery; a refused connection is a failed attempt with the URL masked",
    async (_kind, build) => {
      const handler = build(await freePort());
      const event = { ...sample, event_name: "txupdate" as const, data: txupdate(1, 0) };
      const attempt = handler.deliver(event);
      await expect(attempt).rejects.toBeInstanceOf(DeliveryFailedError);
      const error = (await attempt.catch((e: unknown) => e)) as DeliveryFailedError;
      expect(error.message).toMatch(/127\.0\.0\.1:\d+/);
      expect(error.message).toContain("***");
      expect(error.message).not.toContain("pw-1");
      // Again (a new connection attempt each time), then closed twice: no throw, no leak.
      await expect(handler.deliver(event)).rejects.toBeInstanceOf(DeliveryFailedError);
      await handler.close();
      await handler.close();
      await expect(handler.deliver(event)).rejects.toThrow(/closed/);
    },
  );
});
