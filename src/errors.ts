/**
 * Every error class of cryptoassets-core, in one place. Each has a stable `code`
 * (`CA_ERR_…`, as fastify's `FST_ERR_…`): branch on the class or the code, never on
 * message text. An error that wraps another keeps it as `cause`, so a log line with
 * `{ err }` shows both stacks.
 */

/** The message of anything thrown: an Error's message, or the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Root of every error this library throws. */
export class CryptoassetsError extends Error {
  override name = "CryptoassetsError";
  readonly code: string = "CA_ERR";
}

// --- amounts, addresses, coins -------------------------------------------------------

export class InvalidAmountError extends CryptoassetsError {
  override name = "InvalidAmountError";
  override readonly code: string = "CA_ERR_INVALID_AMOUNT";
}

/** A send below the coin's dust limit (`coins.<name>.dust_limit`): the daemon would refuse its output. */
export class AmountBelowDustError extends InvalidAmountError {
  override name = "AmountBelowDustError";
  override readonly code: string = "CA_ERR_AMOUNT_BELOW_DUST";
}

export class InvalidAddressError extends CryptoassetsError {
  override name = "InvalidAddressError";
  override readonly code: string = "CA_ERR_INVALID_ADDRESS";
}

export class UnknownCoinError extends CryptoassetsError {
  override name = "UnknownCoinError";
  override readonly code: string = "CA_ERR_UNKNOWN_COIN";
}

// --- configuration and database ------------------------------------------------------

/** A configuration problem; the message names every bad key path, one per line. */
export class ConfigError extends CryptoassetsError {
  override name = "ConfigError";
  override readonly code: string = "CA_ERR_CONFIG";
}

export class DatabaseUrlError extends CryptoassetsError {
  override name = "DatabaseUrlError";
  override readonly code: string = "CA_ERR_DATABASE_URL";
}

export class MigrationError extends CryptoassetsError {
  override name = "MigrationError";
  override readonly code: string = "CA_ERR_MIGRATION";
}

/** A serializable unit of work kept conflicting; the last conflict is the `cause`. */
export class TransactionRetryExhaustedError extends CryptoassetsError {
  override name = "TransactionRetryExhaustedError";
  override readonly code: string = "CA_ERR_TRANSACTION_RETRY_EXHAUSTED";
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(
      `database transaction still conflicting after ${attempts} attempts; last error: ${errorMessage(lastError)}`,
      {
        cause: lastError,
      },
    );
  }
}

// --- ledger: each names what is wrong so an application can show or log it as is ------

export class NotEnoughBalanceError extends CryptoassetsError {
  override name = "NotEnoughBalanceError";
  override readonly code: string = "CA_ERR_NOT_ENOUGH_BALANCE";
}

export class SameAccountError extends CryptoassetsError {
  override name = "SameAccountError";
  override readonly code: string = "CA_ERR_SAME_ACCOUNT";
}

export class UnknownAccountError extends CryptoassetsError {
  override name = "UnknownAccountError";
  override readonly code: string = "CA_ERR_UNKNOWN_ACCOUNT";
}

export class UnknownTransactionError extends CryptoassetsError {
  override name = "UnknownTransactionError";
  override readonly code: string = "CA_ERR_UNKNOWN_TRANSACTION";
}

export class LedgerStateError extends CryptoassetsError {
  override name = "LedgerStateError";
  override readonly code: string = "CA_ERR_LEDGER_STATE";
}

/** The ledger owes more than the daemon's wallet holds (reconcile, import-balance). */
export class LedgerExceedsDaemonError extends CryptoassetsError {
  override name = "LedgerExceedsDaemonError";
  override readonly code: string = "CA_ERR_LEDGER_EXCEEDS_DAEMON";
}

/** import-balance cannot tell safely what is unaccounted now (says why and what to do). */
export class BalanceImportRefusedError extends CryptoassetsError {
  override name = "BalanceImportRefusedError";
  override readonly code: string = "CA_ERR_BALANCE_IMPORT_REFUSED";
}

// --- backends ------------------------------------------------------------------------
// Callers branch on the class: the chain follower treats TransactionNotFoundError as "not
// ours, ignore", the broadcaster treats InsufficientFundsError as an operator problem, and
// every RpcTransportError as "the daemon is unreachable right now, try again later".
// Messages name the daemon by its masked URL (`http://user:***@host:port/`).

/** Base class of every backend failure. */
export class BackendError extends CryptoassetsError {
  override name = "BackendError";
  override readonly code: string = "CA_ERR_BACKEND";
}

/** The daemon answered with a JSON-RPC error object (`{"code": -6, "message": "Insufficient funds"}`). */
export class RpcError extends BackendError {
  override name = "RpcError";
  override readonly code: string = "CA_ERR_RPC";
  constructor(
    /** bitcoind's numeric error code (src/rpc/protocol.h). */
    readonly rpcCode: number,
    /** The daemon's message, without control characters (one line, at most 1000 characters). */
    readonly rpcMessage: string,
    /** The RPC method that failed. */
    readonly method: string,
  ) {
    super(`${method}: ${rpcMessage} (code ${rpcCode})`);
  }
}

/** -5 RPC_INVALID_ADDRESS_OR_KEY: a bad address, key or transaction id. */
export class InvalidAddressOrKeyError extends RpcError {
  override name = "InvalidAddressOrKeyError";
  override readonly code: string = "CA_ERR_RPC_INVALID_ADDRESS_OR_KEY";
}

/** -5 from `gettransaction`: "Invalid or non-wallet transaction id" — the txid is not in this wallet. */
export class TransactionNotFoundError extends InvalidAddressOrKeyError {
  override name = "TransactionNotFoundError";
  override readonly code: string = "CA_ERR_RPC_TRANSACTION_NOT_FOUND";
}

/** -6 RPC_WALLET_INSUFFICIENT_FUNDS. */
export class InsufficientFundsError extends RpcError {
  override name = "InsufficientFundsError";
  override readonly code: string = "CA_ERR_RPC_INSUFFICIENT_FUNDS";
}

/** -8 RPC_INVALID_PARAMETER (e.g. a txid that is not 64 hex digits). */
export class InvalidParameterError extends RpcError {
  override name = "InvalidParameterError";
  override readonly code: string = "CA_ERR_RPC_INVALID_PARAMETER";
}

/** -18 RPC_WALLET_NOT_FOUND: the `/wallet/<name>` of the URL is not loaded in the daemon. */
export class WalletNotFoundError extends RpcError {
  override name = "WalletNotFoundError";
  override readonly code: string = "CA_ERR_RPC_WALLET_NOT_FOUND";
}

/** -19 RPC_WALLET_NOT_SPECIFIED: several wallets are loaded and the URL names none. */
export class WalletNotSpecifiedError extends RpcError {
  override name = "WalletNotSpecifiedError";
  override readonly code: string = "CA_ERR_RPC_WALLET_NOT_SPECIFIED";
}

/** -28 RPC_IN_WARMUP: the daemon is starting (loading the block index or wallets); retry later. */
export class DaemonWarmingUpError extends RpcError {
  override name = "DaemonWarmingUpError";
  override readonly code: string = "CA_ERR_RPC_IN_WARMUP";
}

/** -32601: the daemon has no such method (another coin's fork, or wallet support disabled). */
export class MethodNotFoundError extends RpcError {
  override name = "MethodNotFoundError";
  override readonly code: string = "CA_ERR_RPC_METHOD_NOT_FOUND";
}

/**
 * Why a request got no JSON-RPC answer:
 * - `refused`: nothing listens at the host and port;
 * - `timeout`: no complete answer within the call's timeout;
 * - `unauthorized`: HTTP 401, the user name or password is wrong;
 * - `http-status`: another HTTP status without a JSON-RPC error body (403 rpcallowip, 500 from a proxy…);
 * - `invalid-response`: a body that is not a JSON-RPC reply (garbage, HTML, truncated JSON);
 * - `network`: any other socket failure (reset, DNS, TLS).
 */
export type RpcTransportFailure =
  | "refused"
  | "timeout"
  | "unauthorized"
  | "http-status"
  | "invalid-response"
  | "network";

/** The request did not produce a JSON-RPC reply at all. Usually transient: retry later. */
export class RpcTransportError extends BackendError {
  override name = "RpcTransportError";
  override readonly code: string = "CA_ERR_RPC_TRANSPORT";
  constructor(
    readonly failure: RpcTransportFailure,
    message: string,
    /** The daemon's URL with the password masked. */
    readonly url: string,
    /** HTTP status, when a response arrived. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A daemon reply grew past the configured reply size limit. The client stops reading at the
 * limit (nothing beyond it is buffered): raise the limit with the config key named, or make
 * the request smaller.
 */
export class RpcReplyTooLargeError extends BackendError {
  override name = "RpcReplyTooLargeError";
  override readonly code: string = "CA_ERR_RPC_REPLY_TOO_LARGE";
  constructor(
    /** The method (or "batch of n (…)") whose reply was cut. */
    readonly method: string,
    readonly limitBytes: number,
    /** The config key that sets the limit, e.g. coins.btc.backend.max_reply_mb. */
    readonly configKey: string,
    /** The daemon's URL with the password masked. */
    readonly url: string,
  ) {
    super(
      `${method}: the reply of bitcoind at ${url} exceeds the reply size limit of ${limitBytes} bytes (${(limitBytes / 1048576).toFixed(2)} MiB); reading stopped there. Raise ${configKey} if such replies are expected`,
    );
  }
}

/** The daemon's reply was JSON-RPC but not the shape the method promises (missing field, float amount). */
export class UnexpectedResponseError extends BackendError {
  override name = "UnexpectedResponseError";
  override readonly code: string = "CA_ERR_UNEXPECTED_RESPONSE";
}

/** The backend cannot do this at all (the null backend cannot send). */
export class UnsupportedOperationError extends BackendError {
  override name = "UnsupportedOperationError";
  override readonly code: string = "CA_ERR_UNSUPPORTED_OPERATION";
}

// --- walletnotify / blocknotify listeners --------------------------------------------

/** A notification carried something that is not a txid / block hash (64 hex characters). */
export class InvalidNotifyValueError extends CryptoassetsError {
  override name = "InvalidNotifyValueError";
  override readonly code: string = "CA_ERR_INVALID_NOTIFY_VALUE";
}

/** A listener could not start (port taken, FIFO path unusable, Redis unreachable …). */
export class NotifyListenerStartError extends CryptoassetsError {
  override name = "NotifyListenerStartError";
  override readonly code: string = "CA_ERR_NOTIFY_LISTENER_START";
}

/** Listener options or queue options that cannot work (bad port, zero concurrency …). */
export class NotifyConfigError extends CryptoassetsError {
  override name = "NotifyConfigError";
  override readonly code: string = "CA_ERR_NOTIFY_CONFIG";
}

// --- chain following and broadcasting ------------------------------------------------

/** Chain-following options that cannot work (a zero period, a bad batch size…). */
export class ChainConfigError extends CryptoassetsError {
  override name = "ChainConfigError";
  override readonly code: string = "CA_ERR_CHAIN_CONFIG";
}

/** The follower or broadcaster was used after stop()/close(). */
export class ChainStoppedError extends CryptoassetsError {
  override name = "ChainStoppedError";
  override readonly code: string = "CA_ERR_CHAIN_STOPPED";
}

/** The daemon runs another chain than the configured network: the service must not run. */
export class NetworkMismatchError extends CryptoassetsError {
  override name = "NetworkMismatchError";
  override readonly code: string = "CA_ERR_NETWORK_MISMATCH";
}

// --- events --------------------------------------------------------------------------

export interface DeliveryFailure {
  /** The HTTP status the receiver answered with, when it answered at all. */
  httpStatus?: number;
  /** The exit code of a script. */
  exitCode?: number;
  /** A machine-readable cause: a Node error code (`ECONNREFUSED`), `ETIMEDOUT`, `HTTP_STATUS`, … */
  code?: string;
  cause?: unknown;
}

/**
 * A failed delivery attempt. The dispatcher records the message and retries later. Its
 * `code` is the failure's own (`ECONNREFUSED`, `ETIMEDOUT`, `HTTP_STATUS`…) when it has one.
 */
export class DeliveryFailedError extends CryptoassetsError {
  override name = "DeliveryFailedError";
  override readonly code: string = "CA_ERR_DELIVERY_FAILED";
  readonly httpStatus?: number;
  readonly exitCode?: number;

  constructor(message: string, failure: DeliveryFailure = {}) {
    super(message, failure.cause === undefined ? undefined : { cause: failure.cause });
    if (failure.httpStatus !== undefined) this.httpStatus = failure.httpStatus;
    if (failure.exitCode !== undefined) this.exitCode = failure.exitCode;
    if (failure.code !== undefined) this.code = failure.code;
  }
}

/**
 * Marks a DeliveryFailedError of any copy of this library. An application's in-process
 * callback imports the package (dist/index.js) while the CLI runs its own bundle, so the
 * class it throws is not the class the dispatcher holds and `instanceof` alone says no.
 */
const DELIVERY_FAILED = Symbol.for("cryptoassets.DeliveryFailedError");
Object.defineProperty(DeliveryFailedError.prototype, DELIVERY_FAILED, { value: true });

/** A DeliveryFailedError from this copy of the library or another (see DELIVERY_FAILED). */
export function isDeliveryFailedError(error: unknown): error is DeliveryFailedError {
  return (
    error instanceof DeliveryFailedError ||
    (typeof error === "object" && error !== null && DELIVERY_FAILED in error)
  );
}

/** A script handler's run failed: non-zero exit, killed, timed out or could not start. */
export class ScriptNotificationFailedError extends DeliveryFailedError {
  override name = "ScriptNotificationFailed";
  /** The tail of what the script wrote to stderr. */
  readonly stderr: string;

  constructor(message: string, details: { exitCode?: number; code?: string; stderr: string }) {
    super(message, {
      ...(details.exitCode !== undefined ? { exitCode: details.exitCode } : {}),
      ...(details.code !== undefined ? { code: details.code } : {}),
    });
    this.stderr = details.stderr;
  }
}
/** The original cryptoassets.core name, kept for applications that catch it. */
export const ScriptNotificationFailed = ScriptNotificationFailedError;
export type ScriptNotificationFailed = ScriptNotificationFailedError;

/** The handler configuration itself is wrong (not retryable by waiting): a bad secret, URL or callback. */
export class EventHandlerConfigError extends CryptoassetsError {
  override name = "EventHandlerConfigError";
  override readonly code: string = "CA_ERR_EVENT_HANDLER_CONFIG";
}

/** The pull feed's `after` names no event in the outbox (unknown, or purged by retention). */
export class EventFeedCursorError extends CryptoassetsError {
  override name = "EventFeedCursorError";
  override readonly code: string = "CA_ERR_EVENT_FEED_CURSOR";
}

/** A webhook secret that cannot be used as an HMAC key. */
export class InvalidWebhookSecretError extends CryptoassetsError {
  override name = "InvalidWebhookSecretError";
  override readonly code: string = "CA_ERR_INVALID_WEBHOOK_SECRET";
}

/** Why verifyWebhook refused a request. */
export type WebhookVerificationReason =
  | "missing_header"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "bad_signature"
  | "invalid_body";

/** The request is not an authentic, fresh, well-formed delivery: answer 4xx and ignore it. */
export class WebhookVerificationError extends CryptoassetsError {
  override name = "WebhookVerificationError";
  override readonly code: string = "CA_ERR_WEBHOOK_VERIFICATION";
  constructor(
    readonly reason: WebhookVerificationReason,
    message: string,
  ) {
    super(message);
  }
}

// --- the helper service: what stopped it, named so an operator knows where to look ----

export class ServiceError extends CryptoassetsError {
  override name = "ServiceError";
  override readonly code: string = "CA_ERR_SERVICE";
}

/** A subsystem (listener, follower, dispatcher, status server…) died while the service ran: exit 2. */
export class SubsystemFailedError extends ServiceError {
  override name = "SubsystemFailedError";
  override readonly code: string = "CA_ERR_SUBSYSTEM_FAILED";
  constructor(
    readonly subsystem: string,
    readonly reason: unknown,
  ) {
    super(`subsystem ${subsystem} failed: ${errorMessage(reason)}`, { cause: reason });
  }
}

/** The status server could not start or a request to it was invalid. */
export class StatusServerError extends ServiceError {
  override name = "StatusServerError";
  override readonly code: string = "CA_ERR_STATUS_SERVER";
}
