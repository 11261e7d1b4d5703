/**
 * The transaction updater: walletnotify(txid) → `gettransaction` → one serializable
 * transaction that upserts the network transaction, its per-address deposits, credits or
 * un-credits, and writes the txupdate events. bitcoind notifies every txid its wallet sees
 * (and, with several wallets on one daemon, other wallets' txids too), so a txid that is
 * not ours is normal: it is logged and ignored, never an error.
 *
 * Group commit: txids that arrive while the wallet's chain lock is busy wait together and
 * go through as one batch — one batched `gettransaction` request and one database
 * transaction for all of them (measured: the per-transaction commit, lock hand-over and RPC
 * round trip were most of the cost of a lone update). If a batch's transaction fails, each
 * txid is retried on its own, so one bad transaction cannot hold back the others.
 */

import type { Backend, WalletTransaction } from "../backends/backend.js";
import { SERVICE_DEFAULTS } from "../config/defaults.js";
import { TransactionNotFoundError } from "../errors.js";
import type { TxUpdateData } from "../events/types.js";
import type { Ledger } from "../ledger/ledger.js";
import { type AppliedObservation, findNetworkTransactions } from "../ledger/network-transactions.js";
import { getChainState } from "../ledger/queries.js";
import { type Logger, silentLogger } from "../log.js";
import { applySnapshots, movesBack, type SnapshotAt } from "./apply.js";
import { findNodeBehind } from "./behind.js";
import { ChainLock } from "./lock.js";
import { commitWithEvents, type TxUpdateSink } from "./sink.js";
import { impliedTipHeight, snapshotFromWalletTransaction } from "./snapshot.js";

/** What every chain worker needs; one set per coin wallet (see src/service/coin-runtime.ts). */
export interface ChainWorkerOptions {
  ledger: Ledger;
  backend: Backend;
  sink: TxUpdateSink;
  /** Shared by every chain worker of this wallet; a private one when omitted. */
  lock?: ChainLock;
  logger?: Logger;
}

export type UpdateOutcome =
  /** The ledger changed; one txupdate per payload was written. */
  | { status: "updated"; txid: string; updates: TxUpdateData[] }
  /** Ours, but nothing changed since the last update (a repeated notification). */
  | { status: "unchanged"; txid: string }
  /** Not a transaction of this wallet, or it touches no address of ours: ignored. */
  | { status: "ignored"; txid: string; reason: string };

export interface UpdaterStats {
  notifications: number;
  updated: number;
  unchanged: number;
  ignored: number;
  events: number;
  /** Database transactions used for those notifications (group commit). */
  batches: number;
}

/** txids named in the log line of one batch's updates (the count says how many there were). */
const MAX_LOGGED_TXIDS = 20;

interface Waiting {
  txid: string;
  resolve(outcome: UpdateOutcome): void;
  reject(err: unknown): void;
}

export interface TransactionUpdaterOptions extends ChainWorkerOptions {
  /** Most txids per database transaction (default service.update_batch_size; 1 disables batching). */
  maxBatch?: number | undefined;
}

export class TransactionUpdater {
  readonly lock: ChainLock;
  readonly #options: TransactionUpdaterOptions;
  /** Most txids per database transaction. */
  readonly maxBatch: number;
  readonly #logger: Logger;
  readonly #stats: UpdaterStats = {
    notifications: 0,
    updated: 0,
    unchanged: 0,
    ignored: 0,
    events: 0,
    batches: 0,
  };
  readonly #waiting: Waiting[] = [];
  #draining = false;

  constructor(options: TransactionUpdaterOptions) {
    this.#options = options;
    this.maxBatch = Math.max(1, options.maxBatch ?? SERVICE_DEFAULTS.update_batch_size);
    this.lock = options.lock ?? new ChainLock();
    this.#logger = (options.logger ?? silentLogger).child({
      module: "chain.updater",
      coin: options.ledger.coin.name,
    });
  }

  stats(): UpdaterStats {
    return { ...this.#stats };
  }

  /**
   * Fetches the transaction from the daemon and applies it. Throws only when the daemon or
   * the database fails (the caller's queue logs it; the periodic re-check repairs it).
   */
  update(txid: string): Promise<UpdateOutcome> {
    this.#stats.notifications++;
    return new Promise((resolve, reject) => {
      this.#waiting.push({ txid, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  /** Takes the waiting txids in batches, each under the chain lock, until none is left. */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#waiting.length > 0) {
        await this.lock.run(async () => {
          // Taken once the lock is ours: everything that arrived meanwhile joins this batch.
          const batch = this.#waiting.splice(0, this.maxBatch);
          await this.#runBatch(batch);
        });
      }
    } finally {
      this.#draining = false;
    }
  }

  async #runBatch(batch: Waiting[]): Promise<void> {
    let fetched: Map<string, WalletTransaction | null>;
    try {
      fetched =
        batch.length === 1
          ? await this.#fetchOne((batch[0] as Waiting).txid)
          : await this.#options.backend.getTransactions(batch.map((w) => w.txid));
    } catch (err) {
      for (const waiting of batch) waiting.reject(err);
      return;
    }
    try {
      const outcomes = await this.#apply(
        batch.map((w) => w.txid),
        fetched,
      );
      for (const [i, waiting] of batch.entries()) waiting.resolve(outcomes[i] as UpdateOutcome);
    } catch (err) {
      if (batch.length === 1) {
        (batch[0] as Waiting).reject(err);
        return;
      }
      this.#logger.warn(
        { txids: batch.length, err },
        "batched update failed; applying its transactions one by one",
      );
      for (const waiting of batch) {
        try {
          const [outcome] = await this.#apply([waiting.txid], fetched);
          waiting.resolve(outcome as UpdateOutcome);
        } catch (oneErr) {
          waiting.reject(oneErr);
        }
      }
    }
  }

  async #fetchOne(txid: string): Promise<Map<string, WalletTransaction | null>> {
    try {
      return new Map([[txid, await this.#options.backend.getTransaction(txid)]]);
    } catch (err) {
      if (err instanceof TransactionNotFoundError) return new Map([[txid, null]]);
      throw err;
    }
  }

  /**
   * Applies the fetched transactions in ONE serializable transaction; an outcome per txid.
   * With `hold`, a transaction the daemon now shows moved back (./apply.ts movesBack) is
   * left out, then applied only if the node is not merely behind (./behind.ts).
   */
  async #apply(
    txids: string[],
    fetched: Map<string, WalletTransaction | null>,
    hold = true,
  ): Promise<UpdateOutcome[]> {
    const { ledger, sink } = this.#options;
    let outcomes: UpdateOutcome[] = [];
    let held: string[] = [];
    this.#stats.batches++;
    await commitWithEvents(ledger, sink, async (trx, ctx) => {
      outcomes = [];
      held = [];
      const present = txids.filter((txid) => fetched.get(txid));
      // Read once for the whole batch: the hold check and the apply both use them.
      const known = await findNetworkTransactions(trx, ctx, present);
      let lastBlockHeight: number | null | undefined;
      const lastHeight = async () => {
        if (lastBlockHeight === undefined) lastBlockHeight = (await getChainState(trx, ctx)).lastBlockHeight;
        return lastBlockHeight;
      };
      const items: SnapshotAt[] = [];
      /** Position in `items` of each txid's snapshot; undefined: not applied. */
      const slots: Array<number | undefined> = [];
      for (const txid of txids) {
        const tx = fetched.get(txid);
        slots.push(undefined);
        if (!tx) continue;
        const snapshot = snapshotFromWalletTransaction(tx);
        const implied = impliedTipHeight(snapshot);
        const height = hold || implied === undefined ? await lastHeight() : null;
        if (hold && movesBack(known, snapshot, height)) continue;
        // A mined transaction tells the tip height itself; otherwise the last block processed
        // is close enough (it only times the end of tracking a conflicted transaction).
        slots[slots.length - 1] = items.length;
        items.push({ snapshot, tipHeight: implied ?? height ?? undefined });
      }
      const applied = await applySnapshots(trx, ctx, items, known);
      txids.forEach((txid, i) => {
        const slot = slots[i];
        if (!fetched.get(txid)) {
          outcomes.push({ status: "ignored", txid, reason: "not a transaction of this wallet" });
        } else if (slot === undefined) {
          held.push(txid);
          outcomes.push({ status: "unchanged", txid });
        } else {
          const { updates, ours } = applied[slot] as AppliedObservation;
          if (updates.length > 0) outcomes.push({ status: "updated", txid, updates });
          else if (ours) outcomes.push({ status: "unchanged", txid });
          else outcomes.push({ status: "ignored", txid, reason: "touches no address of ours" });
        }
      });
      return applied.flatMap(({ updates }) => updates);
    });
    // Applied by the second call, which counted them: a reorg, not a node that is behind.
    let applied = new Map<string, UpdateOutcome>();
    if (held.length > 0) {
      const behind = await findNodeBehind(ledger, this.#options.backend);
      if (behind) {
        this.#logger.warn(
          {
            txids: held.slice(0, 20),
            count: held.length,
            height: behind.tip.height,
            waitingFor: behind.waitingFor,
          },
          "the node is behind the last processed block (it lost blocks, e.g. in a crash): its older view of these transactions is not applied",
        );
      } else {
        applied = new Map((await this.#apply(held, fetched, false)).map((o) => [o.txid, o]));
      }
    }
    const counted = outcomes.filter((outcome) => !applied.has(outcome.txid));
    for (const outcome of counted) this.#count(outcome);
    this.#logUpdated(counted);
    return outcomes.map((outcome) => applied.get(outcome.txid) ?? outcome);
  }

  /**
   * One line per database transaction, not per deposit: under a backlog a line each was a
   * log flood and a noticeable share of a deposit's CPU (issue 14). The events are the record.
   */
  #logUpdated(outcomes: readonly UpdateOutcome[]): void {
    const updated = outcomes.flatMap((o) => (o.status === "updated" ? [o] : []));
    if (updated.length === 0) return;
    const events = updated.reduce((sum, o) => sum + o.updates.length, 0);
    const txids = updated.slice(0, MAX_LOGGED_TXIDS).map((o) => o.txid);
    const first = updated[0] as (typeof updated)[number];
    this.#logger.info(
      updated.length === 1
        ? { txid: first.txid, confirmations: first.updates[0]?.confirmations, events }
        : { count: updated.length, events, txids },
      "transactions updated",
    );
  }

  #count(outcome: UpdateOutcome): void {
    const { txid } = outcome;
    if (outcome.status === "updated") {
      this.#stats.updated++;
      this.#stats.events += outcome.updates.length;
    } else if (outcome.status === "unchanged") {
      this.#stats.unchanged++;
      this.#logger.debug({ txid }, "transaction unchanged");
    } else {
      this.#stats.ignored++;
      this.#logger.info(
        { txid },
        outcome.reason === "not a transaction of this wallet"
          ? "notified txid is not a transaction of this wallet; ignored"
          : "transaction pays no address of ours and is not our broadcast; ignored",
      );
    }
  }
}
