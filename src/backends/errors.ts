/**
 * Errors a backend raises. Callers branch on the class, never on message text: the chain
 * follower treats TransactionNotFoundError as "not ours, ignore", the broadcaster treats
 * InsufficientFundsError as an operator problem, and every RpcTransportError as "the daemon
 * is unreachable right now, try again later".
 *
 * Messages name the daemon by its masked URL (`http://user:***@host:port/`): an error
 * message ends up in logs and on the status page, where a password must never appear.
 */
import { CryptoassetsError } from "../coins/errors.js";

/** Base class of every backend failure. */
export class BackendError extends CryptoassetsError {
  override name = "BackendError";
}

/** The daemon answered with a JSON-RPC error object (`{"code": -6, "message": "Insufficient funds"}`). */
export class RpcError extends BackendError {
  override name = "RpcError";
  constructor(
    /** bitcoind's numeric error code (src/rpc/protocol.h). */
    readonly code: number,
    /** The daemon's message, verbatim. */
    readonly rpcMessage: string,
    /** The RPC method that failed. */
    readonly method: string,
  ) {
    super(`${method}: ${rpcMessage} (code ${code})`);
  }
}

/** -5 RPC_INVALID_ADDRESS_OR_KEY: a bad address, key or transaction id. */
export class InvalidAddressOrKeyError extends RpcError {
  override name = "InvalidAddressOrKeyError";
}

/** -5 from `gettransaction`: "Invalid or non-wallet transaction id" — the txid is not in this wallet. */
export class TransactionNotFoundError extends InvalidAddressOrKeyError {
  override name = "TransactionNotFoundError";
}

/** -6 RPC_WALLET_INSUFFICIENT_FUNDS. */
export class InsufficientFundsError extends RpcError {
  override name = "InsufficientFundsError";
}

/** -8 RPC_INVALID_PARAMETER (e.g. a txid that is not 64 hex digits). */
export class InvalidParameterError extends RpcError {
  override name = "InvalidParameterError";
}

/** -18 RPC_WALLET_NOT_FOUND: the `/wallet/<name>` of the URL is not loaded in the daemon. */
export class WalletNotFoundError extends RpcError {
  override name = "WalletNotFoundError";
}

/** -19 RPC_WALLET_NOT_SPECIFIED: several wallets are loaded and the URL names none. */
export class WalletNotSpecifiedError extends RpcError {
  override name = "WalletNotSpecifiedError";
}

/** -28 RPC_IN_WARMUP: the daemon is starting (loading the block index or wallets); retry later. */
export class DaemonWarmingUpError extends RpcError {
  override name = "DaemonWarmingUpError";
}

/** -32601: the daemon has no such method (another coin's fork, or wallet support disabled). */
export class MethodNotFoundError extends RpcError {
  override name = "MethodNotFoundError";
}

/** The JSON-RPC error code names of Bitcoin Core that get their own class. */
export const RpcErrorCode = {
  INVALID_ADDRESS_OR_KEY: -5,
  WALLET_INSUFFICIENT_FUNDS: -6,
  INVALID_PARAMETER: -8,
  WALLET_NOT_FOUND: -18,
  WALLET_NOT_SPECIFIED: -19,
  IN_WARMUP: -28,
  METHOD_NOT_FOUND: -32601,
} as const;

/** The typed error for a JSON-RPC error object the daemon returned for `method`. */
export function rpcErrorFor(code: number, message: string, method: string): RpcError {
  switch (code) {
    case RpcErrorCode.INVALID_ADDRESS_OR_KEY:
      // -5 covers addresses, keys and txids alike; only a txid lookup means "not in this wallet".
      if (method === "gettransaction" || /transaction id/i.test(message)) {
        return new TransactionNotFoundError(code, message, method);
      }
      return new InvalidAddressOrKeyError(code, message, method);
    case RpcErrorCode.WALLET_INSUFFICIENT_FUNDS:
      return new InsufficientFundsError(code, message, method);
    case RpcErrorCode.INVALID_PARAMETER:
      return new InvalidParameterError(code, message, method);
    case RpcErrorCode.WALLET_NOT_FOUND:
      return new WalletNotFoundError(code, message, method);
    case RpcErrorCode.WALLET_NOT_SPECIFIED:
      return new WalletNotSpecifiedError(code, message, method);
    case RpcErrorCode.IN_WARMUP:
      return new DaemonWarmingUpError(code, message, method);
    case RpcErrorCode.METHOD_NOT_FOUND:
      return new MethodNotFoundError(code, message, method);
    default:
      return new RpcError(code, message, method);
  }
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
  constructor(
    readonly failure: RpcTransportFailure,
    message: string,
    /** The daemon's URL with the password masked. */
    readonly url: string,
    /** HTTP status, when a response arrived. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The daemon's reply was JSON-RPC but not the shape the method promises (missing field, float amount). */
export class UnexpectedResponseError extends BackendError {
  override name = "UnexpectedResponseError";
}

/** The backend cannot do this at all (the null backend cannot send). */
export class UnsupportedOperationError extends BackendError {
  override name = "UnsupportedOperationError";
}
