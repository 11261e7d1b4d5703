/** Errors of the helper service: what stopped it, named so an operator knows where to look. */
import { CryptoassetsError } from "../coins/errors.js";

export class ServiceError extends CryptoassetsError {
  override name = "ServiceError";
}

/** A subsystem (listener, follower, dispatcher, status server…) died while the service ran: exit 2. */
export class SubsystemFailedError extends ServiceError {
  override name = "SubsystemFailedError";
  constructor(
    readonly subsystem: string,
    readonly reason: unknown,
  ) {
    super(`subsystem ${subsystem} failed: ${reason instanceof Error ? reason.message : String(reason)}`);
  }
}

/** The status server could not start or a request to it was invalid. */
export class StatusServerError extends ServiceError {
  override name = "StatusServerError";
}
