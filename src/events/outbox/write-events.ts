/**
 * Writing events into the outbox, inside the caller's database transaction. This is the
 * whole durability guarantee: the ledger change and its events commit together or not at
 * all, so a crash can delay an event but never lose it, and a rolled-back change leaves no
 * event behind. Delivery happens later, outside any transaction (./dispatcher).
 */
import { sql } from "kysely";
import { v7 as uuidv7 } from "uuid";
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

/** Rows per INSERT: well under every engine's bound-parameter limit, even with many handlers. */
const ROWS_PER_INSERT = 500;

/**
 * Inserts the events and one pending delivery per subscribed handler (see ../subscription),
 * a few statements per 500 events
 * rather than two per event (a block that moves 10,000 open transactions writes 10,000
 * events in one transaction). On PostgreSQL a NOTIFY with an empty payload is queued in the
 * same transaction: it is sent only on commit, so a woken dispatcher always finds the rows.
 */
export async function writeEvents(
  trx: Trx,
  engine: Engine,
  recipients: readonly OutboxRecipient[],
  events: readonly NewEvent[],
  now: number = Date.now(),
): Promise<WrittenEvent[]> {
  const written: WrittenEvent[] = [];
  for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
    written.push(...(await writeChunk(trx, engine, recipients, events.slice(i, i + ROWS_PER_INSERT), now)));
  }
  if (engine === "postgres" && events.length > 0) {
    await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(trx);
  }
  return written;
}

async function writeChunk(
  trx: Trx,
  engine: Engine,
  recipients: readonly OutboxRecipient[],
  events: readonly NewEvent[],
  now: number,
): Promise<WrittenEvent[]> {
  // uuidv7 ids are generated in order, so the ids (and rows) keep the events' order.
  const rows = events.map((event) => ({
    event_id: uuidv7(),
    event_name: event.event_name,
    ordering_key: orderingKeyOf(event),
    payload: JSON.stringify(event.data),
    created_at: now,
  }));
  const eventIds = rows.map((row) => row.event_id);
  // Row ids by event_id: RETURNING where the engine has it, a read-back on MariaDB. Matched
  // by event_id, never by position, so nothing depends on the order rows come back in.
  const inserted =
    engine === "mysql"
      ? await trx
          .insertInto("ca_event")
          .values(rows)
          .execute()
          .then(() =>
            trx.selectFrom("ca_event").select(["id", "event_id"]).where("event_id", "in", eventIds).execute(),
          )
      : await trx.insertInto("ca_event").values(rows).returning(["id", "event_id"]).execute();
  const rowIdOf = new Map(inserted.map((row) => [row.event_id, Number(row.id)]));
  const written = rows.map((row, i) => {
    const rowId = rowIdOf.get(row.event_id);
    if (rowId === undefined) throw new Error(`outbox: event ${row.event_id} was not inserted`);
    const event = events[i] as NewEvent;
    const handlers = recipients.filter((r) => isSubscribed(r.subscription, event)).map((r) => r.name);
    return {
      event_id: row.event_id,
      event_row_id: rowId,
      created_at: now,
      ordering_key: row.ordering_key,
      handlers,
    };
  });
  if (recipients.length > 0) {
    const deliveries = written.flatMap((event) =>
      event.handlers.map((handler) => ({
        event_row_id: event.event_row_id,
        handler,
        ordering_key: event.ordering_key,
        state: "pending" as const,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
      })),
    );
    for (let i = 0; i < deliveries.length; i += ROWS_PER_INSERT) {
      await trx
        .insertInto("ca_delivery")
        .values(deliveries.slice(i, i + ROWS_PER_INSERT))
        .execute();
    }
  }
  return written.map(({ event_id, event_row_id, created_at }) => ({ event_id, event_row_id, created_at }));
}
