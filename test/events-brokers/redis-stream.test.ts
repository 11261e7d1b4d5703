/**
 * The redis-stream handler against real Redis: the shared server for the consumer test (the
 * example consumer reads every event back), a private one (append-only file, password) that
 * is killed and restarted in the middle of a run.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { afterAll, describe, expect, it } from "vitest";
import type { CryptoassetsEvent } from "../../src/events/types.js";
import { PrivateRedis } from "../faults/support/external-redis.js";
import { freePort } from "../service/support.js";
import {
  type BrokerRun,
  checkReadBack,
  deliverAndReadBack,
  printFigures,
  runAcrossCrash,
  startBrokerRun,
  startExampleConsumer,
} from "./support/harness.js";

const SHARED = "redis://127.0.0.1:6379";

/** Every entry of the stream, as the event it carries. */
async function readStream(url: string, stream: string): Promise<CryptoassetsEvent[]> {
  const client = createClient({ url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const entries = await client.xRange(stream, "-", "+");
    return (entries ?? []).map(({ message }) => ({
      event_id: message.event_id as string,
      event_name: message.event_name as "txupdate",
      data: JSON.parse(message.data as string),
      created_at: message.created_at as string,
    }));
  } finally {
    await client.close();
  }
}

describe("redis-stream handler", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }, 30_000);

  it("the example consumer (consumer group) reads back every event exactly as written, in order per transaction", async () => {
    const stream = `ca-test:${randomUUID()}`;
    cleanups.push(async () => {
      const client = createClient({ url: SHARED });
      await client.connect();
      await client.del(stream);
      await client.close();
    });
    const consumer = await startExampleConsumer("redis-stream-consumer.mjs", {
      REDIS_URL: SHARED,
      STREAM: stream,
      GROUP: "test",
    });
    cleanups.push(() => consumer.stop());
    const run: BrokerRun = await startBrokerRun(
      { class: "redis-stream", url: SHARED, stream, maxlen: 10_000 },
      12,
    );
    cleanups.push(() => run.stop());
    expect(await deliverAndReadBack(run, consumer)).toHaveLength(72);
    // The stream holds exactly the deliveries: nothing was appended twice.
    expect(checkReadBack(run.written, await readStream(SHARED, stream))).toEqual({ duplicates: 0 });
  }, 60_000);

  it("loses nothing when Redis crashes and restarts mid-run; attempts while it is down fail with the password masked", async () => {
    const password = `pw-${randomUUID()}`;
    const dir = mkdtempSync(join(tmpdir(), "ca-redis-stream-"));
    const redis = await PrivateRedis.start(await freePort(), { dir, password });
    cleanups.push(async () => {
      await redis.kill();
      rmSync(dir, { recursive: true, force: true });
    });
    const url = `redis://:${password}@127.0.0.1:${redis.port}`;
    const stream = "events";
    const run = await startBrokerRun({ class: "redis-stream", url, stream, timeout: 2 }, 10);
    cleanups.push(() => run.stop());

    const { failedAttempts } = await runAcrossCrash(run, redis, {
      shownUrl: /XADD to events on redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/,
      secret: password,
    });
    const read = await readStream(url, stream);
    const { duplicates } = checkReadBack(run.written, read);
    expect(read.length).toBe(run.written.length + duplicates);
    expect(run.written).toHaveLength(60);
    printFigures("redis-stream crash-restart", {
      events: run.written.length,
      failedAttempts,
      read: read.length,
      duplicates,
    });
  }, 60_000);
});
