/**
 * Chain data → ledger, inside the caller's serializable transaction. Every path that
 * follows the chain (walletnotify, block ticks, the re-check, the per-transaction poll,
 * the start-up scan) ends here, so they cannot disagree about what a snapshot means.
 */
import type { Trx } from "../db/serializable.js";
import { noteReplacement } from "../events/replaced.js";
import type { TxUpdateData } from "../events/types.js";
import type { LedgerContext } from "../ledger/context.js";
import {
  type AppliedObservation,
  applyObservations,
  type ChainObservation,
  type NetworkTransaction,
  networkKey,
  updateConfirmationsMany,
} from "../ledger/network-transactions.js";
import { impliedTipHeight, type TxSnapshot } from "./snapshot.js";

/** A snapshot to apply, with the tip height it is seen at. */
export interface SnapshotAt {
  snapshot: TxSnapshot;
  tipHeight: number | undefined;
}

/**
 * Applies one transaction as the daemon sees it: a deposit (created on first sight when it
 * pays an address of ours; addresses that are not ours are skipped) and/or one of our
 * broadcasts. Returns the txupdate payloads of what changed; none when the txid is not ours.
 */
export async function applySnapshot(
  trx: Trx,
  ctx: LedgerContext,
  snapshot: TxSnapshot,
  tipHeight: number | undefined,
): Promise<TxUpdateData[]> {
  const [applied] = await applySnapshots(trx, ctx, [{ snapshot, tipHeight }]);
  return applied?.updates ?? [];
}

/**
 * applySnapshot for many snapshots in a few set-based statements (applyObservations): one
 * result per snapshot, in order. A txid given twice is applied again after the others, as
 * one by one would (the same snapshot again changes nothing). `known`: the network
 * transactions of these txids, when the caller has just read them (findNetworkTransactions).
 */
export async function applySnapshots(
  trx: Trx,
  ctx: LedgerContext,
  items: readonly SnapshotAt[],
  known?: ReadonlyMap<string, NetworkTransaction>,
): Promise<AppliedObservation[]> {
  const results: AppliedObservation[] = items.map(() => ({ updates: [], ours: false }));
  let pending = items.map((item, index) => ({ ...item, index }));
  let knownNow = known;
  while (pending.length > 0) {
    const txids = new Set<string>();
    const round: typeof pending = [];
    const later: typeof pending = [];
    for (const item of pending) {
      (txids.has(item.snapshot.txid) ? later : round).push(item);
      txids.add(item.snapshot.txid);
    }
    const applied = await applyObservations(
      trx,
      ctx,
      round.map(({ snapshot, tipHeight }) => ({
        txid: snapshot.txid,
        confirmations: snapshot.confirmations,
        blockHash: snapshot.blockHash,
        blockHeight: snapshot.blockHeight,
        tipHeight,
        receives: snapshot.receives,
      })),
      { followKnownDeposits: true, broadcasts: true, ...(knownNow ? { known: knownNow } : {}) },
    );
    round.forEach(({ snapshot, index }, i) => {
      const result = applied[i] as AppliedObservation;
      const replacement = { replacedBy: snapshot.replacedBy, conflicts: snapshot.conflicts };
      for (const update of result.updates) if (update.confirmations < 0) noteReplacement(update, replacement);
      results[index] = result;
    });
    pending = later;
    knownNow = undefined; // the first round changed them
  }
  return results;
}

/**
 * Whether applying `snapshot` would move a mined transaction of ours back: fewer
 * confirmations, unmined, conflicted or in another block. That is a reorg — or a node that
 * lost its last blocks in a crash and is behind (./behind.ts); a caller that only sees one
 * transaction holds such a snapshot until the node has told which. `lastBlockHeight` (the
 * last processed block) spares the lookups for a mined snapshot whose tip is not lower.
 * `known`: the network transactions of the snapshots' txids (findNetworkTransactions).
 */
export function movesBack(
  known: ReadonlyMap<string, NetworkTransaction>,
  snapshot: TxSnapshot,
  lastBlockHeight: number | null,
): boolean {
  const implied = impliedTipHeight(snapshot);
  if (implied !== undefined && (lastBlockHeight === null || implied >= lastBlockHeight)) return false;
  for (const type of ["deposit", "broadcast"] as const) {
    const ntx = known.get(networkKey(type, snapshot.txid));
    if (!ntx || ntx.confirmations <= 0) continue;
    if (snapshot.confirmations < ntx.confirmations) return true;
    if (snapshot.blockHash !== null && snapshot.blockHash !== ntx.block_hash) return true;
  }
  return false;
}

/**
 * Confirmations of tracked network transactions the daemon did not mention since the last
 * block, derived from the tip height and the height of each one's block: no RPC per
 * transaction, and a few statements for all of them (updateConfirmationsMany). Unmined (0)
 * stays 0; conflicted (−1) stays −1 but counts towards the end of its tracking.
 */
export async function advanceToTip(
  trx: Trx,
  ctx: LedgerContext,
  ntxs: readonly NetworkTransaction[],
  tipHeight: number,
): Promise<TxUpdateData[]> {
  const items: Array<{ ntx: NetworkTransaction; seen: ChainObservation }> = [];
  for (const ntx of ntxs) {
    if (ntx.txid === null || ntx.confirmations === 0) continue;
    let confirmations = ntx.confirmations;
    if (ntx.confirmations > 0) {
      if (ntx.block_height === null) continue;
      confirmations = tipHeight - ntx.block_height + 1;
      // Its block is above the tip: the chain shrank without listsinceblock reporting it.
      // Leave it for the periodic re-check rather than guess.
      if (confirmations <= 0) continue;
    }
    items.push({
      ntx,
      seen: {
        txid: ntx.txid,
        confirmations,
        blockHash: ntx.block_hash,
        blockHeight: ntx.block_height,
        tipHeight,
      },
    });
  }
  return updateConfirmationsMany(trx, ctx, items);
}
