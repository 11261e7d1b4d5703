/**
 * The nats handler against real NATS JetStream: the shared server (4222) for the consumer
 * test (the example consumer reads every event back), broker-side de-duplication (a
 * redelivered event is stored once) and a slow consumer (a work-queue stream of 3 messages
 * that refuses more: publishes fail until the consumer makes room); a private nats-server
 * with a password, killed and restarted mid-run.
 */
import { randomBytes } from "node:crypto";
import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redeliver } from "../../src/events/outbox/index.js";
import type { CryptoassetsEvent } from "../../src/events/types.js";
import {
  type BrokerRun,
  checkReadBack,
  deliverAndReadBack,
  HANDLER,
  printFigures,
  runAcrossCrash,
  startBrokerRun,
  startExampleConsumer,
} from "./support/harness.js";
import { PrivateNats } from "./support/private-brokers.js";

const SHARED = "nats://127.0.0.1:4222";

/** Every message of `stream`, through a throwaway ordered consumer. */
async function readStream(nc: NatsConnection, stream: string, count: number): Promise<CryptoassetsEvent[]> {
  const consumer = await jetstream(nc).consumers.get(stream);
  const events: CryptoassetsEvent[] = [];
  const messages = await consumer.fetch({ max_messages: count, expires: 5000 });
  for await (const message of messages) events.push(message.json());
  return events;
}

function uniqueNames() {
  const hex = randomBytes(6).toString("hex");
  return { stream: `CA_TEST_${hex}`, prefix: `catest_${hex}` };
}

describe("nats handler", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    nc = await connect({ servers: "127.0.0.1:4222" });
    jsm = await jetstreamManager(nc);
    cleanups.push(() => nc.close());
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }, 30_000);

  it("the example consumer reads back every event exactly as written, in order per transaction; a redelivery is stored once", async () => {
    const { stream, prefix } = uniqueNames();
    cleanups.push(() => jsm.streams.delete(stream));
    const consumer = await startExampleConsumer("nats-consumer.mjs", {
      NATS_URL: SHARED,
      STREAM: stream,
      SUBJECT_PREFIX: prefix,
      DURABLE: "test",
    });
    cleanups.push(() => consumer.stop());

    const run: BrokerRun = await startBrokerRun({ class: "nats", url: SHARED, subject_prefix: prefix }, 12);
    cleanups.push(() => run.stop());
    expect(await deliverAndReadBack(run, consumer)).toHaveLength(72);
    expect((await jsm.streams.info(stream)).state.messages).toBe(72);

    // The operator redelivers an event: published again with the same message id, JetStream
    // acknowledges it as a duplicate and stores nothing new.
    const again = run.written[5] as CryptoassetsEvent;
    expect(await redeliver(run.service.database, { eventId: again.event_id }, HANDLER)).toBe(1);
    run.service.dispatcher.wake();
    await run.allDelivered();
    expect((await jsm.streams.info(stream)).state.messages).toBe(72);
  }, 60_000);

  it("publishes count only when acknowledged: a full work-queue stream refuses them until a slow consumer makes room; subjects are per event name and coin", async () => {
    const { stream, prefix } = uniqueNames();
    cleanups.push(() => jsm.streams.delete(stream));
    await jsm.streams.add({
      name: stream,
      subjects: [`${prefix}.>`],
      retention: RetentionPolicy.Workqueue,
      max_msgs: 3,
      discard: DiscardPolicy.New,
    });
    await jsm.consumers.add(stream, { durable_name: "slow", ack_policy: AckPolicy.Explicit });
    const run = await startBrokerRun({ class: "nats", url: SHARED, subject_prefix: prefix }, 4);
    cleanups.push(() => run.stop());
    for (let confirmations = 0; confirmations <= 5; confirmations++) await run.writeRound(confirmations);

    const consumer = await jetstream(nc).consumers.get(stream, "slow");
    const read: CryptoassetsEvent[] = [];
    const deadline = Date.now() + 40_000;
    while (read.length < run.written.length && Date.now() < deadline) {
      const message = await consumer.next({ expires: 1000 });
      if (message) {
        expect(message.subject).toBe(`${prefix}.txupdate.btc`);
        read.push(message.json());
        await message.ackAck();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await run.allDelivered();
    const failed = await run.failedAttempts();
    expect(failed.errors.some((error) => /maximum messages exceeded/i.test(error))).toBe(true);
    expect(checkReadBack(run.written, read)).toEqual({ duplicates: 0 });
    expect(read).toHaveLength(24);
    printFigures("nats full work-queue stream, slow consumer", {
      events: run.written.length,
      failedAttempts: failed.attempts,
      read: read.length,
    });
  }, 60_000);

  describe.skipIf(!PrivateNats.available())("a private nats-server (skipped: no nats-server)", () => {
    it("loses nothing when the server is killed and restarted mid-run", async () => {
      const server = await PrivateNats.start({ user: "app", pass: `pw-${randomBytes(6).toString("hex")}` });
      cleanups.push(() => server.destroy());
      const { user, pass } = server.credentials;
      const admin = async () => connect({ servers: `127.0.0.1:${server.port}`, user, pass });
      const setup = await admin();
      await (await jetstreamManager(setup)).streams.add({ name: "EVENTS", subjects: ["cryptoassets.>"] });
      await setup.close();
      const run = await startBrokerRun({ class: "nats", url: server.url, timeout: 2 }, 10);
      cleanups.push(() => run.stop());

      const { failedAttempts } = await runAcrossCrash(run, server, {
        shownUrl: /to JetStream on nats:\/\/app:\*\*\*@127\.0\.0\.1:\d+/,
        secret: pass,
      });
      const reader = await admin();
      const stored = (await (await jetstreamManager(reader)).streams.info("EVENTS")).state.messages;
      const read = await readStream(reader, "EVENTS", stored);
      await reader.close();
      // JetStream dropped re-published copies within its duplicate window: each event once.
      expect(checkReadBack(run.written, read)).toEqual({ duplicates: 0 });
      expect(read).toHaveLength(60);
      printFigures("nats crash-restart", {
        events: run.written.length,
        failedAttempts,
        read: read.length,
        duplicates: 0,
      });
    }, 120_000);
  });
});
