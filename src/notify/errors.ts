/** Errors raised by the walletnotify / blocknotify listeners and the coalescing queue. */
import { CryptoassetsError } from "../coins/errors.js";

/** A notification carried something that is not a txid / block hash (64 hex characters). */
export class InvalidNotifyValueError extends CryptoassetsError {
  override name = "InvalidNotifyValueError";
}

/** A listener could not start (port taken, FIFO path unusable, Redis unreachable …). */
export class NotifyListenerStartError extends CryptoassetsError {
  override name = "NotifyListenerStartError";
}

/** Listener options or queue options that cannot work (bad port, zero concurrency …). */
export class NotifyConfigError extends CryptoassetsError {
  override name = "NotifyConfigError";
}
