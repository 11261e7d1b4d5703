/**
 * Writing a large batch into the outbox (what a block moving thousands of open transactions
 * does): every event stored with exactly its payload's JSON, ids in the batch's order, one
 * delivery per subscribed handler in the events' order, and on PostgreSQL the dispatchers'
 * NOTIFY on commit. PostgreSQL writes it all in one statement, the others per 500 rows.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSerializable } from "../../src/db/index.js";
import { newEventIds } from "../../src/events/outbox/event-ids.js";
import { Outbox } from "../../src/events/outbox/index.js";
import { OUTBOX_CHANNEL } from "../../src/events/outbox/write-events.js";
import type { TxUpdateData } from "../../src/events/types.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";
import { sampleTxUpdate } from "../support/sample-events.js";

const EVENTS = 1_200; // more than two chunks of 500 on SQLite and MariaDB

it("event ids are UUID v7, increasing, timestamped now, across batches and within a millisecond", () => {
  const before = Date.now();
  const ids = [...newEventIds(5_000), ...newEventIds(1), ...newEventIds(5_000)];
  const after = Date.now();
  expect(new Set(ids).size).toBe(ids.length);
  for (let i = 1; i < ids.length; i++) expect((ids[i] as string) > (ids[i - 1] as string)).toBe(true);
  for (const id of ids)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const msecs = (id: string) => Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
  expect(msecs(ids[0] as string)).toBeGreaterThanOrEqual(before);
  // The counter may carry into the timestamp, never by more than a few milliseconds here.
  expect(msecs(ids.at(-1) as string)).toBeLessThanOrEqual(after + 5);
});

describe.each(["sqlite", "postgres", "mysql"] as const)("a large outbox write on %s", (engine) => {
  let t: OpenTestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine, 2);
  });
  afterAll(async () => t?.cleanup());

  it("stores every payload exactly, ids and deliveries in the batch's order, only subscribed handlers", async () => {
    const outbox = new Outbox(t.database, [
      "all",
      { name: "broadcasts", subscription: { transaction_types: ["broadcast"] } },
      "also_all",
    ]);
    const updates: TxUpdateData[] = Array.from({ length: EVENTS }, (_, i) => ({
      ...sampleTxUpdate(i + 1, i % 7),
      transaction_type: i % 3 === 0 ? "broadcast" : "deposit",
      // What JSON escapes, and text outside ASCII: stored as written, byte for byte.
      address: `q"uo\\te ü 🙂 \u0001 </x> ${i}`,
    }));
    const listener = engine === "postgres" ? await listen(t.url) : undefined;
    const written = await runSerializable(t.database, (trx) => outbox.writeTxUpdates(trx, updates));
    const events = await t.database.db
      .selectFrom("ca_event")
      .select(["id", "event_id", "event_name", "payload"])
      .orderBy("id")
      .execute();
    expect(events.map((e) => e.event_id)).toEqual(written.map((w) => w.event_id));
    expect(events.map((e) => Number(e.id))).toEqual(written.map((w) => w.event_row_id));
    expect([...events.map((e) => e.event_id)].sort()).toEqual(events.map((e) => e.event_id));
    expect(events.map((e) => e.payload)).toEqual(updates.map((u) => JSON.stringify(u)));

    const deliveries = await t.database.db
      .selectFrom("ca_delivery")
      .select(["event_row_id", "handler", "ordering_key", "state"])
      .orderBy("id")
      .execute();
    const expected = written.flatMap((w, i) => {
      const handlers =
        (updates[i] as TxUpdateData).transaction_type === "broadcast"
          ? ["all", "broadcasts", "also_all"]
          : ["all", "also_all"];
      return handlers.map((handler) => ({ event_row_id: w.event_row_id, handler }));
    });
    expect(deliveries.map((d) => ({ event_row_id: Number(d.event_row_id), handler: d.handler }))).toEqual(
      expected,
    );
    expect(new Set(deliveries.map((d) => d.state))).toEqual(new Set(["pending"]));
    const keyOf = new Map(
      (await t.database.db.selectFrom("ca_event").select(["id", "ordering_key"]).execute()).map((e) => [
        Number(e.id),
        e.ordering_key,
      ]),
    );
    for (const d of deliveries) expect(d.ordering_key).toBe(keyOf.get(Number(d.event_row_id)));
    if (listener) {
      expect(await listener.notified).toBe(OUTBOX_CHANNEL);
      await listener.close();
    }
  });
});

/** A PostgreSQL connection LISTENing on the outbox channel: resolves on the first NOTIFY. */
async function listen(url: string): Promise<{ notified: Promise<string>; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const notified = new Promise<string>((resolve) => client.on("notification", (n) => resolve(n.channel)));
  await client.query(`listen ${OUTBOX_CHANNEL}`);
  return { notified, close: () => client.end() };
}
