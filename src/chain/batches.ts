/**
 * The chain workers' two kinds of batch, each sized once here:
 *
 * - JSON-RPC: `gettransaction` for many txids in one HTTP round trip per RPC_BATCH_SIZE.
 * - Database: snapshots applied, and open transactions moved to a new tip, in several
 *   serializable transactions of applyBatchSize (by engine), not one for all: a single PostgreSQL
 *   transaction applying 10,000 ran out of predicate-lock memory ("out of shared memory") and
 *   would have to start over on any serialization conflict, and a SQLite COMMIT of 10,000
 *   moved rows and their events held the event loop for ~140 ms (one synchronous call).
 */
import type { Backend, ChainTip, WalletTransaction } from "../backends/backend.js";
import { breathe } from "../db/bulk.js";
import type { Engine } from "../db/url.js";
import type { TxUpdateData } from "../events/types.js";
import { listTrackedPage, type NetworkTransaction } from "../ledger/network-transactions.js";
import { setChainState } from "../ledger/queries.js";
import { advanceToTip, applySnapshots } from "./apply.js";
import { commitWithEvents } from "./sink.js";
import type { TxSnapshot } from "./snapshot.js";
import type { ChainWorkerOptions } from "./updater.js";

/** gettransaction calls per JSON-RPC batch request. */
export const RPC_BATCH_SIZE = 250;
/** Snapshots per database transaction during a large catch-up or re-check (SQLite, MariaDB). */
export const APPLY_BATCH_SIZE = 500;
/**
 * The same on PostgreSQL, whose statements run off the event loop: fewer, larger transactions
 * won there. A block moving 10,000 open transactions took 472–498 ms in transactions of 500,
 * 352–376 ms in 2,000, and no less in 5,000 (bench/README §2). SQLite keeps 500: its COMMIT of
 * 500 holds the event loop ~14 ms, of 5,000 ~42 ms.
 */
export const APPLY_BATCH_SIZE_POSTGRES = 2_000;

/** APPLY_BATCH_SIZE for this engine. */
export function applyBatchSize(engine: Engine): number {
  return engine === "postgres" ? APPLY_BATCH_SIZE_POSTGRES : APPLY_BATCH_SIZE;
}

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
  /** After each commit: how many snapshots it applied, and whether it was the last. */
  onCommitted?: (applied: number, last: boolean) => void;
}

/** Applies `snapshots` in transactions of `batchSize`, each committing its txupdates with it. */
export async function applyInBatches(
  { ledger, sink }: Pick<ChainWorkerOptions, "ledger" | "sink">,
  snapshots: readonly TxSnapshot[],
  tipHeight: number | undefined,
  { batchSize = APPLY_BATCH_SIZE, onCommitted }: ApplyInBatchesOptions = {},
): Promise<TxUpdateData[]> {
  const batches: TxSnapshot[][] = [];
  for (let i = 0; i < snapshots.length; i += batchSize) batches.push(snapshots.slice(i, i + batchSize));
  const updates: TxUpdateData[] = [];
  for (const [index, batch] of batches.entries()) {
    const last = index === batches.length - 1;
    updates.push(
      ...(await commitWithEvents(ledger, sink, async (trx, ctx) => {
        const applied = await applySnapshots(
          trx,
          ctx,
          batch.map((snapshot) => ({ snapshot, tipHeight })),
        );
        return applied.flatMap(({ updates }) => updates);
      })),
    );
    onCommitted?.(batch.length, last);
  }
  return updates;
}

export interface AdvanceResult {
  /** Open transactions moved forward from the tip height alone. */
  advanced: number;
  updates: TxUpdateData[];
}

/**
 * Moves every open network transaction whose txid is not in `skip` (those just applied from
 * the daemon's own report) to `tip` (advanceToTip), `batchSize` by id per serializable
 * transaction. Each transaction reads its page of rows inside itself (something may have
 * changed one since) and commits their txupdates with them; the last one also records `tip`
 * as processed. A crash between two leaves some moved and the tip unrecorded: the next tick
 * moves them to the same `tip − block height + 1`, which changes nothing and writes no event
 * for those already there.
 */
export async function advanceOpenInBatches(
  { ledger, sink }: Pick<ChainWorkerOptions, "ledger" | "sink">,
  skip: ReadonlySet<string>,
  tip: ChainTip,
  batchSize = APPLY_BATCH_SIZE,
): Promise<AdvanceResult> {
  const updates: TxUpdateData[] = [];
  let advanced = 0;
  let afterId = 0;
  for (;;) {
    let page: NetworkTransaction[] = [];
    let more = false;
    let moved = 0;
    // `fn` may run again on a serialization retry: only the last run's page and count stand.
    const produced = await commitWithEvents(ledger, sink, async (trx, ctx) => {
      // One row past the page tells whether this is the last page, which records the tip
      // (without it, a count that is a multiple of batchSize took one more transaction).
      page = await listTrackedPage(trx, ctx, afterId, batchSize + 1);
      more = page.length > batchSize;
      if (more) page = page.slice(0, batchSize);
      // SQLite runs each statement synchronously: let the event loop turn between the steps.
      await breathe(ctx.engine);
      const untouched = page.filter((ntx) => ntx.txid !== null && !skip.has(ntx.txid));
      moved = untouched.length;
      const out = await advanceToTip(trx, ctx, untouched, tip.height);
      await breathe(ctx.engine);
      if (!more) await setChainState(trx, ctx, { lastBlockHash: tip.hash, lastBlockHeight: tip.height });
      return out;
    });
    for (const update of produced) updates.push(update);
    advanced += moved;
    if (!more) return { advanced, updates };
    afterId = (page.at(-1) as NetworkTransaction).id;
  }
}
