/**
 * The transaction updater: walletnotify(txid) → `gettransaction` → one serializable
 * transaction that upserts the network transaction, its per-address deposits, credits or
 * un-credits, and writes the txupdate events. bitcoind notifies every txid its wallet sees
 * (and, with several wallets on one daemon, other wallets' txids too), so a txid that is
 * not ours is normal: it is logged and ignored, never an error.
 */
import type { Backend } from "../backends/backend.js";
import { TransactionNotFoundError } from "../backends/errors.js";
import type { TxUpdateData } from "../events/types.js";
import type { Ledger } from "../ledger/ledger.js";
import { findNetworkTransaction } from "../ledger/network-transactions.js";
import { getChainState } from "../ledger/queries.js";
import { type Logger, silentLogger } from "../log.js";
import { applySnapshot } from "./apply.js";
import { ChainLock } from "./lock.js";
import { commitWithEvents, type TxUpdateSink } from "./sink.js";
import { impliedTipHeight, snapshotFromWalletTransaction } from "./snapshot.js";

/** What every chain worker needs; one set per coin wallet (see ./coin-runtime.ts). */
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
}

export class TransactionUpdater {
  readonly lock: ChainLock;
  readonly #options: ChainWorkerOptions;
  readonly #logger: Logger;
  readonly #stats: UpdaterStats = { notifications: 0, updated: 0, unchanged: 0, ignored: 0, events: 0 };

  constructor(options: ChainWorkerOptions) {
    this.#options = options;
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
    return this.lock.run(() => this.#update(txid));
  }

  async #update(txid: string): Promise<UpdateOutcome> {
    const { ledger, backend, sink } = this.#options;
    let tx: Awaited<ReturnType<Backend["getTransaction"]>>;
    try {
      tx = await backend.getTransaction(txid);
    } catch (err) {
      if (err instanceof TransactionNotFoundError) {
        this.#stats.ignored++;
        this.#logger.info({ txid }, "notified txid is not a transaction of this wallet; ignored");
        return { status: "ignored", txid, reason: "not a transaction of this wallet" };
      }
      throw err;
    }
    const snapshot = snapshotFromWalletTransaction(tx);
    let ours = true;
    const updates = await commitWithEvents(ledger, sink, async (trx, ctx) => {
      // A mined transaction tells the tip height itself; otherwise the last block processed
      // is close enough (it only times the end of tracking a conflicted transaction).
      const tipHeight =
        impliedTipHeight(snapshot) ?? (await getChainState(trx, ctx)).lastBlockHeight ?? undefined;
      const produced = await applySnapshot(trx, ctx, snapshot, tipHeight);
      if (produced.length === 0) {
        ours =
          (await findNetworkTransaction(trx, ctx, txid, "deposit")) !== undefined ||
          (await findNetworkTransaction(trx, ctx, txid, "broadcast")) !== undefined;
      }
      return produced;
    });
    if (updates.length > 0) {
      this.#stats.updated++;
      this.#stats.events += updates.length;
      this.#logger.info(
        { txid, confirmations: updates[0]?.confirmations, events: updates.length },
        "transaction updated",
      );
      return { status: "updated", txid, updates };
    }
    if (!ours) {
      this.#stats.ignored++;
      this.#logger.info({ txid }, "transaction pays no address of ours and is not our broadcast; ignored");
      return { status: "ignored", txid, reason: "touches no address of ours" };
    }
    this.#stats.unchanged++;
    this.#logger.debug({ txid }, "transaction unchanged");
    return { status: "unchanged", txid };
  }
}
