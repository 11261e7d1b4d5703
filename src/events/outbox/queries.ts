/**
 * What operators and the status page ask of the outbox: list, show, redeliver, purge, counts.
 * One vocabulary: a `failed` delivery is still pending after at least one failed attempt; a
 * `dead` one has exhausted its retry schedule.
 */
import type { Database } from "../../db/open.js";
import type { DeliveryState } from "../../db/schema.js";
import { runSerializable, type Trx } from "../../db/serializable.js";

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

/** Deliveries (`d`) joined to their events (`e`), in one state or all. */
function deliveriesIn(database: Database, state: DeliveryFilter | undefined) {
  const query = database.db
    .selectFrom("ca_delivery as d")
    .innerJoin("ca_event as e", "e.id", "d.event_row_id");
  if (state === "failed") return query.where("d.state", "=", "pending").where("d.attempts", ">", 0);
  return state ? query.where("d.state", "=", state) : query;
}

export async function listDeliveries(
  database: Database,
  options: { state?: DeliveryFilter; handler?: string; limit?: number } = {},
): Promise<DeliveryRow[]> {
  let query = deliveriesIn(database, options.state).select([
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

export interface PurgeOptions {
  /** Events per transaction (default 2,000): each batch holds its row locks only briefly. */
  batchSize?: number;
  /** Pause between batches in ms (default 10), so deliveries and ingest get the database in between. */
  pauseMs?: number;
}

/**
 * Deletes events older than `olderThanMs` whose every delivery is delivered (dead or
 * pending ones are kept for the operator), with their deliveries and attempts. Walks the
 * events in id order, a bounded batch per short READ COMMITTED transaction, and stops at the
 * first young event (ids follow creation time), so each step costs the same however many
 * rows the outbox keeps, and delivery goes on in between. Returns how many events went.
 */
export async function purgeDelivered(
  database: Database,
  olderThanMs: number,
  now = Date.now(),
  options: PurgeOptions = {},
): Promise<number> {
  const cutoff = now - olderThanMs;
  const batchSize = options.batchSize ?? 2000;
  const pauseMs = options.pauseMs ?? 10;
  let after = 0;
  let purged = 0;
  for (;;) {
    const events = await database.db
      .selectFrom("ca_event")
      .select(["id", "created_at"])
      .where("id", ">", after)
      .orderBy("id")
      .limit(batchSize)
      .execute();
    const old = events.filter((e) => e.created_at < cutoff).map((e) => e.id);
    if (old.length > 0) purged += await purgeEvents(database, old);
    if (old.length < batchSize) return purged;
    after = old[old.length - 1] as number;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** Deletes those of `ids` whose deliveries are all delivered; returns how many. */
async function purgeEvents(database: Database, ids: number[]): Promise<number> {
  return runSerializable(
    database,
    async (trx) => {
      // The undelivered among them, subtracted here rather than by a NOT EXISTS: with the
      // statistics of a quiet moment (no undelivered rows), PostgreSQL plans that as a nested
      // loop rescanning every undelivered delivery once per event — 18 s per batch of 2,000
      // with 30,000 undelivered. This reads each undelivered delivery at most once.
      const undelivered = await trx
        .selectFrom("ca_delivery")
        .select("event_row_id")
        .where("event_row_id", "in", ids)
        .where("state", "<>", "delivered")
        .execute();
      const held = new Set(undelivered.map((row) => row.event_row_id));
      const done = ids.filter((id) => !held.has(id));
      if (done.length === 0) return 0;
      // Explicit order instead of ON DELETE CASCADE: SQLite only cascades with foreign_keys on.
      // The state test is repeated: an operator may redeliver one of them meanwhile.
      const deliveries = (eb: Trx) =>
        eb
          .selectFrom("ca_delivery")
          .select("id")
          .where("event_row_id", "in", done)
          .where("state", "=", "delivered");
      await trx.deleteFrom("ca_delivery_attempt").where("delivery_id", "in", deliveries(trx)).execute();
      await trx
        .deleteFrom("ca_delivery")
        .where("event_row_id", "in", done)
        .where("state", "=", "delivered")
        .execute();
      const result = await trx
        .deleteFrom("ca_event")
        .where("ca_event.id", "in", done)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom("ca_delivery as d").select("d.id").whereRef("d.event_row_id", "=", "ca_event.id"),
            ),
          ),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    // Rows nobody else writes (delivered is final but for redeliver, re-tested above): serializable
    // would only take predicate locks over the scans and abort concurrent ledger transactions.
    { isolation: "read committed" },
  );
}

export interface HandlerQueueCounts {
  handler: string;
  /** Every pending delivery, the failed ones included. */
  pending: number;
  failed: number;
  dead: number;
  delivered: number;
}

/** Every handler's counts, exact: a scan of every kept delivery (see deliveredCounts). */
export async function deliveryCounts(database: Database): Promise<HandlerQueueCounts[]> {
  return withDelivered(await undeliveredCounts(database), await deliveredCounts(database));
}

/**
 * Pending (failed among them) and dead deliveries per handler, delivered left at 0. Only
 * undelivered rows are read — on PostgreSQL and SQLite through the partial index
 * ca_delivery_open — so it costs the same with 10⁷ delivered events kept as with none.
 */
export async function undeliveredCounts(database: Database): Promise<HandlerQueueCounts[]> {
  const rows = await database.db
    .selectFrom("ca_delivery")
    .select(({ fn, eb }) => [
      "handler",
      "state",
      fn.countAll<number>().as("count"),
      fn.sum<number>(eb.case().when("attempts", ">", 0).then(1).else(0).end()).as("attempted"),
    ])
    .where("state", "<>", "delivered")
    .groupBy(["handler", "state"])
    .execute();
  const byHandler = new Map<string, HandlerQueueCounts>();
  for (const row of rows) {
    const counts = byHandler.get(row.handler) ?? emptyCounts(row.handler);
    counts[row.state] += Number(row.count);
    if (row.state === "pending") counts.failed += Number(row.attempted ?? 0);
    byHandler.set(row.handler, counts);
  }
  return [...byHandler.values()];
}

/**
 * Delivered deliveries kept, per handler. Reads every delivered row (no index holds only
 * those): seconds at 10⁷ rows, so the status page does not run it on every refresh
 * (service/delivered-counts.ts).
 */
export async function deliveredCounts(database: Database): Promise<Map<string, number>> {
  const rows = await database.db
    .selectFrom("ca_delivery")
    .select(({ fn }) => ["handler", fn.countAll<number>().as("count")])
    .where("state", "=", "delivered")
    .groupBy("handler")
    .execute();
  return new Map(rows.map((row) => [row.handler, Number(row.count)]));
}

/** The undelivered counts with each handler's delivered count, sorted by handler. */
export function withDelivered(
  undelivered: readonly HandlerQueueCounts[],
  delivered: ReadonlyMap<string, number>,
): HandlerQueueCounts[] {
  const byHandler = new Map(undelivered.map((counts) => [counts.handler, { ...counts }]));
  for (const [handler, count] of delivered) {
    const counts = byHandler.get(handler) ?? emptyCounts(handler);
    counts.delivered = count;
    byHandler.set(handler, counts);
  }
  return [...byHandler.values()].sort((a, b) => a.handler.localeCompare(b.handler));
}

function emptyCounts(handler: string): HandlerQueueCounts {
  return { handler, pending: 0, failed: 0, dead: 0, delivered: 0 };
}

export interface DeliverySummary {
  handler: string;
  state: DeliveryState;
  attempts: number;
  last_error: string | null;
  last_status: number | null;
  next_attempt_at: number;
  delivered_at: number | null;
}

export interface EventRow {
  event_id: string;
  event_name: string;
  created_at: number;
  /** The payload as JSON (amounts are decimal strings already). */
  data: Record<string, unknown>;
  deliveries: DeliverySummary[];
}

async function deliveriesOf(
  database: Database,
  eventRowIds: number[],
): Promise<Map<number, DeliverySummary[]>> {
  const byEvent = new Map<number, DeliverySummary[]>();
  if (eventRowIds.length === 0) return byEvent;
  const rows = await database.db
    .selectFrom("ca_delivery")
    .select([
      "event_row_id",
      "handler",
      "state",
      "attempts",
      "last_error",
      "last_status",
      "next_attempt_at",
      "delivered_at",
    ])
    .where("event_row_id", "in", eventRowIds)
    .orderBy("handler")
    .execute();
  for (const row of rows) {
    const list = byEvent.get(row.event_row_id) ?? [];
    const { event_row_id: _, ...summary } = row;
    list.push(summary);
    byEvent.set(row.event_row_id, list);
  }
  return byEvent;
}

function parsePayload(payload: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(payload);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function listRecentEvents(database: Database, limit = 25): Promise<EventRow[]> {
  const events = await database.db
    .selectFrom("ca_event")
    .select(["id", "event_id", "event_name", "created_at", "payload"])
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  const deliveries = await deliveriesOf(
    database,
    events.map((e) => e.id),
  );
  return events.map((e) => ({
    event_id: e.event_id,
    event_name: e.event_name,
    created_at: e.created_at,
    data: parsePayload(e.payload),
    deliveries: deliveries.get(e.id) ?? [],
  }));
}

export interface ProblemDeliveryRow extends DeliverySummary {
  event_id: string;
  event_name: string;
  data: Record<string, unknown>;
}

/** `failed`: pending after at least one failed attempt; `dead`: the schedule is exhausted. */
export async function listProblemDeliveries(
  database: Database,
  kind: "failed" | "dead",
  limit = 50,
): Promise<ProblemDeliveryRow[]> {
  const rows = await deliveriesIn(database, kind)
    .select([
      "e.event_id",
      "e.event_name",
      "e.payload",
      "d.handler",
      "d.state",
      "d.attempts",
      "d.last_error",
      "d.last_status",
      "d.next_attempt_at",
      "d.delivered_at",
    ])
    .orderBy("d.id")
    .limit(limit)
    .execute();
  return rows.map(({ payload, ...row }) => ({ ...row, data: parsePayload(payload) }));
}
