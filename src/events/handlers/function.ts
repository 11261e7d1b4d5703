/**
 * Calls a JavaScript function per event: the in-process handler once its module is loaded,
 * and library users who subscribe in code (`new FunctionEventHandler("audit", fn)`).
 * The function gets the original's arguments `(eventName, data)` plus the whole event as a
 * third argument, for its event_id (idempotency) and created_at.
 */

import { HANDLER_TIMEOUTS } from "../../config/defaults.js";
import { DeliveryFailedError, errorMessage, isDeliveryFailedError } from "../../errors.js";
import type { Subscription } from "../subscription.js";
import type { CryptoassetsEvent, EventDataByName, EventName } from "../types.js";
import { type DeliveryResult, type EventHandler, secondsToMs, withinDeadline } from "./handler.js";

export type EventCallback = <N extends EventName>(
  eventName: N,
  data: EventDataByName[N],
  event: CryptoassetsEvent<N>,
) => unknown;

export interface FunctionEventHandlerOptions {
  /**
   * Seconds after which a still-pending promise counts as a failed attempt (default 60).
   * The function itself cannot be cancelled; it keeps running, and the event is retried.
   */
  timeout?: number;
  /** Only these events (by name, coin, transaction type); default every event. */
  subscription?: Subscription;
}

export const DEFAULT_FUNCTION_TIMEOUT_SECONDS = HANDLER_TIMEOUTS.function;

export class FunctionEventHandler implements EventHandler {
  readonly kind = "function" as const;
  readonly timeoutMs: number;
  readonly subscription: Subscription | undefined;

  constructor(
    readonly name: string,
    private readonly fn: EventCallback,
    options: FunctionEventHandlerOptions = {},
  ) {
    this.subscription = options.subscription;
    this.timeoutMs = secondsToMs(
      options.timeout ?? DEFAULT_FUNCTION_TIMEOUT_SECONDS,
      `events.${name}.timeout`,
    );
  }

  deliver(event: CryptoassetsEvent): Promise<DeliveryResult> {
    return callWithTimeout(this.fn, event, this.timeoutMs, "function");
  }

  async close(): Promise<void> {}
}

/** Calls fn(eventName, data, event); a throw, a rejection or a timeout is a failed attempt. */
export async function callWithTimeout(
  fn: EventCallback,
  event: CryptoassetsEvent,
  timeoutMs: number,
  what: string,
): Promise<DeliveryResult> {
  const started = performance.now();
  try {
    // Promise.resolve().then turns a synchronous throw into a rejection like any other.
    await withinDeadline(
      timeoutMs,
      what,
      Promise.resolve().then(() => fn(event.event_name, event.data, event)),
    );
    return { durationMs: performance.now() - started };
  } catch (error) {
    if (isDeliveryFailedError(error)) throw error;
    const message = errorMessage(error);
    throw new DeliveryFailedError(`${what} failed: ${message}`, { code: "ECALLBACK", cause: error });
  }
}
