/**
 * Records what one delivery attempt did, in one transaction: the attempt row (history for
 * operators) and the delivery's new state — delivered, retried later by the schedule, or
 * dead when the schedule is exhausted. The lease is released either way.
 */
import type { Database } from "../../db/open.js";
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

export async function recordOutcome(
  database: Database,
  deliveryId: number,
  attemptsBefore: number,
  outcome: AttemptOutcome,
  retrySchedule: readonly number[],
  now: number = Date.now(),
): Promise<DeliveryTransition> {
  const attempts = attemptsBefore + 1;
  // The dispatcher masks the handler's secrets; here nothing with a control character is stored whoever calls.
  const error =
    outcome.error === undefined ? null : cleanExternalText(outcome.error, { maxChars: MAX_ERROR_TEXT });
  const next = outcome.ok ? null : nextAttemptAt(attempts, retrySchedule, new Date(now));
  const transition: DeliveryTransition = outcome.ok ? "delivered" : next ? "retry" : "dead";
  await runSerializable(
    database,
    async (trx) => {
      await trx
        .insertInto("ca_delivery_attempt")
        .values({
          delivery_id: deliveryId,
          attempted_at: now,
          outcome: outcome.ok ? "delivered" : "failed",
          http_status: outcome.httpStatus ?? null,
          exit_code: outcome.exitCode ?? null,
          error,
          duration_ms: Math.round(outcome.durationMs),
        })
        .execute();
      await trx
        .updateTable("ca_delivery")
        .set({
          state: transition === "delivered" ? "delivered" : transition === "dead" ? "dead" : "pending",
          attempts,
          next_attempt_at: next ? next.getTime() : now,
          claimed_by: null,
          claimed_until: null,
          last_error: outcome.ok ? null : error,
          last_status: outcome.httpStatus ?? outcome.exitCode ?? null,
          delivered_at: outcome.ok ? now : null,
        })
        .where("id", "=", deliveryId)
        .execute();
    },
    { isolation: "read committed" },
  );
  return transition;
}
