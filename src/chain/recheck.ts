/**
 * Re-reading every open network transaction from the daemon, two ways:
 *
 * - `batched` (the periodic full re-check, `recheck_period`): `gettransaction` for all of
 *   them in JSON-RPC batches — one HTTP round trip per `rpcBatchSize` transactions. It
 *   repairs whatever the block-driven tracker could not see (a lost notification, a block
 *   processed while the database was down, a chain that shrank).
 * - `per-transaction` (`confirmation_strategy: poll`, the original's behaviour): one
 *   `gettransaction` call per open transaction every `poll_period`. Kept so the two
 *   strategies can be compared; its cost grows with the number of open transactions.
 *
 * A tracked transaction the daemon no longer knows (a wallet restored from an old backup,
 * a different daemon) is logged and left as it is: forgetting deposits is not ours to decide.
 */
import type { WalletTransaction } from "../backends/backend.js";
import { ChainConfigError, TransactionNotFoundError } from "../errors.js";
import type { TxUpdateData } from "../events/types.js";
import { findNetworkTransactions, listTrackedNetworkTransactions } from "../ledger/network-transactions.js";
import { getChainState } from "../ledger/queries.js";
import { type Logger, silentLogger } from "../log.js";
import { applySnapshots, movesBack, type SnapshotAt } from "./apply.js";
import { applyBatchSize, getTransactionsInBatches, RPC_BATCH_SIZE } from "./batches.js";
import { findNodeBehind } from "./behind.js";
import { ChainLock } from "./lock.js";
import { commitWithEvents } from "./sink.js";
import { impliedTipHeight, snapshotFromWalletTransaction, type TxSnapshot } from "./snapshot.js";
import type { ChainWorkerOptions } from "./updater.js";

export type RecheckMode = "batched" | "per-transaction";

export interface RecheckOptions extends ChainWorkerOptions {
  mode?: RecheckMode;
  /** gettransaction calls per HTTP request in batched mode (default 250). */
  rpcBatchSize?: number;
}

export interface RecheckResult {
  /** Open transactions looked up. */
  checked: number;
  /** Of those, unknown to the daemon (left as they were). */
  missing: string[];
  updates: TxUpdateData[];
}

export class OpenTransactionRechecker {
  readonly lock: ChainLock;
  readonly mode: RecheckMode;
  readonly #options: RecheckOptions;
  readonly #rpcBatchSize: number;
  readonly #logger: Logger;

  constructor(options: RecheckOptions) {
    this.#options = options;
    this.lock = options.lock ?? new ChainLock();
    this.mode = options.mode ?? "batched";
    this.#rpcBatchSize = options.rpcBatchSize ?? RPC_BATCH_SIZE;
    if (!Number.isInteger(this.#rpcBatchSize) || this.#rpcBatchSize < 1) {
      throw new ChainConfigError(`re-check: rpcBatchSize must be an integer >= 1, got ${this.#rpcBatchSize}`);
    }
    this.#logger = (options.logger ?? silentLogger).child({
      module: this.mode === "batched" ? "chain.recheck" : "chain.poll",
      coin: options.ledger.coin.name,
    });
  }

  /** Looks up every open network transaction and applies what the daemon says now. */
  recheck(): Promise<RecheckResult> {
    return this.lock.run(() => this.#recheck());
  }

  async #recheck(): Promise<RecheckResult> {
    const { ledger, sink } = this.#options;
    const open = await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
    const txids = [...new Set(open.map((ntx) => ntx.txid).filter((txid): txid is string => txid !== null))];
    const found =
      this.mode === "batched"
        ? await getTransactionsInBatches(this.#options.backend, txids, this.#rpcBatchSize)
        : await this.#fetchEach(txids);
    const snapshots: TxSnapshot[] = [];
    const missing: string[] = [];
    for (const txid of txids) {
      const tx = found.get(txid);
      if (tx) snapshots.push(snapshotFromWalletTransaction(tx));
      else missing.push(txid);
    }
    if (missing.length > 0) {
      this.#logger.warn(
        { missing: missing.slice(0, 20), count: missing.length },
        "open transactions unknown to the daemon; left unchanged",
      );
    }
    const implied = snapshots
      .map(impliedTipHeight)
      .filter((height): height is number => height !== undefined);
    const tipHeight =
      implied.length > 0
        ? Math.max(...implied)
        : ((await ledger.run((trx, ctx) => getChainState(trx, ctx))).lastBlockHeight ?? undefined);
    // Several transactions of applyBatchSize snapshots, not one for all: a single
    // PostgreSQL transaction applying 10,000 ran out of predicate-lock memory ("out of
    // shared memory") and would have to start over on any serialization conflict.
    const updates: TxUpdateData[] = [];
    // Snapshots that move a mined transaction back wait until the node has told whether it
    // reorganised or is only behind (./behind.ts).
    const held: TxSnapshot[] = [];
    const apply = async (chunk: readonly TxSnapshot[], hold: boolean) => {
      let heldHere: TxSnapshot[] = [];
      updates.push(
        ...(await commitWithEvents(ledger, sink, async (trx, ctx) => {
          heldHere = []; // a retried transaction starts over
          const lastBlockHeight = hold ? (await getChainState(trx, ctx)).lastBlockHeight : null;
          const known = hold
            ? await findNetworkTransactions(
                trx,
                ctx,
                chunk.map((snapshot) => snapshot.txid),
              )
            : undefined;
          const items: SnapshotAt[] = [];
          for (const snapshot of chunk) {
            if (known && movesBack(known, snapshot, lastBlockHeight)) heldHere.push(snapshot);
            else items.push({ snapshot, tipHeight });
          }
          return (await applySnapshots(trx, ctx, items, known)).flatMap((applied) => applied.updates);
        })),
      );
      held.push(...heldHere);
    };
    const batchSize = applyBatchSize(ledger.database.engine);
    for (let i = 0; i < snapshots.length; i += batchSize) {
      await apply(snapshots.slice(i, i + batchSize), true);
    }
    if (held.length > 0) {
      const behind = await findNodeBehind(ledger, this.#options.backend);
      if (behind) {
        this.#logger.warn(
          { count: held.length, height: behind.tip.height, waitingFor: behind.waitingFor },
          "the node is behind the last processed block (it lost blocks, e.g. in a crash): its older view of some open transactions is not applied",
        );
      } else {
        const reorganised = held.splice(0);
        for (let i = 0; i < reorganised.length; i += batchSize) {
          await apply(reorganised.slice(i, i + batchSize), false);
        }
      }
    }
    this.#logger.info({ checked: txids.length, events: updates.length }, "open transactions re-checked");
    return { checked: txids.length, missing, updates };
  }

  async #fetchEach(txids: readonly string[]): Promise<Map<string, WalletTransaction | null>> {
    const found = new Map<string, WalletTransaction | null>();
    for (const txid of txids) {
      try {
        found.set(txid, await this.#options.backend.getTransaction(txid));
      } catch (err) {
        if (!(err instanceof TransactionNotFoundError)) throw err;
        found.set(txid, null);
      }
    }
    return found;
  }
}
