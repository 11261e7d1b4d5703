/** What operators and the status page ask of the outbox: list, show, redeliver, purge, counts. */
import type { Database } from "../../db/open.js";
import { runSerializable } from "../../db/serializable.js";

/** `failed` = still pending, with at least one failed attempt. */
export type DeliveryFilter = "pending" | "failed" | "dead" | "delivered";

export interface DeliveryRow {
  event_id: string;
  event_name: string;
  ordering_key: string;
  created_at: number;
  handler: string;
  state: "pending" | "delivered" | "dead";
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  last_status: number | null;
  delivered_at: number | null;
}

export async function listDeliveries(
  database: Database,
  options: { state?: DeliveryFilter; handler?: string; limit?: number } = {},
): Promise<DeliveryRow[]> {
  let query = database.db
    .selectFrom("ca_delivery as d")
    .innerJoin("ca_event as e", "e.id", "d.event_row_id")
    .select([
      "e.event_id",
      "e.event_name",
      "e.ordering_key",
      "e.created_at",
      "d.handler",
      "d.state",
      "d.attempts",
      "d.next_attempt_at",
      "d.last_error",
      "d.last_status",
      "d.delivered_at",
    ]);
  if (options.state === "failed") query = query.where("d.state", "=", "pending").where("d.attempts", ">", 0);
  else if (options.state) query = query.where("d.state", "=", options.state);
  if (options.handler) query = query.where("d.handler", "=", options.handler);
  return query
    .orderBy("d.id", "desc")
    .limit(options.limit ?? 100)
    .execute();
}

export interface EventDetail {
  event_id: string;
  event_name: string;
  ordering_key: string;
  created_at: number;
  data: unknown;
  deliveries: Array<{
    handler: string;
    state: string;
    attempts: number;
    next_attempt_at: number;
    delivered_at: number | null;
    history: Array<{
      attempted_at: number;
      outcome: string;
      http_status: number | null;
      exit_code: number | null;
      error: string | null;
      duration_ms: number;
    }>;
  }>;
}

export async function showEvent(database: Database, eventId: string): Promise<EventDetail | undefined> {
  const event = await database.db
    .selectFrom("ca_event")
    .selectAll()
    .where("event_id", "=", eventId)
    .executeTakeFirst();
  if (!event) return undefined;
  const deliveries = await database.db
    .selectFrom("ca_delivery")
    .selectAll()
    .where("event_row_id", "=", event.id)
    .orderBy("handler")
    .execute();
  const attempts = deliveries.length
    ? await database.db
        .selectFrom("ca_delivery_attempt")
        .selectAll()
        .where(
          "delivery_id",
          "in",
          deliveries.map((d) => d.id),
        )
        .orderBy("id")
        .execute()
    : [];
  return {
    event_id: event.event_id,
    event_name: event.event_name,
    ordering_key: event.ordering_key,
    created_at: event.created_at,
    data: JSON.parse(event.payload),
    deliveries: deliveries.map((d) => ({
      handler: d.handler,
      state: d.state,
      attempts: d.attempts,
      next_attempt_at: d.next_attempt_at,
      delivered_at: d.delivered_at,
      history: attempts
        .filter((a) => a.delivery_id === d.id)
        .map(({ attempted_at, outcome, http_status, exit_code, error, duration_ms }) => ({
          attempted_at,
          outcome,
          http_status,
          exit_code,
          error,
          duration_ms,
        })),
    })),
  };
}

/**
 * Puts deliveries back to pending, due now, with a fresh retry schedule (attempts 0, so one
 * more failure does not make it dead at once); the attempt history rows are kept. Either one event
 * (optionally one handler) or every dead delivery. Returns how many were reset.
 */
export async function redeliver(
  database: Database,
  target: { eventId: string } | { allDead: true },
  handler?: string,
): Promise<number> {
  return runSerializable(database, async (trx) => {
    let query = trx.updateTable("ca_delivery").set({
      state: "pending",
      attempts: 0,
      next_attempt_at: Date.now(),
      claimed_by: null,
      claimed_until: null,
    });
    if ("eventId" in target) {
      const event = await trx
        .selectFrom("ca_event")
        .select("id")
        .where("event_id", "=", target.eventId)
        .executeTakeFirst();
      if (!event) return 0;
      query = query.where("event_row_id", "=", event.id);
    } else {
      query = query.where("state", "=", "dead");
    }
    if (handler) query = query.where("handler", "=", handler);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  });
}

/**
 * Deletes events older than `olderThanMs` whose every delivery is delivered (dead or
 * pending ones are kept for the operator). Returns how many events were removed.
 */
export async function purgeDelivered(
  database: Database,
  olderThanMs: number,
  now = Date.now(),
): Promise<number> {
  const cutoff = now - olderThanMs;
  return runSerializable(database, async (trx) => {
    const old = await trx
      .selectFrom("ca_event as e")
      .select("e.id")
      .where("e.created_at", "<", cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("ca_delivery as d")
              .select("d.id")
              .whereRef("d.event_row_id", "=", "e.id")
              .where("d.state", "<>", "delivered"),
          ),
        ),
      )
      .limit(10_000)
      .execute();
    if (old.length === 0) return 0;
    const ids = old.map((r) => r.id);
    // Explicit order instead of ON DELETE CASCADE: SQLite only cascades with foreign_keys on.
    const deliveryIds = (
      await trx.selectFrom("ca_delivery").select("id").where("event_row_id", "in", ids).execute()
    ).map((d) => d.id);
    if (deliveryIds.length) {
      await trx.deleteFrom("ca_delivery_attempt").where("delivery_id", "in", deliveryIds).execute();
      await trx.deleteFrom("ca_delivery").where("id", "in", deliveryIds).execute();
    }
    await trx.deleteFrom("ca_event").where("id", "in", ids).execute();
    return ids.length;
  });
}

export interface HandlerQueueCounts {
  handler: string;
  pending: number;
  failed: number;
  dead: number;
  delivered: number;
}

export async function deliveryCounts(database: Database): Promise<HandlerQueueCounts[]> {
  const rows = await database.db
    .selectFrom("ca_delivery")
    .select(({ fn }) => ["handler", "state", fn.countAll<number>().as("count")])
    .groupBy(["handler", "state"])
    .execute();
  const failedRows = await database.db
    .selectFrom("ca_delivery")
    .select(({ fn }) => ["handler", fn.countAll<number>().as("count")])
    .where("state", "=", "pending")
    .where("attempts", ">", 0)
    .groupBy("handler")
    .execute();
  const byHandler = new Map<string, HandlerQueueCounts>();
  const entry = (handler: string) => {
    let e = byHandler.get(handler);
    if (!e) {
      e = { handler, pending: 0, failed: 0, dead: 0, delivered: 0 };
      byHandler.set(handler, e);
    }
    return e;
  };
  for (const r of rows) entry(r.handler)[r.state] = Number(r.count);
  for (const r of failedRows) entry(r.handler).failed = Number(r.count);
  return [...byHandler.values()].sort((a, b) => a.handler.localeCompare(b.handler));
}
