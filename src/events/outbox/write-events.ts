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
 * Inserts the events and one pending delivery per handler. On PostgreSQL a NOTIFY with an
 * empty payload is queued in the same transaction: it is sent only on commit, so a woken
 * dispatcher always finds the rows.
 */
export async function writeEvents(
  trx: Trx,
  engine: Engine,
  handlerNames: readonly string[],
  events: readonly NewEvent[],
  now: number = Date.now(),
): Promise<WrittenEvent[]> {
  const written: WrittenEvent[] = [];
  for (const event of events) {
    const eventId = uuidv7();
    const orderingKey = orderingKeyOf(event);
    const values = {
      event_id: eventId,
      event_name: event.event_name,
      ordering_key: orderingKey,
      payload: JSON.stringify(event.data),
      created_at: now,
    };
    let rowId: number;
    if (engine === "mysql") {
      const result = await trx.insertInto("ca_event").values(values).executeTakeFirstOrThrow();
      rowId = Number(result.insertId);
    } else {
      const row = await trx.insertInto("ca_event").values(values).returning("id").executeTakeFirstOrThrow();
      rowId = row.id;
    }
    if (handlerNames.length > 0) {
      await trx
        .insertInto("ca_delivery")
        .values(
          handlerNames.map((handler) => ({
            event_row_id: rowId,
            handler,
            ordering_key: orderingKey,
            state: "pending" as const,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
          })),
        )
        .execute();
    }
    written.push({ event_id: eventId, event_row_id: rowId, created_at: now });
  }
  if (engine === "postgres" && events.length > 0) {
    await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(trx);
  }
  return written;
}
