import { CryptoassetsError } from "../errors.js";
/**
 * JSON-RPC errors with bitcoind's numeric codes and messages (src/rpc/protocol.h), so a
 * client written against a real daemon sees the same failures from the simulator.
 */

export const RpcCode = {
  MISC_ERROR: -1,
  TYPE_ERROR: -3,
  WALLET_ERROR: -4,
  INVALID_ADDRESS_OR_KEY: -5,
  WALLET_INSUFFICIENT_FUNDS: -6,
  INVALID_PARAMETER: -8,
  WALLET_NOT_FOUND: -18,
  WALLET_NOT_SPECIFIED: -19,
  WALLET_ALREADY_LOADED: -35,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  PARSE_ERROR: -32700,
} as const;

/**
 * An error an RPC method returns to the caller as `{"code": …, "message": …}`: bitcoind's
 * numeric code, so not one of the library's CryptoassetsErrors (their `code` is a CA_ERR_ string).
 */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Another simulator failure (bad options, server start-up). */
export class SimulatorError extends CryptoassetsError {
  override name = "SimulatorError";
  override readonly code: string = "CA_ERR_SIMULATOR";
}
