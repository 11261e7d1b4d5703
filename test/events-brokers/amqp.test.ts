/**
 * The amqp handler against real RabbitMQ: the shared server (5672) for the consumer test (the
 * example consumer reads every event back; a second queue bound to `txupdate.*.deposit` gets
 * the deposits only) and for refusals (no queue bound: unroutable; a full queue with
 * reject-publish and a slow consumer: nacks); a private node, killed and restarted mid-run.
 */
import { randomUUID } from "node:crypto";
import amqp, { type Channel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CryptoassetsEvent, TxUpdateData } from "../../src/events/types.js";
import { waitFor } from "../support/wait.js";
import {
  type BrokerRun,
  checkReadBack,
  deliverAndReadBack,
  printFigures,
  runAcrossCrash,
  startBrokerRun,
  startExampleConsumer,
} from "./support/harness.js";
import { PrivateRabbitMq } from "./support/private-brokers.js";

const SHARED = "amqp://guest:guest@127.0.0.1:5672";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every message waiting in `queue` (acknowledged), as the events they carry. */
async function drain(channel: Channel, queue: string): Promise<CryptoassetsEvent[]> {
  const events: CryptoassetsEvent[] = [];
  for (;;) {
    const message = await channel.get(queue);
    if (message === false) return events;
    events.push(JSON.parse(message.content.toString("utf8")));
    channel.ack(message);
  }
}

describe("amqp handler", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  let channel: Channel;
  beforeAll(async () => {
    const connection = await amqp.connect(SHARED);
    channel = await connection.createChannel();
    cleanups.push(() => connection.close());
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }, 30_000);

  it("the example consumer reads back every event exactly as written, in order per transaction; routing keys select", async () => {
    const exchange = `ca-test-${randomUUID()}`;
    const [queue, deposits] = [`${exchange}-all`, `${exchange}-deposits`];
    cleanups.push(() => channel.deleteExchange(exchange));
    cleanups.push(() => channel.deleteQueue(queue));
    cleanups.push(() => channel.deleteQueue(deposits));
    await channel.assertExchange(exchange, "topic", { durable: true });
    await channel.assertQueue(deposits, { durable: true });
    await channel.bindQueue(deposits, exchange, "txupdate.*.deposit");
    const consumer = await startExampleConsumer("amqp-consumer.mjs", {
      AMQP_URL: SHARED,
      EXCHANGE: exchange,
      QUEUE: queue,
      BINDING: "#",
    });
    cleanups.push(() => consumer.stop());

    const run: BrokerRun = await startBrokerRun({ class: "amqp", url: SHARED, exchange }, 12);
    cleanups.push(() => run.stop());
    expect(await deliverAndReadBack(run, consumer)).toHaveLength(72);

    const depositsOnly = await drain(channel, deposits);
    const expected = run.written.filter(
      (event) => (event.data as TxUpdateData).transaction_type === "deposit",
    );
    expect(checkReadBack(expected, depositsOnly)).toEqual({ duplicates: 0 });
    expect(depositsOnly).toHaveLength(36);
  }, 60_000);

  it("counts a delivery only when confirmed: unroutable messages and nacks from a full queue are retried until a slow consumer makes room", async () => {
    const exchange = `ca-test-${randomUUID()}`;
    const queue = `${exchange}-bounded`;
    cleanups.push(() => channel.deleteExchange(exchange));
    cleanups.push(() => channel.deleteQueue(queue));
    const run = await startBrokerRun({ class: "amqp", url: SHARED, exchange }, 4);
    cleanups.push(() => run.stop());
    // No queue is bound yet: RabbitMQ returns each message (mandatory) and the attempt fails.
    await run.writeRound(0);
    const unroutable = await waitFor("unroutable attempts", async () => {
      const failed = await run.failedAttempts();
      return failed.attempts >= 4 ? failed : undefined;
    });
    expect(unroutable.errors[0]).toMatch(
      /no queue is bound to exchange .* for routing key txupdate\.btc\.(deposit|broadcast)/,
    );

    // A queue that holds 3 messages and refuses more (nack) — read slowly, 1 message / 100 ms.
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { "x-max-length": 3, "x-overflow": "reject-publish" },
    });
    await channel.bindQueue(queue, exchange, "#");
    for (let confirmations = 1; confirmations <= 5; confirmations++) await run.writeRound(confirmations);
    const read: CryptoassetsEvent[] = [];
    const deadline = Date.now() + 40_000;
    while (read.length < run.written.length && Date.now() < deadline) {
      const message = await channel.get(queue);
      if (message !== false) {
        read.push(JSON.parse(message.content.toString("utf8")));
        channel.ack(message);
      }
      await sleep(100);
    }
    await run.allDelivered();
    read.push(...(await drain(channel, queue)));
    const failed = await run.failedAttempts();
    expect(failed.errors.some((error) => /refused the message \(nack\)/.test(error))).toBe(true);
    // Refused messages were not enqueued: the queue holds each event exactly once, in order.
    expect(checkReadBack(run.written, read)).toEqual({ duplicates: 0 });
    expect(read).toHaveLength(24);
    printFigures("amqp unroutable + full queue, slow consumer", {
      events: run.written.length,
      failedAttempts: failed.attempts,
      read: read.length,
    });
  }, 60_000);

  describe.skipIf(!PrivateRabbitMq.available())(
    "a private RabbitMQ node (skipped: no rabbitmq-server)",
    () => {
      it("loses nothing when the node is killed and restarted mid-run", async () => {
        const node = await PrivateRabbitMq.start();
        cleanups.push(() => node.destroy());
        const exchange = "events";
        const queue = "all";
        const setup = async () => {
          const connection = await amqp.connect(node.url);
          const ch = await connection.createChannel();
          await ch.assertExchange(exchange, "topic", { durable: true });
          await ch.assertQueue(queue, { durable: true });
          await ch.bindQueue(queue, exchange, "#");
          return { connection, ch };
        };
        await (await setup()).connection.close();
        const run = await startBrokerRun({ class: "amqp", url: node.url, exchange, timeout: 3 }, 10);
        cleanups.push(() => run.stop());

        const { failedAttempts } = await runAcrossCrash(run, node, {
          // The user name is the password here (guest:guest): stored errors mask it too.
          shownUrl: /on amqp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+/,
          secret: "guest:guest",
        });
        const { connection, ch } = await setup();
        const read = await drain(ch, queue);
        await connection.close();
        const { duplicates } = checkReadBack(run.written, read);
        expect(read.length).toBe(run.written.length + duplicates);
        expect(run.written).toHaveLength(60);
        printFigures("amqp crash-restart", {
          events: run.written.length,
          failedAttempts,
          read: read.length,
          duplicates,
        });
      }, 120_000);
    },
  );
});
