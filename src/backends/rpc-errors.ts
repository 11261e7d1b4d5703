/**
 * Bitcoin Core's JSON-RPC error codes that get their own class (src/errors.ts), and the
 * mapping from a reply's error object to that class.
 */
import {
  DaemonWarmingUpError,
  InsufficientFundsError,
  InvalidAddressOrKeyError,
  InvalidParameterError,
  MethodNotFoundError,
  RpcError,
  TransactionNotFoundError,
  WalletNotFoundError,
  WalletNotSpecifiedError,
} from "../errors.js";
import { cleanExternalText } from "../redact/external-text.js";

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
export function rpcErrorFor(code: number, daemonMessage: string, method: string): RpcError {
  // The daemon's words reach the status pages, the log and the operator's terminal.
  const message = cleanExternalText(daemonMessage, { maxChars: 1000 });
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
