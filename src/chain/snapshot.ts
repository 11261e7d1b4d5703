/**
 * What the daemon says about one wallet transaction, reduced to what the ledger needs:
 * its confirmations and block, and the amounts it paid to each address (summed, `receive`
 * outputs only). `gettransaction` and `listsinceblock` both become this shape, so the
 * walletnotify path, the block tracker, the re-check and the start-up scan apply chain data
 * through one function (./apply.ts).
 */
import type {
  SinceBlockEntry,
  SinceBlockResult,
  TransactionDetail,
  WalletTransaction,
} from "../backends/backend.js";

export interface TxSnapshot {
  txid: string;
  /** As the daemon reports it (negative = conflicted; the ledger normalizes to -1). */
  confirmations: number;
  blockHash: string | null;
  blockHeight: number | null;
  /** Amount received per address of the wallet, in base units; foreign outputs are not listed by the daemon. */
  receives: Array<{ address: string; amount: bigint }>;
  /** What the daemon says replaced it (txreplaced events): walletconflicts and replaced_by_txid. */
  conflicts: string[];
  replacedBy: string | null;
}

/** Sums `receive` outputs per address; generated coins and outputs without an address are not deposits. */
function sumReceives(details: readonly TransactionDetail[]): Array<{ address: string; amount: bigint }> {
  const sums = new Map<string, bigint>();
  const seenOutputs = new Set<number>();
  for (const detail of details) {
    if (detail.category !== "receive" || detail.address === undefined || detail.amount <= 0n) continue;
    // One entry per output: an output listed twice (both `transactions` and `removed`) counts once.
    if (seenOutputs.has(detail.vout)) continue;
    seenOutputs.add(detail.vout);
    sums.set(detail.address, (sums.get(detail.address) ?? 0n) + detail.amount);
  }
  return [...sums].map(([address, amount]) => ({ address, amount }));
}

export function snapshotFromWalletTransaction(tx: WalletTransaction): TxSnapshot {
  return {
    txid: tx.txid,
    confirmations: tx.confirmations,
    blockHash: tx.blockhash ?? null,
    blockHeight: tx.blockheight ?? null,
    receives: sumReceives(tx.details),
    conflicts: tx.walletconflicts,
    replacedBy: tx.replaced_by_txid ?? null,
  };
}

/**
 * Groups listsinceblock entries (one per output) into one snapshot per transaction, in the
 * order the daemon listed them. A transaction in `removed` (its block was disconnected) also
 * appears in `transactions` when it is back in the mempool or re-mined; either way every
 * entry carries the transaction's *current* confirmations, so merging by txid is safe.
 */
export function snapshotsFromSinceBlock(result: SinceBlockResult): TxSnapshot[] {
  const byTxid = new Map<string, SinceBlockEntry[]>();
  for (const entry of [...result.transactions, ...result.removed]) {
    const list = byTxid.get(entry.txid);
    if (list) list.push(entry);
    else byTxid.set(entry.txid, [entry]);
  }
  const snapshots: TxSnapshot[] = [];
  for (const [txid, entries] of byTxid) {
    const first = entries[0] as SinceBlockEntry;
    const mined = entries.find((entry) => entry.blockhash !== undefined);
    snapshots.push({
      txid,
      confirmations: first.confirmations,
      blockHash: mined?.blockhash ?? null,
      blockHeight: mined?.blockheight ?? null,
      receives: sumReceives(entries),
      conflicts: [...new Set(entries.flatMap((entry) => entry.walletconflicts ?? []))],
      replacedBy: entries.find((entry) => entry.replaced_by_txid !== undefined)?.replaced_by_txid ?? null,
    });
  }
  return snapshots;
}

/** The tip height a mined snapshot implies (its block height + confirmations − 1). */
export function impliedTipHeight(snapshot: TxSnapshot): number | undefined {
  if (snapshot.confirmations > 0 && snapshot.blockHeight !== null) {
    return snapshot.blockHeight + snapshot.confirmations - 1;
  }
  return undefined;
}
