import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSerializable } from "../../src/db/index.js";
import { DeliveryFailedError } from "../../src/errors.js";
import { type DeliverableHandler, Dispatcher } from "../../src/events/dispatcher.js";
import {
  deliveryCounts,
  listDeliveries,
  Outbox,
  purgeDelivered,
  redeliver,
  showEvent,
} from "../../src/events/outbox/index.js";
import type { CryptoassetsEvent, TxUpdateData } from "../../src/events/types.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";
import { sampleTxUpdate as txupdate } from "../support/sample-events.js";
import { waitFor } from "../support/wait.js";

/** A handler that records what it accepted and fails while `failing(event)` says so. */
function recordingHandler(
  name: string,
  failing: (e: CryptoassetsEvent, attempt: number) => boolean = () => false,
) {
  const accepted: CryptoassetsEvent[] = [];
  const attempts = new Map<string, number>();
  const handler: DeliverableHandler = {
    name,
    timeoutMs: 1000,
    async deliver(event) {
      const n = (attempts.get(event.event_id) ?? 0) + 1;
      attempts.set(event.event_id, n);
      if (failing(event, n)) throw new DeliveryFailedError(`receiver said no (${n})`, { httpStatus: 500 });
      accepted.push(event);
      return { httpStatus: 200, durationMs: 0 };
    },
  };
  return { handler, accepted, attempts };
}

const FAST = [0.05, 0.05, 0.05, 0.05];

describe.each(["sqlite", "postgres", "mysql"] as const)("outbox and dispatcher on %s", (engine) => {
  let t: OpenTestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine, 12);
  });
  afterAll(async () => t?.cleanup());

  it("writes a large batch in order: 1,200 events in one transaction, a delivery per handler each", async () => {
    const outbox = new Outbox(t.database, ["bulk-a", "bulk-b"]);
    const updates = Array.from({ length: 1200 }, (_, i) => txupdate(900_000 + i, i % 16));
    const written = await runSerializable(t.database, (trx) => outbox.writeTxUpdates(trx, updates));
    expect(written).toHaveLength(1200);
    const events = await t.database.db
      .selectFrom("ca_event")
      .select(["id", "event_id", "payload", "ordering_key"])
      .where(
        "id",
        "in",
        written.map((w) => w.event_row_id),
      )
      .orderBy("id")
      .execute();
    // Row order = the order the ledger produced them (delivery order depends on it).
    expect(events.map((e) => e.event_id)).toEqual(written.map((w) => w.event_id));
    expect(events.map((e) => (JSON.parse(e.payload) as TxUpdateData).transaction)).toEqual(
      updates.map((u) => u.transaction),
    );
    const deliveries = await t.database.db
      .selectFrom("ca_delivery")
      .select(["event_row_id", "handler", "ordering_key", "state"])
      .where("handler", "in", ["bulk-a", "bulk-b"])
      .orderBy("id")
      .execute();
    expect(deliveries).toHaveLength(2400);
    const keyOf = new Map(events.map((e) => [e.id, e.ordering_key]));
    expect(
      deliveries.every((d) => d.state === "pending" && keyOf.get(d.event_row_id) === d.ordering_key),
    ).toBe(true);
    expect(deliveries.filter((d) => d.handler === "bulk-a").map((d) => d.event_row_id)).toEqual(
      events.map((e) => e.id),
    );
    // The other tests share this database and count what is pending: leave nothing behind.
    await t.database.db.deleteFrom("ca_delivery").where("handler", "in", ["bulk-a", "bulk-b"]).execute();
    await t.database.db
      .deleteFrom("ca_event")
      .where(
        "id",
        "in",
        written.map((w) => w.event_row_id),
      )
      .execute();
  });

  it("writes no event for a change that rolled back", async () => {
    const outbox = new Outbox(t.database, ["app"]);
    await expect(
      runSerializable(t.database, async (trx) => {
        await outbox.writeTxUpdates(trx, [txupdate(1, 0)]);
        throw new Error("ledger change failed");
      }),
    ).rejects.toThrow("ledger change failed");
    expect(await listDeliveries(t.database)).toEqual([]);
  });

  it("delivers in order per transaction; a failing transaction holds back only itself", async () => {
    const outbox = new Outbox(t.database, ["ordered"]);
    // Transaction 10 fails its first three attempts; 11 and 12 always succeed.
    const rec = recordingHandler("ordered", (e, n) => (e.data as TxUpdateData).transaction === 10 && n <= 3);
    for (let c = 0; c <= 3; c++) {
      await runSerializable(t.database, (trx) =>
        outbox.writeTxUpdates(trx, [txupdate(10, c), txupdate(11, c), txupdate(12, c)]),
      );
    }
    const dispatcher = new Dispatcher({
      database: t.database,
      handlers: [rec.handler],
      retrySchedule: FAST,
      pollIntervalMs: 50,
    });
    await dispatcher.start();
    try {
      await waitFor("12 accepted events", () => rec.accepted.length === 12, 15_000, 20);
    } finally {
      await dispatcher.stop();
    }
    const sequence = (tx: number) =>
      rec.accepted
        .filter((e) => (e.data as TxUpdateData).transaction === tx)
        .map((e) => (e.data as TxUpdateData).confirmations);
    expect(sequence(10)).toEqual([0, 1, 2, 3]);
    expect(sequence(11)).toEqual([0, 1, 2, 3]);
    expect(sequence(12)).toEqual([0, 1, 2, 3]);
    // 11 and 12 completed while 10 was still failing.
    const lastOf11 = rec.accepted.findIndex(
      (e) => (e.data as TxUpdateData).transaction === 11 && (e.data as TxUpdateData).confirmations === 3,
    );
    const firstOf10 = rec.accepted.findIndex((e) => (e.data as TxUpdateData).transaction === 10);
    expect(lastOf11).toBeLessThan(firstOf10);
    // Every attempt is on record with its outcome and status.
    const first10 = rec.accepted.find((e) => (e.data as TxUpdateData).transaction === 10);
    const detail = await showEvent(t.database, first10?.event_id ?? "");
    expect(detail?.deliveries[0]?.history.map((h) => [h.outcome, h.http_status])).toEqual([
      ["failed", 500],
      ["failed", 500],
      ["failed", 500],
      ["delivered", 200],
    ]);
    expect(detail?.deliveries[0]?.history[0]?.error).toBe("receiver said no (1)");
    expect(new Set(rec.accepted.map((e) => e.event_id)).size).toBe(12);
  });

  it("goes dead after the schedule, holds the key back, and resumes on redeliver", async () => {
    const outbox = new Outbox(t.database, ["deadly"]);
    let down = true;
    const rec = recordingHandler("deadly", () => down);
    await runSerializable(t.database, (trx) =>
      outbox.writeTxUpdates(trx, [txupdate(20, 0), txupdate(20, 1)]),
    );
    const dispatcher = new Dispatcher({
      database: t.database,
      handlers: [rec.handler],
      retrySchedule: [0.02, 0.02],
      pollIntervalMs: 50,
    });
    await dispatcher.start();
    try {
      await waitFor(
        "one dead delivery",
        async () => (await listDeliveries(t.database, { state: "dead", handler: "deadly" })).length === 1,
        15_000,
        20,
      );
      // The second event of the key was never attempted: it waits behind the dead one.
      const pending = await listDeliveries(t.database, { state: "pending", handler: "deadly" });
      expect(pending).toHaveLength(1);
      expect(pending[0]?.attempts).toBe(0);
      expect(dispatcher.counters.get("deadly")?.dead).toBe(1);
      const counts = (await deliveryCounts(t.database)).find((c) => c.handler === "deadly");
      expect(counts).toMatchObject({ dead: 1, pending: 1, failed: 0 });
      down = false;
      expect(await redeliver(t.database, { allDead: true }, "deadly")).toBe(1);
      dispatcher.wake();
      await waitFor("the redelivered event", () => rec.accepted.length === 2, 15_000, 20);
    } finally {
      await dispatcher.stop();
    }
    expect(rec.accepted.map((e) => (e.data as TxUpdateData).confirmations)).toEqual([0, 1]);
  });

  it("a slow handler does not hold back another handler", async () => {
    const outbox = new Outbox(t.database, ["slow", "fast"]);
    const slow = recordingHandler("slow");
    const slowHandler: DeliverableHandler = {
      name: "slow",
      timeoutMs: 5000,
      deliver: async (e) => {
        await new Promise((r) => setTimeout(r, 300));
        return slow.handler.deliver(e);
      },
    };
    const fast = recordingHandler("fast");
    await runSerializable(t.database, (trx) =>
      outbox.writeTxUpdates(
        trx,
        Array.from({ length: 20 }, (_, i) => txupdate(100 + i, 0)),
      ),
    );
    const dispatcher = new Dispatcher({
      database: t.database,
      handlers: [slowHandler, fast.handler],
      concurrency: 2,
      pollIntervalMs: 50,
    });
    const started = Date.now();
    await dispatcher.start();
    try {
      await waitFor("20 fast deliveries", () => fast.accepted.length === 20, 15_000, 20);
      const fastDone = Date.now() - started;
      // 20 slow deliveries need ≥ 3 s with 2 slots; the fast handler must not wait for them.
      expect(fastDone).toBeLessThan(2000);
      expect(slow.accepted.length).toBeLessThan(20);
    } finally {
      await dispatcher.stop(10_000);
    }
  });

  it("purges delivered events past retention and keeps undelivered ones", async () => {
    const outbox = new Outbox(t.database, ["purge"]);
    const rec = recordingHandler("purge", (e) => (e.data as TxUpdateData).transaction === 31);
    await runSerializable(t.database, (trx) =>
      outbox.writeTxUpdates(trx, [txupdate(30, 0), txupdate(31, 0)]),
    );
    const dispatcher = new Dispatcher({
      database: t.database,
      handlers: [rec.handler],
      retrySchedule: [60],
      pollIntervalMs: 50,
    });
    await dispatcher.start();
    await waitFor("the accepted event", () => rec.accepted.length === 1, 15_000, 20);
    await waitFor(
      "one failed delivery",
      async () => (await listDeliveries(t.database, { state: "failed", handler: "purge" })).length === 1,
      15_000,
      20,
    );
    await dispatcher.stop();
    const delivered = rec.accepted[0]?.event_id ?? "";
    expect(await purgeDelivered(t.database, 1000, Date.now() - 60_000)).toBe(0); // too young
    const purged = await purgeDelivered(t.database, 0, Date.now() + 1);
    expect(purged).toBeGreaterThanOrEqual(1);
    expect(await showEvent(t.database, delivered)).toBeUndefined();
    expect(await listDeliveries(t.database, { state: "failed", handler: "purge" })).toHaveLength(1);
  });
});

describe("two dispatchers sharing one PostgreSQL outbox", () => {
  it("deliver every event exactly once", async () => {
    const t = await openTestDatabase("postgres", 16);
    try {
      const outbox = new Outbox(t.database, ["shared"]);
      const N = Number(process.env.N ?? 3000);
      const batch = 500;
      for (let i = 0; i < N; i += batch) {
        await runSerializable(t.database, (trx) =>
          outbox.writeTxUpdates(
            trx,
            Array.from({ length: batch }, (_, k) => txupdate(1 + ((i + k) % 600), Math.floor((i + k) / 600))),
          ),
        );
      }
      const seen = new Map<string, number>();
      const perKey = new Map<number, number[]>();
      const make = (): DeliverableHandler => ({
        name: "shared",
        timeoutMs: 1000,
        deliver: async (e) => {
          seen.set(e.event_id, (seen.get(e.event_id) ?? 0) + 1);
          const data = e.data as TxUpdateData;
          perKey.set(data.transaction, [...(perKey.get(data.transaction) ?? []), data.confirmations]);
          return { durationMs: 0 };
        },
      });
      const a = new Dispatcher({
        database: t.database,
        databaseUrl: t.url,
        handlers: [make()],
        concurrency: 8,
      });
      const b = new Dispatcher({
        database: t.database,
        databaseUrl: t.url,
        handlers: [make()],
        concurrency: 8,
      });
      await Promise.all([a.start(), b.start()]);
      try {
        const t0 = Date.now();
        const progress = setInterval(
          () => console.log(`[progress] ${seen.size} after ${Date.now() - t0} ms`),
          2000,
        );
        await waitFor(`${N} events seen`, () => seen.size === N, 60_000, 20).finally(() =>
          clearInterval(progress),
        );
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
      console.log(
        `[figures] two dispatchers: ${N} events, db retries ${t.database.stats.retries}, transactions ${t.database.stats.transactions}`,
      );
      expect(seen.size).toBe(N);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      const byA = a.counters.get("shared")?.delivered ?? 0;
      const byB = b.counters.get("shared")?.delivered ?? 0;
      expect(byA + byB).toBe(N);
      expect(byA).toBeGreaterThan(0);
      expect(byB).toBeGreaterThan(0);
      for (const sequence of perKey.values()) expect(sequence).toEqual([...sequence].sort((x, y) => x - y));
    } finally {
      await t.cleanup();
    }
  }, 90_000);
});
