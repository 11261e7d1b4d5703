/**
 * Hands a value to the user's callback without letting the callback's failure take the
 * transport down: a throw or a rejected promise is logged with the value and swallowed.
 */
import type { Logger } from "../log.js";
import type { NotifyCallback } from "./listener.js";

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
