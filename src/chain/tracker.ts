/**
 * Block-driven confirmation tracking (DESIGN.md §5). On a new tip:
 *
 *   getblockchaininfo                 → tip height and hash           (1 RPC)
 *   listsinceblock <last processed>   → every wallet transaction touched since, plus the
 *                                       ones whose blocks a reorg disconnected (`removed`) (1 RPC)
 *
 *   gettransaction × k (one batch)    → only the k open transactions we last saw unconfirmed
 *                                       that listsinceblock did not mention (still waiting,
 *                                       or double-spent: Core lists a conflicted incoming
 *                                       transaction nowhere else); no request when k = 0
 *
 * then, in serializable transactions: apply the touched transactions as reported, and move
 * every other open network transaction to `tip height − its block height + 1` confirmations.
 * A new block therefore costs two HTTP requests (three while something lingers unconfirmed)
 * whatever the number of open transactions; the original polled `gettransaction` once per
 * open transaction instead.
 *
 * The last processed block is persisted per wallet (ca_chain_state) in the same transaction
 * as the final batch, so a crash mid-way replays from the previous block (applying a snapshot
 * twice changes nothing and writes no event). With no block recorded yet, listsinceblock
 * returns every wallet transaction: that is the start-up scan (./scan.ts).
 */
import type { ChainTip, SinceBlockResult } from "../backends/backend.js";
import { ChainConfigError, InvalidAddressOrKeyError } from "../errors.js";
import type { TxUpdateData } from "../events/types.js";
import { listTrackedNetworkTransactions } from "../ledger/network-transactions.js";
import { type ChainState, getChainState, setChainState } from "../ledger/queries.js";
import { type Logger, silentLogger } from "../log.js";
import { advanceToTip, applySnapshot } from "./apply.js";
import { findNodeBehind } from "./behind.js";
import { ChainLock } from "./lock.js";
import { commitWithEvents } from "./sink.js";
import { snapshotFromWalletTransaction, snapshotsFromSinceBlock, type TxSnapshot } from "./snapshot.js";
import type { ChainWorkerOptions } from "./updater.js";

export const DEFAULT_APPLY_BATCH_SIZE = 500;

export interface ScanProgress {
  /** `listing`: waiting for listsinceblock; `applying`: writing batches; `done`. */
  phase: "listing" | "applying" | "done";
  /** Wallet transactions applied so far. */
  done: number;
  /** Wallet transactions listed since the last processed block. */
  total: number;
}

export interface TickOptions {
  /** Process even when the tip is the last processed block (start-up scan, repair). */
  force?: boolean;
  onProgress?: (progress: ScanProgress) => void;
}

export interface TickResult {
  /** False when the tip had not moved and nothing was done. */
  processed: boolean;
  tip: ChainTip;
  previous: ChainState;
  /** Transactions listsinceblock reported (touched since the last block, or all on a first scan). */
  touched: number;
  /** Open transactions moved forward from the tip height alone. */
  advanced: number;
  updates: TxUpdateData[];
}

export interface BlockTrackerOptions extends ChainWorkerOptions {
  /** Snapshots per database transaction during a large catch-up (default 500). */
  batchSize?: number;
  /** gettransaction calls per HTTP request when looking up unconfirmed transactions (default 250). */
  rpcBatchSize?: number;
}

export class BlockConfirmationTracker {
  readonly lock: ChainLock;
  readonly #options: BlockTrackerOptions;
  readonly #batchSize: number;
  readonly #rpcBatchSize: number;
  readonly #logger: Logger;
  #lastTip: ChainTip | undefined;
  /** Since when the node has been behind our last processed block (undefined: it is not). */
  #behindSince: number | undefined;

  constructor(options: BlockTrackerOptions) {
    this.#options = options;
    this.lock = options.lock ?? new ChainLock();
    this.#batchSize = options.batchSize ?? DEFAULT_APPLY_BATCH_SIZE;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new ChainConfigError(`block tracker: batchSize must be an integer >= 1, got ${this.#batchSize}`);
    }
    this.#rpcBatchSize = options.rpcBatchSize ?? 250;
    if (!Number.isInteger(this.#rpcBatchSize) || this.#rpcBatchSize < 1) {
      throw new ChainConfigError(
        `block tracker: rpcBatchSize must be an integer >= 1, got ${this.#rpcBatchSize}`,
      );
    }
    this.#logger = (options.logger ?? silentLogger).child({
      module: "chain.tracker",
      coin: options.ledger.coin.name,
    });
  }

  /** The tip seen by the last tick (undefined before the first). */
  get lastTip(): ChainTip | undefined {
    return this.#lastTip;
  }

  /** Catches up from the last processed block to the current tip. */
  tick(options: TickOptions = {}): Promise<TickResult> {
    return this.lock.run(() => this.#tick(options));
  }

  async #tick(options: TickOptions): Promise<TickResult> {
    const { ledger, backend, sink } = this.#options;
    const previous = await ledger.run((trx, ctx) => getChainState(trx, ctx));
    const tip = await backend.getTip();
    this.#lastTip = tip;
    if (!options.force && previous.lastBlockHash === tip.hash) {
      return { processed: false, tip, previous, touched: 0, advanced: 0, updates: [] };
    }
    if (await this.#nodeBehind(previous, tip)) {
      return { processed: false, tip, previous, touched: 0, advanced: 0, updates: [] };
    }
    options.onProgress?.({ phase: "listing", done: 0, total: 0 });
    const since = await this.#listSince(previous.lastBlockHash);
    // If a block arrived between the two calls, `since` already covers it; recording the
    // older tip as processed only means the next tick looks at that block once more.
    const snapshots = snapshotsFromSinceBlock(since);
    const listed = new Set(snapshots.map((snapshot) => snapshot.txid));
    snapshots.push(...(await this.#lookUpUnconfirmed(listed)));
    const touched = new Set(snapshots.map((snapshot) => snapshot.txid));
    const total = snapshots.length;
    const updates: TxUpdateData[] = [];
    let done = 0;
    options.onProgress?.({ phase: "applying", done, total });

    const batches: TxSnapshot[][] = [];
    for (let i = 0; i < snapshots.length; i += this.#batchSize)
      batches.push(snapshots.slice(i, i + this.#batchSize));
    const last = batches.pop() ?? [];
    for (const batch of batches) {
      updates.push(
        ...(await commitWithEvents(ledger, sink, async (trx, ctx) => {
          const produced: TxUpdateData[] = [];
          for (const snapshot of batch)
            produced.push(...(await applySnapshot(trx, ctx, snapshot, tip.height)));
          return produced;
        })),
      );
      done += batch.length;
      options.onProgress?.({ phase: "applying", done, total });
    }

    let advanced = 0;
    updates.push(
      ...(await commitWithEvents(ledger, sink, async (trx, ctx) => {
        const produced: TxUpdateData[] = [];
        for (const snapshot of last) produced.push(...(await applySnapshot(trx, ctx, snapshot, tip.height)));
        const untouched = (await listTrackedNetworkTransactions(trx, ctx)).filter(
          (ntx) => ntx.txid !== null && !touched.has(ntx.txid),
        );
        advanced = untouched.length;
        produced.push(...(await advanceToTip(trx, ctx, untouched, tip.height)));
        await setChainState(trx, ctx, { lastBlockHash: tip.hash, lastBlockHeight: tip.height });
        return produced;
      })),
    );
    done += last.length;
    options.onProgress?.({ phase: "done", done, total });
    this.#logger.info(
      { height: tip.height, hash: tip.hash, touched: total, advanced, events: updates.length },
      "processed chain tip",
    );
    return { processed: true, tip, previous, touched: total, advanced, updates };
  }

  /**
   * A tip below our last processed block is a reorg only if the node left our blocks; a node
   * that lost them (kill -9) and gets them back from peers is waited for (./behind.ts).
   */
  async #nodeBehind(previous: ChainState, tip: ChainTip): Promise<boolean> {
    const lower = previous.lastBlockHeight !== null && tip.height < previous.lastBlockHeight;
    const behind = lower ? await findNodeBehind(this.#options.ledger, this.#options.backend, tip) : undefined;
    if (!behind) {
      if (this.#behindSince !== undefined) {
        this.#logger.info({ height: tip.height, hash: tip.hash }, "the node is no longer behind");
        this.#behindSince = undefined;
      }
      return false;
    }
    if (this.#behindSince === undefined) {
      this.#behindSince = Date.now();
      this.#logger.warn(
        { height: tip.height, waitingFor: behind.waitingFor, lastBlockHash: previous.lastBlockHash },
        "the node is behind the last processed block (it lost blocks, e.g. in a crash): waiting for it to catch up, not un-confirming anything",
      );
    }
    return true;
  }

  /**
   * Open transactions we last saw in the mempool that listsinceblock did not mention: still
   * waiting, dropped, or double-spent. Bitcoin Core lists a conflicted incoming transaction
   * nowhere in listsinceblock (its receive entries are filtered out below depth 0), so only
   * `gettransaction` can tell — one batched request for all of them. Mined transactions never
   * need this (the tip height gives their confirmations), so the batch holds only the few
   * transactions still unconfirmed, not every open one.
   */
  async #lookUpUnconfirmed(listed: ReadonlySet<string>): Promise<TxSnapshot[]> {
    const { ledger, backend } = this.#options;
    const open = await ledger.run((trx, ctx) =>
      listTrackedNetworkTransactions(trx, ctx, { unconfirmed: true }),
    );
    const unconfirmed = [
      ...new Set(
        open.filter((ntx) => ntx.txid !== null && !listed.has(ntx.txid)).map((ntx) => ntx.txid as string),
      ),
    ];
    const snapshots: TxSnapshot[] = [];
    for (let i = 0; i < unconfirmed.length; i += this.#rpcBatchSize) {
      const found = await backend.getTransactions(unconfirmed.slice(i, i + this.#rpcBatchSize));
      for (const tx of found.values()) if (tx) snapshots.push(snapshotFromWalletTransaction(tx));
    }
    return snapshots;
  }

  async #listSince(lastBlockHash: string | null): Promise<SinceBlockResult> {
    const { backend } = this.#options;
    if (lastBlockHash === null) return backend.listSinceBlock(undefined);
    try {
      return await backend.listSinceBlock(lastBlockHash);
    } catch (err) {
      // -5 "Block not found": the daemon never had our last block (a different chain or a
      // wiped regtest). Everything is re-read; applying known transactions again is harmless.
      if (err instanceof InvalidAddressOrKeyError) {
        this.#logger.warn(
          { lastBlockHash, err },
          "the daemon does not know the last processed block; rescanning every wallet transaction",
        );
        return backend.listSinceBlock(undefined);
      }
      throw err;
    }
  }
}
