/**
 * Block-driven confirmation tracking (docs/architecture.md §5). On a new tip:
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
 * then, in serializable transactions of 500: apply the touched transactions as reported, then
 * move every other open network transaction to `tip height − its block height + 1`
 * confirmations, each transaction committing its own txupdates (./batches.ts).
 * A new block therefore costs two HTTP requests (three while something lingers unconfirmed)
 * whatever the number of open transactions; the original polled `gettransaction` once per
 * open transaction instead.
 *
 * Each transaction is whole (a change commits with its events), but a tip is not: the last
 * processed block is persisted per wallet (ca_chain_state) in the same transaction as the
 * final batch, so a crash mid-way leaves some transactions moved and the tip unrecorded. The
 * next tick replays from the previous block, and applying a snapshot twice, or moving a
 * transaction to the confirmations it already has, changes nothing and writes no event
 * (test/chain/tick-chunks.test.ts). With no block recorded yet (the first start-up scan,
 * ./scan.ts), or when listsinceblock cannot serve (the daemon lost our block, or the reply is
 * over the size limit), every wallet transaction is read instead, listtransactions page by
 * page, so memory stays that of one page whatever the wallet's size.
 */
import type { ChainTip, SinceBlockEntry, SinceBlockResult } from "../backends/backend.js";
import { ChainConfigError, InvalidAddressOrKeyError, RpcReplyTooLargeError } from "../errors.js";
import type { TxUpdateData } from "../events/types.js";
import { listTrackedNetworkTransactions } from "../ledger/network-transactions.js";
import { type ChainState, getChainState } from "../ledger/queries.js";
import { type Logger, silentLogger } from "../log.js";
import { applySnapshots } from "./apply.js";
import {
  advanceOpenInBatches,
  applyBatchSize,
  applyInBatches,
  getTransactionsInBatches,
  RPC_BATCH_SIZE,
} from "./batches.js";
import { findNodeBehind } from "./behind.js";
import { ChainLock } from "./lock.js";
import { commitWithEvents } from "./sink.js";
import { snapshotFromWalletTransaction, snapshotsFromSinceBlock, type TxSnapshot } from "./snapshot.js";
import type { ChainWorkerOptions } from "./updater.js";

/**
 * listtransactions entries per page of a full scan. A page's reply is ~0.5 MB and costs a
 * few MB to parse, whatever the size of the wallet.
 */
export const DEFAULT_SCAN_PAGE_SIZE = 1000;

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
  /** The txupdates written; not kept by a full scan (it could be millions): see `events`. */
  updates: TxUpdateData[];
  /** txupdates written. */
  events: number;
  /** Network transactions (txids) that got a txupdate. */
  changed: number;
}

export interface BlockTrackerOptions extends ChainWorkerOptions {
  /** Snapshots per database transaction during a large catch-up (default: applyBatchSize, 500; 2,000 on PostgreSQL). */
  batchSize?: number;
  /** gettransaction calls per HTTP request when looking up unconfirmed transactions (default 250). */
  rpcBatchSize?: number;
  /** listtransactions entries per page of a full scan (default 1000); 0: one unpaged listsinceblock. */
  scanPageSize?: number | undefined;
}

/** A full scan of the wallet's history is due (first run, or listsinceblock could not serve). */
const FULL_SCAN = Symbol("full scan");

export class BlockConfirmationTracker {
  readonly lock: ChainLock;
  readonly #options: BlockTrackerOptions;
  readonly #batchSize: number;
  readonly #rpcBatchSize: number;
  readonly #scanPageSize: number;
  readonly #logger: Logger;
  #lastTip: ChainTip | undefined;
  /** Since when the node has been behind our last processed block (undefined: it is not). */
  #behindSince: number | undefined;

  constructor(options: BlockTrackerOptions) {
    this.#options = options;
    this.lock = options.lock ?? new ChainLock();
    this.#batchSize = options.batchSize ?? applyBatchSize(options.ledger.database.engine);
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new ChainConfigError(`block tracker: batchSize must be an integer >= 1, got ${this.#batchSize}`);
    }
    this.#rpcBatchSize = options.rpcBatchSize ?? RPC_BATCH_SIZE;
    if (!Number.isInteger(this.#rpcBatchSize) || this.#rpcBatchSize < 1) {
      throw new ChainConfigError(
        `block tracker: rpcBatchSize must be an integer >= 1, got ${this.#rpcBatchSize}`,
      );
    }
    this.#scanPageSize = options.scanPageSize ?? DEFAULT_SCAN_PAGE_SIZE;
    if (!Number.isInteger(this.#scanPageSize) || this.#scanPageSize < 0) {
      throw new ChainConfigError(
        `block tracker: scanPageSize must be an integer >= 0 (0: unpaged), got ${this.#scanPageSize}`,
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
    const { ledger, backend } = this.#options;
    const previous = await ledger.run((trx, ctx) => getChainState(trx, ctx));
    const tip = await backend.getTip();
    this.#lastTip = tip;
    const idle = {
      processed: false,
      tip,
      previous,
      touched: 0,
      advanced: 0,
      updates: [],
      events: 0,
      changed: 0,
    };
    if (!options.force && previous.lastBlockHash === tip.hash) return idle;
    if (await this.#nodeBehind(previous, tip)) return idle;
    options.onProgress?.({ phase: "listing", done: 0, total: 0 });
    const since = await this.#listSince(previous.lastBlockHash);
    if (since === FULL_SCAN) return this.#fullScan(previous, tip, options);
    // If a block arrived between the two calls, `since` already covers it; recording the
    // older tip as processed only means the next tick looks at that block once more.
    const snapshots = snapshotsFromSinceBlock(since);
    const listed = new Set(snapshots.map((snapshot) => snapshot.txid));
    snapshots.push(...(await this.#lookUpUnconfirmed(listed)));
    const touched = new Set(snapshots.map((snapshot) => snapshot.txid));
    const total = snapshots.length;
    let done = 0;
    options.onProgress?.({ phase: "applying", done, total });

    const updates = await applyInBatches(this.#options, snapshots, tip.height, {
      batchSize: this.#batchSize,
      onCommitted: (applied) => {
        done += applied;
        options.onProgress?.({ phase: "applying", done, total });
      },
    });
    // The rest of the open transactions, and then the tip recorded as processed.
    const { advanced, updates: moved } = await advanceOpenInBatches(
      this.#options,
      touched,
      tip,
      this.#batchSize,
    );
    for (const update of moved) updates.push(update);
    options.onProgress?.({ phase: "done", done, total });
    this.#logger.info(
      { height: tip.height, hash: tip.hash, touched: total, advanced, events: updates.length },
      "processed chain tip",
    );
    const changed = new Set(updates.map((update) => update.txid)).size;
    return {
      processed: true,
      tip,
      previous,
      touched: total,
      advanced,
      updates,
      events: updates.length,
      changed,
    };
  }

  /**
   * Every wallet transaction, `listtransactions` page by page from the newest, each page
   * applied in its own database transactions and then dropped: memory stays that of one page
   * whatever the wallet's size. The tip read before the first page is recorded as processed
   * at the end, so whatever happens meanwhile (new transactions, a reorg) is what the next
   * listsinceblock from it reports; a crash mid-way starts the scan again (applying twice
   * changes nothing).
   */
  async #fullScan(previous: ChainState, tip: ChainTip, options: TickOptions): Promise<TickResult> {
    const { ledger, sink } = this.#options;
    const pageSize = this.#scanPageSize;
    const tracked = new Set(
      (await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx)))
        .map((ntx) => ntx.txid)
        .filter((txid): txid is string => txid !== null),
    );
    /**
     * Listed transactions that are (or may now be) tracked: the others tracked are advanced
     * from the tip afterwards. Final ones are left out, so this stays as small as the set of
     * open transactions, not the wallet.
     */
    const listedTracked = new Set<string>();
    const { maxConfirmations } = ledger.ctx;
    let touched = 0;
    let events = 0;
    let changed = 0;
    const apply = async (snapshots: readonly TxSnapshot[]) => {
      for (let i = 0; i < snapshots.length; i += this.#batchSize) {
        const batch = snapshots.slice(i, i + this.#batchSize);
        const produced = await commitWithEvents(ledger, sink, async (trx, ctx) => {
          const applied = await applySnapshots(
            trx,
            ctx,
            batch.map((snapshot) => ({ snapshot, tipHeight: tip.height })),
          );
          return applied.flatMap(({ updates }) => updates);
        });
        events += produced.length;
        changed += new Set(produced.map((update) => update.txid)).size;
      }
    };
    for await (const snapshots of this.#snapshotPages(tip)) {
      for (const snapshot of snapshots) {
        if (tracked.has(snapshot.txid) || snapshot.confirmations < maxConfirmations) {
          listedTracked.add(snapshot.txid);
        }
      }
      await apply(snapshots);
      touched += snapshots.length;
      options.onProgress?.({ phase: "applying", done: touched, total: touched });
    }

    const unconfirmed = await this.#lookUpUnconfirmed(listedTracked);
    for (const snapshot of unconfirmed) listedTracked.add(snapshot.txid);
    await apply(unconfirmed);
    const { advanced, updates } = await advanceOpenInBatches(
      this.#options,
      listedTracked,
      tip,
      this.#batchSize,
    );
    events += updates.length;
    changed += new Set(updates.map((update) => update.txid)).size;
    touched += unconfirmed.length;
    options.onProgress?.({ phase: "done", done: touched, total: touched });
    this.#logger.info(
      { height: tip.height, hash: tip.hash, touched, advanced, events, pageSize },
      "scanned every wallet transaction page by page",
    );
    return { processed: true, tip, previous, touched, advanced, updates: [], events, changed };
  }

  /**
   * The wallet's transactions as snapshots, one `listtransactions` page at a time from the
   * newest. The oldest transaction of a page may have more entries (outputs) on the next,
   * older page: it is carried over and yielded with that page, whole.
   */
  async *#snapshotPages(tip: ChainTip): AsyncGenerator<TxSnapshot[]> {
    const pageSize = this.#scanPageSize;
    let carried: SinceBlockEntry[] = [];
    for (let skip = 0; ; skip += pageSize) {
      const page = await this.#options.backend.listTransactions(pageSize, skip);
      const last = page.length < pageSize;
      let entries = carried.length > 0 ? [...page, ...carried] : page;
      carried = [];
      const oldest = entries[0]?.txid;
      if (!last && oldest !== undefined) {
        carried = entries.filter((entry) => entry.txid === oldest);
        entries = entries.filter((entry) => entry.txid !== oldest);
      }
      yield snapshotsFromSinceBlock({ transactions: entries, removed: [], lastblock: tip.hash });
      if (last) return;
    }
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
    const found = await getTransactionsInBatches(backend, unconfirmed, this.#rpcBatchSize);
    return [...found.values()].flatMap((tx) => (tx ? [snapshotFromWalletTransaction(tx)] : []));
  }

  /** listsinceblock from the last processed block, or FULL_SCAN when the whole history must be read. */
  async #listSince(lastBlockHash: string | null): Promise<SinceBlockResult | typeof FULL_SCAN> {
    const { backend } = this.#options;
    const everything = () => (this.#scanPageSize > 0 ? FULL_SCAN : backend.listSinceBlock(undefined));
    if (lastBlockHash === null) return everything();
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
        return everything();
      }
      // So much happened since (a long outage of a busy wallet) that the reply passed the
      // limit: the paged full scan reads the same, in bounded pages.
      if (err instanceof RpcReplyTooLargeError && this.#scanPageSize > 0) {
        this.#logger.warn(
          { lastBlockHash, err },
          "listsinceblock from the last processed block is larger than the reply limit; scanning every wallet transaction page by page",
        );
        return FULL_SCAN;
      }
      throw err;
    }
  }
}
