/**
 * Records what delivery attempts did, a batch at a time: for each, an attempt row (history
 * for operators) and the delivery's new state — delivered, retried later by the schedule, or
 * dead when the schedule is exhausted. The lease is released either way.
 *
 * One statement per batch on PostgreSQL (the attempts inserted and the deliveries updated
 * from one unnest()), one multi-row INSERT and one CASE UPDATE in one transaction elsewhere:
 * the dispatcher writes every outcome that finished meanwhile together, not a transaction
 * per delivery. A batch lost to a crash before it is written only means those deliveries
 * are delivered again once their lease expires (at-least-once, same event_id).
 */
import { sql } from "kysely";
import type { Database } from "../../db/open.js";
import type { DeliveryState } from "../../db/schema.js";
import { runSerializable } from "../../db/serializable.js";
import { cleanExternalText } from "../../redact/external-text.js";
import { nextAttemptAt } from "../retry-schedule.js";

export interface AttemptOutcome {
  ok: boolean;
  durationMs: number;
  httpStatus?: number;
  exitCode?: number;
  error?: string;
}

export type DeliveryTransition = "delivered" | "retry" | "dead";

export const MAX_ERROR_TEXT = 2000;

export interface FinishedAttempt {
  deliveryId: number;
  /** Attempts before this one. */
  attemptsBefore: number;
  outcome: AttemptOutcome;
}

/** Outcomes per statement: 13 bound values each on SQLite/MariaDB, well under their limits. */
const MAX_BATCH = 500;

/** One row's new values, computed once for every engine. */
interface OutcomeRow {
  id: number;
  attempts: number;
  state: DeliveryState;
  next_attempt_at: number;
  error: string | null;
  status: number | null;
  delivered_at: number | null;
  outcome: "delivered" | "failed";
  http_status: number | null;
  exit_code: number | null;
  duration_ms: number;
}

function outcomeRow(attempt: FinishedAttempt, schedule: readonly number[], now: number): OutcomeRow {
  const { outcome } = attempt;
  const attempts = attempt.attemptsBefore + 1;
  // The dispatcher masks the handler's secrets; here nothing with a control character is stored whoever calls.
  const error =
    outcome.ok || outcome.error === undefined
      ? null
      : cleanExternalText(outcome.error, { maxChars: MAX_ERROR_TEXT });
  const next = outcome.ok ? null : nextAttemptAt(attempts, schedule, new Date(now));
  return {
    id: attempt.deliveryId,
    attempts,
    state: outcome.ok ? "delivered" : next ? "pending" : "dead",
    next_attempt_at: next ? next.getTime() : now,
    error,
    status: outcome.httpStatus ?? outcome.exitCode ?? null,
    delivered_at: outcome.ok ? now : null,
    outcome: outcome.ok ? "delivered" : "failed",
    http_status: outcome.httpStatus ?? null,
    exit_code: outcome.exitCode ?? null,
    duration_ms: Math.round(outcome.durationMs),
  };
}

function transitionOf(row: Pick<OutcomeRow, "state">): DeliveryTransition {
  return row.state === "delivered" ? "delivered" : row.state === "dead" ? "dead" : "retry";
}

/** Writes the attempts' outcomes; returns each one's transition, in the order given. */
export async function recordOutcomes(
  database: Database,
  attempts: readonly FinishedAttempt[],
  retrySchedule: readonly number[],
  now: number = Date.now(),
): Promise<DeliveryTransition[]> {
  const rows = attempts.map((a) => outcomeRow(a, retrySchedule, now));
  // Sorted by id: two writers touching the same rows (after a lease expired) lock them in one order.
  const sorted = [...rows].sort((a, b) => a.id - b.id);
  for (let i = 0; i < sorted.length; i += MAX_BATCH) {
    const chunk = sorted.slice(i, i + MAX_BATCH);
    if (database.engine === "postgres") await writePostgres(database, chunk, now);
    else await writeOthers(database, chunk, now);
  }
  return rows.map(transitionOf);
}

async function writePostgres(database: Database, rows: readonly OutcomeRow[], now: number): Promise<void> {
  const column = <K extends keyof OutcomeRow>(key: K) => rows.map((r) => r[key]);
  await sql`
    with o as (
      select * from unnest(
        ${column("id")}::int4[], ${column("attempts")}::int4[], ${column("state")}::text[],
        ${column("next_attempt_at")}::int8[], ${column("error")}::text[], ${column("status")}::int4[],
        ${column("delivered_at")}::int8[], ${column("outcome")}::text[], ${column("http_status")}::int4[],
        ${column("exit_code")}::int4[], ${column("duration_ms")}::int4[]
      ) as o(id, attempts, state, next_attempt_at, error, status, delivered_at, outcome, http_status,
        exit_code, duration_ms)
    ), history as (
      insert into ca_delivery_attempt
        (delivery_id, attempted_at, outcome, http_status, exit_code, error, duration_ms)
      select id, ${now}, outcome, http_status, exit_code, error, duration_ms from o
    )
    update ca_delivery d set state = o.state, attempts = o.attempts,
      next_attempt_at = o.next_attempt_at, claimed_by = null, claimed_until = null,
      last_error = o.error, last_status = o.status, delivered_at = o.delivered_at
    from o where d.id = o.id`.execute(database.db);
}

async function writeOthers(database: Database, rows: readonly OutcomeRow[], now: number): Promise<void> {
  const caseOf = (key: keyof OutcomeRow) =>
    sql`case id ${sql.join(
      rows.map((r) => sql`when ${r.id} then ${r[key]}`),
      sql` `,
    )} end`;
  await runSerializable(
    database,
    async (trx) => {
      await trx
        .insertInto("ca_delivery_attempt")
        .values(
          rows.map((r) => ({
            delivery_id: r.id,
            attempted_at: now,
            outcome: r.outcome,
            http_status: r.http_status,
            exit_code: r.exit_code,
            error: r.error,
            duration_ms: r.duration_ms,
          })),
        )
        .execute();
      await sql`update ca_delivery set state = ${caseOf("state")}, attempts = ${caseOf("attempts")},
        next_attempt_at = ${caseOf("next_attempt_at")}, claimed_by = null, claimed_until = null,
        last_error = ${caseOf("error")}, last_status = ${caseOf("status")},
        delivered_at = ${caseOf("delivered_at")}
        where id in (${sql.join(rows.map((r) => r.id))})`.execute(trx);
    },
    // Bookkeeping on rows this dispatcher leased, by primary key: serializable would only add conflicts.
    { isolation: "read committed" },
  );
}
