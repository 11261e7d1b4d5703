/**
 * Writing events into the outbox, inside the caller's database transaction. This is the
 * whole durability guarantee: the ledger change and its events commit together or not at
 * all, so a crash can delay an event but never lose it, and a rolled-back change leaves no
 * event behind. Delivery happens later, outside any transaction (./dispatcher).
 */
import { sql } from "kysely";
import { forEachChunk, insertRows } from "../../db/bulk.js";
import type { Trx } from "../../db/serializable.js";
import type { Engine } from "../../db/url.js";
import { isSubscribed, type OutboxRecipient } from "../subscription.js";
import { type EventDataByName, type EventName, orderingKeyOf } from "../types.js";
import { newEventIds } from "./event-ids.js";

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
 * on PostgreSQL one statement for all of them, the NOTIFY included (writeEventsPostgres);
 * elsewhere one multi-row INSERT per 500 events and per 500 deliveries (../../db/bulk.ts) — a
 * block that moves 10,000 open transactions writes 10,000 events in one transaction.
 */
export async function writeEvents(
  trx: Trx,
  engine: Engine,
  recipients: readonly OutboxRecipient[],
  events: readonly NewEvent[],
  now: number = Date.now(),
): Promise<WrittenEvent[]> {
  if (events.length === 0) return [];
  if (engine === "postgres") return writeEventsPostgres(trx, recipients, events, now);
  const written: WrittenEvent[] = [];
  const deliveries: Array<{ event_row_id: number; handler: string; ordering_key: string }> = [];
  // Rows built per chunk so SQLite, which yields between chunks, never holds the event loop
  // for the whole batch.
  await forEachChunk(engine, events, async (chunk) => {
    // Ids increase in the events' order, so the ids (and rows) keep it.
    const ids = newEventIds(chunk.length);
    const rows = chunk.map((event, i) => ({
      event_id: ids[i] as string,
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
      for (const handler of handlersOf(recipients, chunk[i] as NewEvent))
        deliveries.push({ event_row_id: rowId, handler, ordering_key: row.ordering_key });
      written.push({ event_id: row.event_id, event_row_id: rowId, created_at: now });
    });
  });
  await forEachChunk(engine, deliveries, async (chunk) => {
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
  return written;
}

/** The handlers that get a delivery of `event`, in the recipients' order. */
function handlersOf(recipients: readonly OutboxRecipient[], event: NewEvent): string[] {
  return recipients.filter((r) => isSubscribed(r.subscription, event)).map((r) => r.name);
}

/**
 * PostgreSQL: the events, their deliveries and the NOTIFY in one statement, the rows sent as
 * one JSON parameter (`json_to_recordset`; a `json` value keeps its text, so the stored
 * payload is exactly `JSON.stringify(data)`). Event ids follow the events' order (`with
 * ordinality`), delivery ids follow the events', and each delivery takes its event's row id
 * and ordering key from the inserted row: nothing goes back and forth. The NOTIFY (empty
 * payload) is sent only on commit, so a woken dispatcher always finds the rows.
 */
async function writeEventsPostgres(
  trx: Trx,
  recipients: readonly OutboxRecipient[],
  events: readonly NewEvent[],
  now: number,
): Promise<WrittenEvent[]> {
  const ids = newEventIds(events.length);
  const input = events.map((event, i) => ({
    i: ids[i],
    n: event.event_name,
    k: orderingKeyOf(event),
    p: event.data,
    h: handlersOf(recipients, event),
  }));
  const { rows } = await sql<{ id: number; event_id: string }>`
    with x as (
      select * from rows from (json_to_recordset(${JSON.stringify(input)}::json)
        as (i text, n text, k text, p json, h text[])) with ordinality as x(i, n, k, p, h, o)
    ), e as (
      insert into ca_event (event_id, event_name, ordering_key, payload, created_at)
      select i, n, k, p::text, ${now}::bigint from x order by o
      returning id, event_id, ordering_key
    ), d as (
      insert into ca_delivery (event_row_id, handler, ordering_key, state, attempts, next_attempt_at, created_at)
      select e.id, h.handler, e.ordering_key, 'pending', 0, ${now}::bigint, ${now}::bigint
      from e join x on x.i = e.event_id cross join lateral unnest(x.h) with ordinality as h(handler, n)
      order by e.id, h.n
    )
    select e.id, e.event_id from e cross join (select pg_notify(${OUTBOX_CHANNEL}, '')) as woken`.execute(
    trx,
  );
  const rowIdOf = new Map(rows.map((row) => [row.event_id, Number(row.id)]));
  return ids.map((eventId) => {
    const rowId = rowIdOf.get(eventId);
    if (rowId === undefined) throw new Error(`outbox: event ${eventId} was not inserted`);
    return { event_id: eventId, event_row_id: rowId, created_at: now };
  });
}

type EventRow = {
  event_id: string;
  event_name: string;
  ordering_key: string;
  payload: string;
  created_at: number;
};

/** Inserts event rows (SQLite, MariaDB); their ids by event_id (RETURNING on SQLite, a read-back on MariaDB). */
async function insertEvents(
  trx: Trx,
  engine: Engine,
  rows: readonly EventRow[],
): Promise<Array<{ id: number; event_id: string }>> {
  const eventIds = rows.map((row) => row.event_id);
  if (engine === "mysql") {
    await trx.insertInto("ca_event").values(rows).execute();
    return trx.selectFrom("ca_event").select(["id", "event_id"]).where("event_id", "in", eventIds).execute();
  }
  const inserted = await insertRows(trx, engine, "ca_event", rows, ["id", "event_id"]);
  return inserted.map((row) => ({ id: Number(row.id), event_id: String(row.event_id) }));
}
