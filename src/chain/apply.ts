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
  applyBroadcastConfirmations,
  applyDeposit,
  type ChainObservation,
  findNetworkTransaction,
  type NetworkTransaction,
  updateConfirmations,
  updateConfirmationsMany,
} from "../ledger/network-transactions.js";
import { impliedTipHeight, type TxSnapshot } from "./snapshot.js";

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
  const seen = {
    txid: snapshot.txid,
    confirmations: snapshot.confirmations,
    blockHash: snapshot.blockHash,
    blockHeight: snapshot.blockHeight,
    tipHeight,
  };
  const updates: TxUpdateData[] = [];
  if (snapshot.receives.length > 0) {
    updates.push(...(await applyDeposit(trx, ctx, { ...seen, receives: snapshot.receives })));
  } else {
    // No receive outputs listed: Bitcoin Core drops the receive details of a conflicted
    // transaction (depth < 0). Still follow the confirmations of a deposit we know.
    const deposit = await findNetworkTransaction(trx, ctx, snapshot.txid, "deposit");
    if (deposit) updates.push(...(await updateConfirmations(trx, ctx, deposit, seen, new Set())));
  }
  updates.push(...(await applyBroadcastConfirmations(trx, ctx, seen)));
  const replacement = { replacedBy: snapshot.replacedBy, conflicts: snapshot.conflicts };
  for (const update of updates) if (update.confirmations < 0) noteReplacement(update, replacement);
  return updates;
}

/**
 * Whether applying `snapshot` would move a mined transaction of ours back: fewer
 * confirmations, unmined, conflicted or in another block. That is a reorg — or a node that
 * lost its last blocks in a crash and is behind (./behind.ts); a caller that only sees one
 * transaction holds such a snapshot until the node has told which. `lastBlockHeight` (the
 * last processed block) spares the lookups for a mined snapshot whose tip is not lower.
 */
export async function movesBack(
  trx: Trx,
  ctx: LedgerContext,
  snapshot: TxSnapshot,
  lastBlockHeight: number | null,
): Promise<boolean> {
  const implied = impliedTipHeight(snapshot);
  if (implied !== undefined && (lastBlockHeight === null || implied >= lastBlockHeight)) return false;
  for (const type of ["deposit", "broadcast"] as const) {
    const ntx = await findNetworkTransaction(trx, ctx, snapshot.txid, type);
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
