import { randomUUID } from "node:crypto";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NotifyConfigError, NotifyListenerStartError } from "../../src/errors.js";
import { DEFAULT_REDIS_NOTIFY_CHANNEL, RedisNotifyListener } from "../../src/notify/redis-listener.js";
import { waitFor } from "../support/wait.js";
import { captureLogs, randomHash } from "./helpers.js";

// The shared Redis server the test suite runs against.
const admin = createClient({ socket: { host: "127.0.0.1", port: 6379 } });
const listeners: RedisNotifyListener[] = [];

beforeAll(async () => {
  await admin.connect();
});

afterAll(async () => {
  await admin.close();
});

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

function uniqueChannel(): string {
  return `test_walletnotify_${randomUUID()}`;
}

async function startListener(channel: string) {
  const values: string[] = [];
  const logs = captureLogs();
  const listener = new RedisNotifyListener(
    { channel },
    (value) => {
      values.push(value);
    },
    logs.logger,
  );
  listeners.push(listener);
  await listener.start();
  return { listener, values, logs };
}

async function subscribers(channel: string): Promise<number> {
  const counts = await admin.pubSubNumSub(channel);
  return counts[channel] ?? 0;
}

/** Client ids of live connections named `name` (our subscriber sets CLIENT SETNAME). */
async function clientIds(name: string): Promise<string[]> {
  const list = await admin.sendCommand(["CLIENT", "LIST"]);
  return String(list)
    .split("\n")
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] ?? "");
}

describe("RedisNotifyListener", () => {
  it("delivers published txids, lowercased", async () => {
    const channel = uniqueChannel();
    const { values, listener } = await startListener(channel);
    expect(await subscribers(channel)).toBe(1);
    expect(listener.describe()).toBe(`redis://127.0.0.1:6379/0 channel ${channel}`);

    const txids = [randomHash(), randomHash(), randomHash()];
    await admin.publish(channel, txids[0] as string);
    await admin.publish(channel, (txids[1] as string).toUpperCase());
    await admin.publish(channel, ` ${txids[2]}\n`);
    await waitFor("three values", () => values.length === 3, 5_000, 10);
    expect(values).toEqual(txids);
  });

  it("logs and skips garbage and oversized messages, then keeps delivering", async () => {
    const channel = uniqueChannel();
    const { values, logs } = await startListener(channel);
    await admin.publish(channel, "hello");
    await admin.publish(channel, "");
    await admin.publish(channel, "x".repeat(100_000));
    await admin.publish(channel, Buffer.from([0, 255, 254, 10, 13]));
    const txid = randomHash();
    await admin.publish(channel, txid);
    await waitFor("the valid value", () => values.length === 1, 5_000, 10);
    expect(values).toEqual([txid]);
    const messages = logs.lines.map((line) => line.msg);
    expect(messages.filter((msg) => msg === "skipped an invalid Redis notify message")).toHaveLength(3);
    expect(messages).toContain("skipped an over-long Redis notify message");
  });

  it("reconnects and resubscribes after its connection is killed, logging the state changes", async () => {
    const channel = uniqueChannel();
    const { listener, values, logs } = await startListener(channel);
    const [before] = await clientIds(listener.clientName);
    expect(before).toMatch(/^\d+$/);

    // Drop only our subscriber (CLIENT KILL TYPE pubsub would also hit parallel test files).
    await admin.sendCommand(["CLIENT", "KILL", "ID", before as string]);
    await waitFor(
      "a reconnect",
      () => logs.lines.some((line) => line.msg === "reconnecting to Redis"),
      5_000,
      10,
    );
    await waitFor("the listener to resubscribe", async () => (await subscribers(channel)) === 1, 10_000, 20);
    const after = await clientIds(listener.clientName);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);

    const txid = randomHash();
    await admin.publish(channel, txid);
    await waitFor("a value published after reconnection", () => values.length === 1, 5_000, 10);
    expect(values).toEqual([txid]);
    const messages = logs.lines.map((line) => line.msg);
    expect(messages.filter((msg) => msg === "connected to Redis").length).toBeGreaterThanOrEqual(2);
  });

  it("close() quits: the connection and the subscription are gone", async () => {
    const channel = uniqueChannel();
    const { listener } = await startListener(channel);
    expect(await clientIds(listener.clientName)).toHaveLength(1);
    await listener.close();
    expect(await subscribers(channel)).toBe(0);
    // The server notices the closed socket asynchronously.
    await waitFor(
      "the subscriber connection to leave the server's list after close()",
      async () => (await clientIds(listener.clientName)).length === 0,
      5_000,
      20,
    );
    await listener.close(); // twice is harmless
  });

  it("fails start() with a clear error when Redis is unreachable", async () => {
    const logs = captureLogs();
    const unreachable = new RedisNotifyListener({ port: 1, startTimeoutMs: 400 }, () => {}, logs.logger);
    await expect(unreachable.start()).rejects.toThrow(NotifyListenerStartError);
    await expect(unreachable.start()).rejects.toThrow(
      /could not subscribe at redis:\/\/127\.0\.0\.1:1\/0.*ECONNREFUSED/,
    );
    expect(logs.lines.some((line) => line.msg === "Redis notify connection error")).toBe(true);
  });

  it("uses the original's default channel and validates options", () => {
    expect(new RedisNotifyListener({}, () => {}).describe()).toBe(
      `redis://127.0.0.1:6379/0 channel ${DEFAULT_REDIS_NOTIFY_CHANNEL}`,
    );
    expect(DEFAULT_REDIS_NOTIFY_CHANNEL).toBe("bitcoind_walletnotify_pubsub");
    expect(() => new RedisNotifyListener({ port: 0 }, () => {})).toThrow(NotifyConfigError);
    expect(() => new RedisNotifyListener({ db: -1 }, () => {})).toThrow(/db must be a non-negative integer/);
    expect(() => new RedisNotifyListener({ channel: "" }, () => {})).toThrow(/channel must not be empty/);
  });
});
