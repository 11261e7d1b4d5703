/**
 * The one interface the dispatcher calls every handler through. A handler delivers one
 * event per call and either resolves (the application accepted it) or throws
 * `DeliveryFailedError`; the dispatcher records the attempt and retries on its schedule,
 * so handlers never retry by themselves (one exception: a stale keep-alive socket, see http.ts).
 */

import { DeliveryFailedError, EventHandlerConfigError } from "../../errors.js";
import type { Subscription } from "../subscription.js";
import type { CryptoassetsEvent } from "../types.js";

export type EventHandlerKind =
  | "http"
  | "script"
  | "in-process"
  | "function"
  | "redis-stream"
  | "amqp"
  | "nats";

/** What a successful delivery tells the dispatcher, for the attempt record. */
export interface DeliveryResult {
  httpStatus?: number;
  durationMs: number;
  detail?: string;
}

export interface EventHandler {
  /** The configured name (`events.<name>`): used in logs and delivery records. */
  readonly name: string;
  readonly kind: EventHandlerKind;
  /** Longest one delivery may take; the dispatcher leases a claimed delivery for this plus a margin. */
  readonly timeoutMs: number;
  /**
   * Handlers subscribed in code may take a subset of events (see ../subscription); configured
   * ones get theirs from `events.<name>.subscribe`. Absent: every event.
   */
  readonly subscription?: Subscription;
  /**
   * Values this handler sends that must never be stored, shown or logged (configured header
   * values, URL passwords and tokens): masked in the error text of its attempts, where a
   * receiver or broker may echo them back.
   */
  readonly redactions?: readonly string[];
  deliver(event: CryptoassetsEvent): Promise<DeliveryResult>;
  /** Releases sockets, timers and the like; the handler is unusable afterwards. */
  close(): Promise<void>;
}

/** Timeouts are configured in seconds (like the original); fractions are allowed. */
export function secondsToMs(seconds: number, what: string): number {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new EventHandlerConfigError(`${what} must be a positive number of seconds, got ${seconds}`);
  }
  return Math.round(seconds * 1000);
}

/**
 * `work`, or a `DeliveryFailedError` (code ETIMEDOUT) saying `<what> did not settle within N s`
 * once `timeoutMs` has passed. The work itself goes on; its outcome is ignored.
 */
export async function withinDeadline<T>(timeoutMs: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DeliveryFailedError(`${what} did not settle within ${timeoutMs / 1000} s`, {
            code: "ETIMEDOUT",
          }),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
