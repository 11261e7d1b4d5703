/**
 * What a daemon's refusal of a `sendmany` says about the sends in it (issue 10, fault 1).
 * Bitcoin Core checks the outputs one by one before it selects coins, so a batch is refused
 * for the first bad output it meets — and, before isolation, every later batch was too.
 * The codes and messages are Core's (recorded in test/fixtures/bitcoind): -5 for an address
 * it cannot decode, -6 for both "Transaction amount too small" and "Insufficient funds".
 */
import { InsufficientFundsError, RpcError } from "../errors.js";

export type Refusal =
  /** About one output (a bad address, dust): the send alone would be refused again. */
  | "output"
  /** The hot wallet holds less than the batch (plus fee): the sends wait for a top-up. */
  | "shortfall"
  /** The batch as a whole (too large): smaller batches may go, a single send stays pending. */
  | "batch"
  /** Anything else (warming up, wallet locked or missing, fee estimation off): retried next period. */
  | "daemon";

/** How the broadcaster treats a sendmany that the daemon refused (nothing was sent). */
export function classifyRefusal(err: unknown): Refusal {
  if (!(err instanceof RpcError)) return "daemon";
  const message = err.rpcMessage;
  switch (err.rpcCode) {
    case -3: // RPC_TYPE_ERROR: "Invalid amount for send", "Amount out of range"
    case -5: // RPC_INVALID_ADDRESS_OR_KEY: "Invalid Bitcoin address: …"
      return "output";
    case -8: // RPC_INVALID_PARAMETER: "Invalid parameter, duplicated address: …"
      return /duplicated address/i.test(message) ? "output" : "daemon";
    case -6: // RPC_WALLET_INSUFFICIENT_FUNDS: every error of the wallet's CreateTransaction
      if (/amount too small|too small to pay the fee|dust/i.test(message)) return "output";
      if (/too large/i.test(message)) return "batch";
      if (err instanceof InsufficientFundsError && /insufficient funds/i.test(message)) return "shortfall";
      return "daemon";
    case -26: // RPC_VERIFY_REJECTED (older daemons, at commit): "dust", else policy
      return /dust/i.test(message) ? "output" : "daemon";
    default:
      return "daemon";
  }
}
