/**
 * Writing events into the outbox, inside the caller's database transaction. This is the
 * whole durability guarantee: the ledger change and its events commit together or not at
 * all, so a crash can delay an event but never lose it, and a rolled-back change leaves no
 * event behind. Delivery happens later, outside any transaction (./dispatcher).
 */
import { sql } from "kysely";
import { v7 as uuidv7 } from "uuid";
import { forEachChunk, insertRows } from "../../db/bulk.js";
import type { Trx } from "../../db/serializable.js";
import type { Engine } from "../../db/url.js";
import { isSubscribed, type OutboxRecipient } from "../subscription.js";
import { type EventDataByName, type EventName, orderingKeyOf } from "../types.js";

/** Channel used on PostgreSQL to wake dispatchers; it never carries the event itself. */
export const OUTBOX_CHANNEL = "cryptoassets_outbox";

export interface NewEvent<N extends EventName = EventName> {
  event_name: N;
  data: EventDataByName[N];
}

export interface WrittenEvent {
  event_id: string;
  event_row_id: number;
  created_at: number;
}

/**
 * Inserts the events and one pending delivery per subscribed handler (see ../subscription):
 * set-based, one statement for all the events and one for all the deliveries on PostgreSQL
 * (`unnest` of arrays), one per 500 rows elsewhere (../../db/bulk.ts) — a block that moves
 * 10,000 open transactions writes 10,000 events in one transaction. On PostgreSQL a NOTIFY
 * with an empty payload is queued in the same transaction: it is sent only on commit, so a
 * woken dispatcher always finds the rows.
 */
export async function writeEvents(
  trx: Trx,
  engine: Engine,
  recipients: readonly OutboxRecipient[],
  events: readonly NewEvent[],
  now: number = Date.now(),
): Promise<WrittenEvent[]> {
  if (events.length === 0) return [];
  const written: WrittenEvent[] = [];
  const deliveries: Array<{ event_row_id: number; handler: string; ordering_key: string }> = [];
  // Chunks of events (all at once on PostgreSQL), rows built per chunk so SQLite, which
  // yields between chunks, never holds the event loop for the whole batch.
  await forEachChunk(engine, events, async (chunk) => {
    // uuidv7 ids are generated in order, so the ids (and rows) keep the events' order.
    const rows = chunk.map((event) => ({
      event_id: uuidv7(),
      event_name: event.event_name,
      ordering_key: orderingKeyOf(event),
      payload: JSON.stringify(event.data),
      created_at: now,
    }));
    // Row ids matched by event_id, never by position: nothing depends on the order rows come back in.
    const rowIdOf = new Map<string, number>();
    for (const row of await insertEvents(trx, engine, rows)) rowIdOf.set(row.event_id, Number(row.id));
    rows.forEach((row, i) => {
      const rowId = rowIdOf.get(row.event_id);
      if (rowId === undefined) throw new Error(`outbox: event ${row.event_id} was not inserted`);
      const event = chunk[i] as NewEvent;
      for (const recipient of recipients) {
        if (isSubscribed(recipient.subscription, event))
          deliveries.push({ event_row_id: rowId, handler: recipient.name, ordering_key: row.ordering_key });
      }
      written.push({ event_id: row.event_id, event_row_id: rowId, created_at: now });
    });
  });
  await forEachChunk(engine, deliveries, async (chunk) => {
    if (engine === "postgres") {
      // In the events' order (`with ordinality`), so delivery ids follow it as they do elsewhere.
      await sql`insert into ca_delivery (event_row_id, handler, ordering_key, state, attempts, next_attempt_at, created_at)
        select e, h, k, 'pending', 0, ${now}, ${now}
        from unnest(${chunk.map((d) => d.event_row_id)}::int[], ${chunk.map((d) => d.handler)}::text[],
          ${chunk.map((d) => d.ordering_key)}::text[]) with ordinality as d(e, h, k, n)
        order by n`.execute(trx);
      return;
    }
    await insertRows(
      trx,
      engine,
      "ca_delivery",
      chunk.map((d) => ({
        ...d,
        state: "pending" as const,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
      })),
    );
  });
  if (engine === "postgres") {
    await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(trx);
  }
  return written;
}

type EventRow = {
  event_id: string;
  event_name: string;
  ordering_key: string;
  payload: string;
  created_at: number;
};

/** Inserts event rows; their ids by event_id (RETURNING where the engine has it, a read-back on MariaDB). */
async function insertEvents(
  trx: Trx,
  engine: Engine,
  rows: readonly EventRow[],
): Promise<Array<{ id: number; event_id: string }>> {
  const eventIds = rows.map((row) => row.event_id);
  if (engine === "postgres") {
    const column = <K extends keyof EventRow>(key: K) => rows.map((row) => row[key]);
    const result = await sql<{ id: number; event_id: string }>`
      insert into ca_event (event_id, event_name, ordering_key, payload, created_at)
      select i, n, k, p, c
      from unnest(${eventIds}::text[], ${column("event_name")}::text[], ${column("ordering_key")}::text[],
        ${column("payload")}::text[], ${column("created_at")}::bigint[]) with ordinality as e(i, n, k, p, c, o)
      order by o
      returning id, event_id`.execute(trx);
    return result.rows;
  }
  if (engine === "mysql") {
    await trx.insertInto("ca_event").values(rows).execute();
    return trx.selectFrom("ca_event").select(["id", "event_id"]).where("event_id", "in", eventIds).execute();
  }
  const inserted = await insertRows(trx, engine, "ca_event", rows, ["id", "event_id"]);
  return inserted.map((row) => ({ id: Number(row.id), event_id: String(row.event_id) }));
}
