/**
 * Hands a value to the user's callback without letting the callback's failure take the
 * transport down: a throw or a rejected promise is logged with the value and swallowed.
 */
import { InvalidNotifyValueError } from "../errors.js";
import type { Logger } from "../log.js";
import type { NotifyCallback } from "./listener.js";
import { normalizeNotifyValue } from "./value.js";

/**
 * A raw value as a line or message carried it: normalized and handed on, or skipped with a
 * warning saying `skipped` (one bad line must not stop a stream of good ones).
 */
export function deliverRawNotifyValue(
  onValue: NotifyCallback,
  raw: string,
  logger: Logger,
  skipped: string,
): void {
  let value: string;
  try {
    value = normalizeNotifyValue(raw);
  } catch (err) {
    if (!(err instanceof InvalidNotifyValueError)) throw err;
    logger.warn({ err }, skipped);
    return;
  }
  logger.debug({ value }, "notification received");
  deliverNotifyValue(onValue, value, logger);
}

/** Returns false when the callback threw synchronously (the value was not accepted). */
export function deliverNotifyValue(onValue: NotifyCallback, value: string, logger: Logger): boolean {
  try {
    const result = onValue(value);
    if (result !== undefined && typeof result.then === "function") {
      result.then(undefined, (err: unknown) => {
        logger.error({ err, value }, "notification callback failed");
      });
    }
    return true;
  } catch (err) {
    logger.error({ err, value }, "notification callback failed");
    return false;
  }
}
