/**
 * The chain workers' two kinds of batch, each sized once here:
 *
 * - JSON-RPC: `gettransaction` for many txids in one HTTP round trip per RPC_BATCH_SIZE.
 * - Database: snapshots applied in several serializable transactions of APPLY_BATCH_SIZE, not
 *   one for all: a single PostgreSQL transaction applying 10,000 ran out of predicate-lock
 *   memory ("out of shared memory") and would have to start over on any serialization conflict.
 */
import type { Backend, WalletTransaction } from "../backends/backend.js";
import type { Trx } from "../db/serializable.js";
import type { TxUpdateData } from "../events/types.js";
import type { LedgerContext } from "../ledger/context.js";
import { applySnapshots } from "./apply.js";
import { commitWithEvents } from "./sink.js";
import type { TxSnapshot } from "./snapshot.js";
import type { ChainWorkerOptions } from "./updater.js";

/** gettransaction calls per JSON-RPC batch request. */
export const RPC_BATCH_SIZE = 250;
/** Snapshots per database transaction during a large catch-up or re-check. */
export const APPLY_BATCH_SIZE = 500;

/** What the daemon says of each txid (null: unknown to it), `batchSize` per request. */
export async function getTransactionsInBatches(
  backend: Backend,
  txids: readonly string[],
  batchSize = RPC_BATCH_SIZE,
): Promise<Map<string, WalletTransaction | null>> {
  const found = new Map<string, WalletTransaction | null>();
  for (let i = 0; i < txids.length; i += batchSize) {
    for (const [txid, tx] of await backend.getTransactions(txids.slice(i, i + batchSize)))
      found.set(txid, tx);
  }
  return found;
}

export interface ApplyInBatchesOptions {
  batchSize?: number;
  /** Runs in the last transaction, after its snapshots (then there is always one transaction). */
  finish?: (trx: Trx, ctx: LedgerContext) => Promise<TxUpdateData[]>;
  /** After each commit: how many snapshots it applied, and whether it was the last. */
  onCommitted?: (applied: number, last: boolean) => void;
}

/** Applies `snapshots` in transactions of `batchSize`, each committing its txupdates with it. */
export async function applyInBatches(
  { ledger, sink }: Pick<ChainWorkerOptions, "ledger" | "sink">,
  snapshots: readonly TxSnapshot[],
  tipHeight: number | undefined,
  { batchSize = APPLY_BATCH_SIZE, finish, onCommitted }: ApplyInBatchesOptions = {},
): Promise<TxUpdateData[]> {
  const batches: TxSnapshot[][] = [];
  for (let i = 0; i < snapshots.length; i += batchSize) batches.push(snapshots.slice(i, i + batchSize));
  if (finish && batches.length === 0) batches.push([]);
  const updates: TxUpdateData[] = [];
  for (const [index, batch] of batches.entries()) {
    const last = index === batches.length - 1;
    updates.push(
      ...(await commitWithEvents(ledger, sink, async (trx, ctx) => {
        const produced: TxUpdateData[] = [];
        const applied = await applySnapshots(
          trx,
          ctx,
          batch.map((snapshot) => ({ snapshot, tipHeight })),
        );
        for (const { updates } of applied) produced.push(...updates);
        if (last && finish) produced.push(...(await finish(trx, ctx)));
        return produced;
      })),
    );
    onCommitted?.(batch.length, last);
  }
  return updates;
}
