/**
 * `txreplaced`: written right after the txupdate that turns one of our transactions'
 * confirmations to -1 (replaced by RBF/bumpfee, or conflicted), in the same database
 * transaction and under the same ordering key, so a handler sees the txupdate first.
 *
 * The ledger decides that transition; what the daemon said about the replacement is known
 * only to the chain code that applied its answer. That code notes it here beside the
 * txupdate payload (a WeakMap: the txupdate payload itself stays the original's fields), and
 * the outbox picks it up when it writes the txupdate. Without a note the replacement is null.
 */
import type { TxReplacedData, TxUpdateData } from "./types.js";

export interface Replacement {
  /** The daemon's replaced_by_txid. */
  replacedBy: string | null;
  /** The daemon's walletconflicts. */
  conflicts: readonly string[];
}

const notes = new WeakMap<TxUpdateData, Replacement>();

export function noteReplacement(update: TxUpdateData, replacement: Replacement): void {
  notes.set(update, replacement);
}

/** The txreplaced payload that goes with this txupdate, if it reports the transaction conflicted. */
export function txReplacedFor(update: TxUpdateData): TxReplacedData | undefined {
  if (update.confirmations >= 0) return undefined;
  const note = notes.get(update);
  const conflicts = [...(note?.conflicts ?? [])];
  return {
    coin_name: update.coin_name,
    transaction: update.transaction,
    network_transaction: update.network_transaction,
    transaction_type: update.transaction_type,
    txid: update.txid,
    account: update.account,
    address: update.address,
    amount: update.amount,
    // Bitcoin Core names the replacement only in the wallet that replaced it; elsewhere a
    // single wallet conflict is the replacement (several: we cannot tell which one won).
    replaced_by_txid: note?.replacedBy ?? (conflicts.length === 1 ? (conflicts[0] as string) : null),
    conflicts,
  };
}
