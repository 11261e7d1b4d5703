/**
 * The broadcaster (docs/architecture.md §6 Sending): every `broadcast_period`, the wallet's pending sends go
 * out as one `sendmany` (several when the daemon refuses one, see below), in three steps that each commit before the next begins:
 *
 *   1. open:  the sends are tied to a new broadcast with `opened_at` set     (DB commit)
 *   2. send:  `sendmany` to the daemon                                        (RPC)
 *   3. close: txid, `closed_at`, the fee charged to the network-fee account,
 *             and a txupdate (0 confirmations) per send                       (DB commit)
 *
 * Why opened_at first: if the process dies during step 2, nobody knows whether the daemon
 * paid. A broadcast found opened but never closed is "interrupted" — it is never re-sent
 * automatically (that could pay twice). Every sendmany carries the comment
 * `cryptoassets:<ledger id>:ntx:<id>`, which bitcoind keeps with the transaction: each period
 * the broadcaster looks for the comments of interrupted broadcasts in the daemon's wallet and
 * closes those whose transaction is their payment (./recovery.ts: same outputs, not older
 * than the broadcast). The rest are reported for an operator (`cryptoassets broadcasts`), who
 * releases them once sure nothing left.
 *
 * What a failed sendmany means:
 * - the daemon answered with a JSON-RPC error (insufficient funds, bad address, warming up),
 *   or the request demonstrably never reached it (connection refused, HTTP 401/403, client
 *   closed, outputs rejected before sending): nothing was sent → the broadcast is released.
 *   A refusal about one output (./refusals.ts: a bad address, dust) would refuse every
 *   batch that carries it, so the outputs are sent in halves until the culprit is alone:
 *   it fails (amount back, a `sendfailed` event) and the rest go out this period. A
 *   shortfall of the hot wallet, or a refusal about the daemon (warming up, wallet locked),
 *   keeps the sends pending for the next period;
 * - a timeout, a reset connection or a garbled reply AFTER the request was sent is
 *   ambiguous — the daemon may have paid and only the answer was lost. It is left open
 *   (interrupted), never retried: a stuck payment is an operator's five minutes, a double
 *   payment is lost money.
 */
import type { Backend, WalletTransaction } from "../backends/backend.js";
import { ChainLock } from "../chain/lock.js";
import type { NetworkCheck } from "../chain/network.js";
import { commitWithEvents, type TxUpdateSink } from "../chain/sink.js";
import {
  BackendError,
  errorMessage,
  InvalidAmountError,
  RpcError,
  RpcTransportError,
  UnexpectedResponseError,
} from "../errors.js";
import type { NewEvent } from "../events/outbox/write-events.js";
import type { TxUpdateData } from "../events/types.js";
import {
  bookBroadcastFee,
  broadcastComment,
  closeBroadcast,
  commentOf,
  failSend,
  listBroadcastSends,
  listBroadcastsWithoutFee,
  listInterruptedBroadcasts,
  listPendingSends,
  openBroadcast,
  type PendingSend,
  releaseBroadcast,
  setRecoveryNote,
} from "../ledger/broadcasts.js";
import type { Ledger } from "../ledger/ledger.js";
import { type NetworkTransaction, updateConfirmations } from "../ledger/network-transactions.js";
import { type Logger, silentLogger } from "../log.js";
import { HotWalletMonitor, type HotWalletStatus } from "./hot-wallet.js";
import { type BroadcastSearch, findBroadcastPayment, recoveryNote } from "./recovery.js";
import { classifyRefusal } from "./refusals.js";

export interface BroadcasterOptions {
  ledger: Ledger;
  backend: Backend;
  sink: TxUpdateSink;
  /** Shared with the chain follower so a fresh txid is recorded before a tick can look for it. */
  lock?: ChainLock;
  /** Nothing is sent before the daemon's chain matches the configured network. */
  network?: NetworkCheck;
  /** Base units: below this balance the hot wallet is low (`coins.<coin>.hot_wallet_threshold`). */
  hotWalletThreshold?: bigint;
  logger?: Logger;
}

export type BroadcastOutcome =
  | { status: "idle" }
  /** Sent: the network transaction, its txid, the fee charged and the sends it carried. */
  | {
      status: "broadcasted";
      networkTransactionId: number;
      txid: string;
      fee: bigint;
      sendIds: number[];
      feeKnown: boolean;
    }
  /** The daemon refused or was unreachable before the request: the sends stay pending. */
  | { status: "released"; sendIds: number[]; error: Error }
  /** Unknown whether the daemon paid: left open for an operator, never retried. */
  | { status: "interrupted"; networkTransactionId: number; sendIds: number[]; error: Error }
  /**
   * The daemon refused the batch and its culprits were isolated: the broadcasts that went
   * out, the sends that failed (refused alone), the sends kept pending (a shortfall, or a
   * refusal about the daemon), and a broadcast left interrupted if one was.
   */
  | {
      status: "isolated";
      broadcasts: Array<{
        networkTransactionId: number;
        txid: string;
        fee: bigint | null;
        sendIds: number[];
      }>;
      failed: Array<{ sendId: number; reason: string }>;
      held: number[];
      interrupted: { networkTransactionId: number; sendIds: number[] } | undefined;
      error: Error;
    };

/** Sends to one address: one output of a sendmany. */
interface Output {
  address: string;
  amount: bigint;
  sends: PendingSend[];
}

type Attempt =
  | { kind: "broadcasted"; networkTransactionId: number; txid: string; fee: bigint | null; sendIds: number[] }
  | { kind: "released"; sendIds: number[]; error: Error }
  | { kind: "interrupted"; networkTransactionId: number; sendIds: number[]; error: Error };

/** What one period did, sendmany by sendmany. */
interface Period {
  attempts: Attempt[];
  failed: Array<{ sendId: number; reason: string }>;
  held: number[];
  /** The daemon refused sends for insufficient funds (a shortfall of the hot wallet). */
  shortfall: boolean;
  /** The first refusal or failure. */
  error: Error | undefined;
}

/** One sendmany: reported as before isolation existed; several: "isolated". */
function periodOutcome(period: Period): BroadcastOutcome {
  const [first] = period.attempts;
  if (period.attempts.length === 1 && first) {
    if (first.kind === "broadcasted") {
      const { networkTransactionId, txid, fee, sendIds } = first;
      return {
        status: "broadcasted",
        networkTransactionId,
        txid,
        fee: fee ?? 0n,
        sendIds,
        feeKnown: fee !== null,
      };
    }
    if (first.kind === "interrupted") {
      const { networkTransactionId, sendIds, error } = first;
      return { status: "interrupted", networkTransactionId, sendIds, error };
    }
    // Refused alone for its own sake: isolated (it failed); otherwise released, pending.
    if (period.failed.length === 0) return { status: "released", sendIds: first.sendIds, error: first.error };
  }
  const interrupted = period.attempts.find((attempt) => attempt.kind === "interrupted");
  return {
    status: "isolated",
    broadcasts: period.attempts.flatMap((attempt) =>
      attempt.kind === "broadcasted"
        ? [
            {
              networkTransactionId: attempt.networkTransactionId,
              txid: attempt.txid,
              fee: attempt.fee,
              sendIds: attempt.sendIds,
            },
          ]
        : [],
    ),
    failed: period.failed,
    held: period.held,
    interrupted:
      interrupted?.kind === "interrupted"
        ? { networkTransactionId: interrupted.networkTransactionId, sendIds: interrupted.sendIds }
        : undefined,
    error: period.error ?? new Error("isolated"),
  };
}

export interface BroadcasterStats {
  broadcasts: number;
  /** Sendmany calls the daemon refused (nothing sent). */
  released: number;
  interrupted: number;
  /** Sends the daemon refused alone: failed, amounts returned. */
  failedSends: number;
  /** Periods in which a refused batch was split to isolate its culprits. */
  isolations: number;
  /** Interrupted broadcasts found in the daemon's wallet by their comment and closed. */
  recovered: number;
  /** Wallet transactions carrying an interrupted broadcast's comment that were not its payment. */
  recoveryRefused: number;
  /** Fees booked after the close, because the daemon could not tell them at the time. */
  feesBookedLater: number;
  lastOutcome: BroadcastOutcome["status"] | undefined;
  lastError: string | undefined;
}

/** Interrupted broadcasts younger than this are looked for every period, older ones this often. */
const RECENT_BROADCAST_MS = 10 * 60_000;

/** True when the failure proves the request did not reach (or was not executed by) the daemon. */
export function nothingWasSent(err: unknown): boolean {
  if (err instanceof RpcError) return true; // the daemon answered: it refused
  if (err instanceof RpcTransportError) {
    if (err.failure === "refused" || err.failure === "unauthorized") return true;
    // bitcoind checks rpcallowip (403) and credentials (401) before reading the request.
    return err.failure === "http-status" && (err.status === 401 || err.status === 403);
  }
  // A reply arrived but made no sense: the daemon may well have executed the call.
  if (err instanceof UnexpectedResponseError) return false;
  // Client closed, outputs rejected locally, a backend that cannot send: raised before any request.
  return err instanceof BackendError || err instanceof InvalidAmountError;
}

export class Broadcaster {
  readonly lock: ChainLock;
  readonly #options: BroadcasterOptions;
  readonly #logger: Logger;
  readonly #reportedInterrupted = new Set<number>();
  /** Interrupted broadcast id → the recovery note last logged (each new finding is logged once). */
  readonly #reportedRefusals = new Map<number, string>();
  /** Interrupted broadcast id → when to look for its comment again (see recoverInterrupted). */
  readonly #nextLookupAt = new Map<number, number>();
  readonly #stats: BroadcasterStats = {
    broadcasts: 0,
    released: 0,
    interrupted: 0,
    failedSends: 0,
    isolations: 0,
    recovered: 0,
    recoveryRefused: 0,
    feesBookedLater: 0,
    lastOutcome: undefined,
    lastError: undefined,
  };
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<unknown> | undefined;
  readonly #hotWallet: HotWalletMonitor;
  /** The last period's sends were refused for insufficient funds. */
  #shortfall = false;

  constructor(options: BroadcasterOptions) {
    this.#options = options;
    this.lock = options.lock ?? new ChainLock();
    this.#logger = (options.logger ?? silentLogger).child({
      module: "broadcast",
      coin: options.ledger.coin.name,
    });
    this.#hotWallet = new HotWalletMonitor({
      ledger: options.ledger,
      backend: options.backend,
      sink: options.sink,
      threshold: options.hotWalletThreshold,
      logger: this.#logger,
    });
  }

  /**
   * After a period: is the hot wallet low (a shortfall, or below the threshold)? Fires
   * `hotwalletlow` when that changes; see ./hot-wallet.ts.
   */
  checkHotWallet(): Promise<HotWalletStatus | undefined> {
    return this.lock.run(() => this.#hotWallet.check(this.#shortfall));
  }

  /** The last hot-wallet check's figures, for /health and the status page. */
  hotWallet(): HotWalletStatus | undefined {
    return this.#hotWallet.status();
  }

  stats(): BroadcasterStats {
    return { ...this.#stats };
  }

  /** Broadcasts opened but never closed: for the status page and operators. */
  listInterrupted(): Promise<NetworkTransaction[]> {
    return this.#options.ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx));
  }

  /** One broadcast period: all pending sends of the wallet in one sendmany. */
  broadcastPending(): Promise<BroadcastOutcome> {
    const run = this.lock.run(() => this.#broadcast());
    this.#inFlight = run.catch(() => undefined);
    return run;
  }

  /** Runs broadcastPending every `periodMs`; failures are logged and the next period retries. */
  start(periodMs: number): void {
    if (this.#timer) return;
    let ticking = false;
    const tick = async () => {
      // A period that overruns the next one (a slow daemon) is not stacked behind it.
      if (ticking) return;
      ticking = true;
      try {
        await this.recoverInterrupted();
        await this.reportInterrupted();
        await this.bookMissingFees();
        await this.broadcastPending();
        await this.checkHotWallet();
      } catch (err) {
        this.#stats.lastError = errorMessage(err);
        this.#logger.error({ err }, "broadcast period failed; retrying next period");
      } finally {
        ticking = false;
      }
    };
    this.#timer = setInterval(() => void tick(), periodMs);
    void tick();
  }

  /** Stops the timer and waits for a broadcast in flight to finish its steps. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  /**
   * Closes each interrupted broadcast whose payment is in the daemon's wallet (the daemon
   * paid; only its answer was lost), with its fee and txupdates as if the answer had come.
   * Returns how many were closed. A broadcast not found stays interrupted: the daemon may
   * not have paid, or a request from a killed process may still be on its way — it is looked
   * for again next period, never re-sent. A transaction that carries its comment but is not
   * its payment (./recovery.ts) is logged, noted on the broadcast for the operator, not taken.
   */
  recoverInterrupted(): Promise<number> {
    return this.lock.run(async () => {
      const interrupted = await this.listInterrupted();
      let recovered = 0;
      const now = Date.now();
      for (const ntx of interrupted) {
        if ((this.#nextLookupAt.get(ntx.id) ?? 0) > now) continue;
        const search = await findBroadcastPayment(this.#options.ledger, this.#options.backend, ntx);
        await this.#reportRefusals(ntx, search);
        const txid = search.accepted;
        if (txid === undefined) {
          // A paid sendmany shows up at once; one opened long ago and still not found is
          // looked for only every few minutes (each look pages back to its opening).
          const age = now - (ntx.opened_at ?? 0);
          if (age > RECENT_BROADCAST_MS) this.#nextLookupAt.set(ntx.id, now + RECENT_BROADCAST_MS);
          continue;
        }
        this.#nextLookupAt.delete(ntx.id);
        const sends = await this.#options.ledger.run((trx, ctx) => listBroadcastSends(trx, ctx, ntx.id));
        const fee = await this.#close(
          ntx.id,
          txid,
          sends.map((send) => send.id),
        );
        recovered++;
        this.#stats.recovered++;
        this.#reportedInterrupted.delete(ntx.id);
        this.#reportedRefusals.delete(ntx.id);
        this.#logger.warn(
          {
            networkTransaction: ntx.id,
            comment: search.comment,
            txid,
            fee: fee?.toString() ?? "unknown",
            sends: sends.length,
          },
          "interrupted broadcast found in the daemon's wallet by its comment: closed as sent",
        );
      }
      return recovered;
    });
  }

  /** Logs each new finding of recovery once and keeps the latest on the broadcast's row. */
  async #reportRefusals(ntx: NetworkTransaction, search: BroadcastSearch): Promise<void> {
    const note = recoveryNote(search);
    if (note !== ntx.recovery_note) {
      await this.#options.ledger.run((trx, ctx) => setRecoveryNote(trx, ctx, ntx.id, note));
    }
    if (note === null || this.#reportedRefusals.get(ntx.id) === note) return;
    this.#reportedRefusals.set(ntx.id, note);
    this.#stats.recoveryRefused += search.refused.length;
    this.#logger.error(
      {
        networkTransaction: ntx.id,
        comment: search.comment,
        openedAt: ntx.opened_at === null ? null : new Date(ntx.opened_at).toISOString(),
        refused: search.refused,
      },
      `interrupted broadcast: ${note}. It stays interrupted for the operator (cryptoassets broadcasts <config> list)`,
    );
  }

  /** Logs each interrupted broadcast once per process, loudly: money may or may not have left. */
  async reportInterrupted(): Promise<NetworkTransaction[]> {
    const interrupted = await this.listInterrupted();
    for (const ntx of interrupted) {
      if (this.#reportedInterrupted.has(ntx.id)) continue;
      this.#reportedInterrupted.add(ntx.id);
      this.#logger.error(
        {
          networkTransaction: ntx.id,
          comment: commentOf(ntx),
          openedAt: ntx.opened_at === null ? null : new Date(ntx.opened_at).toISOString(),
        },
        "interrupted broadcast: opened but never closed, and no transaction in the daemon's wallet is its payment yet; it will NOT be re-sent. Once sure the daemon did not pay, release it: cryptoassets broadcasts <config> release <id>",
      );
    }
    return interrupted;
  }

  async #broadcast(): Promise<BroadcastOutcome> {
    const { ledger } = this.#options;
    const pending = await ledger.run((trx, ctx) => listPendingSends(trx, ctx));
    if (pending.length === 0) {
      this.#shortfall = false;
      return { status: "idle" };
    }
    // A daemon on another chain would refuse every address; it must stop the service, not fail sends.
    await this.#options.network?.ensure();
    // sendmany takes one amount per address: sends to the same address are one output.
    const outputs = new Map<string, Output>();
    for (const send of pending) {
      const output = outputs.get(send.address) ?? { address: send.address, amount: 0n, sends: [] };
      output.amount += send.amount;
      output.sends.push(send);
      outputs.set(send.address, output);
    }
    const period: Period = { attempts: [], failed: [], held: [], shortfall: false, error: undefined };
    try {
      await this.#sendOutputs([...outputs.values()], period);
    } finally {
      this.#shortfall = period.shortfall;
    }
    const outcome = periodOutcome(period);
    this.#stats.lastOutcome = outcome.status;
    if (period.attempts.length > 1) this.#stats.isolations++;
    return outcome;
  }

  /**
   * One sendmany of `outputs` (open, send, close). When the daemon refuses it for an output's
   * sake, the outputs are split in halves and each half is sent on its own, down to the
   * single output that is refused alone: that one fails (its sends end `failed`, their
   * amounts go back, a `sendfailed` each), and every other send still goes out this period.
   * A shortfall of the hot wallet or a refusal that is not about an output keeps the sends
   * pending. Returns false when the period must stop (the daemon's state, or an ambiguous
   * failure: nothing more is sent until an operator or the next period looks).
   */
  async #sendOutputs(outputs: readonly Output[], period: Period): Promise<boolean> {
    const { ledger, backend } = this.#options;
    const sendIds = outputs.flatMap((output) => output.sends.map((send) => send.id)).sort((a, b) => a - b);
    const ntxId = await ledger.run((trx, ctx) => openBroadcast(trx, ctx, sendIds));
    this.#logger.info(
      { networkTransaction: ntxId, sends: sendIds.length, outputs: outputs.length },
      "broadcast opened",
    );
    let txid: string;
    try {
      txid = await backend.sendMany(
        new Map(outputs.map((output) => [output.address, output.amount])),
        broadcastComment(ledger.ctx.ledgerId, ntxId),
      );
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#stats.lastError = error.message;
      period.error ??= error;
      if (!nothingWasSent(err)) {
        period.attempts.push({ kind: "interrupted", networkTransactionId: ntxId, sendIds, error });
        this.#stats.interrupted++;
        this.#reportedInterrupted.add(ntxId);
        this.#logger.error(
          { networkTransaction: ntxId, sends: sendIds.length, err },
          "sendmany outcome unknown (the request may have reached the daemon): broadcast left interrupted, NOT retried; an operator must check the daemon's wallet",
        );
        return false;
      }
      await ledger.run((trx, ctx) => releaseBroadcast(trx, ctx, ntxId));
      period.attempts.push({ kind: "released", sendIds, error });
      this.#stats.released++;
      const refusal = classifyRefusal(err);
      const only = outputs.length === 1 ? outputs[0] : undefined;
      if (refusal === "output" && only) {
        await this.#fail(only, err instanceof RpcError ? err.rpcMessage : error.message, period);
        return true;
      }
      if (refusal === "output" || (refusal === "batch" && !only)) {
        this.#logger.warn(
          { networkTransaction: ntxId, sends: sendIds.length, outputs: outputs.length, err },
          "the daemon refused the batch for one of its outputs: sending it in halves to find which",
        );
        const middle = Math.ceil(outputs.length / 2);
        for (const half of [outputs.slice(0, middle), outputs.slice(middle)]) {
          if (!(await this.#sendOutputs(half, period))) return false;
        }
        return true;
      }
      period.held.push(...sendIds);
      if (refusal === "shortfall") period.shortfall = true;
      this.#logger.warn(
        { networkTransaction: ntxId, sends: sendIds.length, err },
        refusal === "shortfall"
          ? "the hot wallet holds too little for these sends: they stay pending until it is topped up"
          : "sendmany refused before anything was sent; the sends stay pending for the next period",
      );
      // A refusal about the daemon itself would refuse the other halves too.
      return refusal !== "daemon";
    }

    const fee = await this.#feeOf(txid);
    await this.#close(ntxId, txid, sendIds, fee);
    this.#stats.broadcasts++;
    period.attempts.push({ kind: "broadcasted", networkTransactionId: ntxId, txid, fee, sendIds });
    this.#logger.info(
      { networkTransaction: ntxId, txid, fee: fee?.toString() ?? "unknown", sends: sendIds.length },
      "broadcast sent",
    );
    return true;
  }

  /** The sends of an output the daemon refused alone: failed, amounts back, one sendfailed each (one transaction). */
  async #fail(output: Output, reason: string, period: Period): Promise<void> {
    const { ledger, sink } = this.#options;
    const ids = output.sends.map((send) => send.id);
    await ledger.run(async (trx, ctx) => {
      const events: NewEvent[] = [];
      for (const id of ids)
        events.push({ event_name: "sendfailed", data: await failSend(trx, ctx, id, reason) });
      await sink.write(trx, events);
    });
    sink.notifyCommitted();
    for (const id of ids) period.failed.push({ sendId: id, reason });
    this.#stats.failedSends += ids.length;
    this.#logger.error(
      { sends: ids, address: output.address, amount: output.amount.toString(), reason },
      "the daemon refused this output on its own: the sends failed and their amounts went back to the accounts",
    );
  }

  /**
   * Records the txid and fee and announces 0 confirmations for each send; returns the fee
   * (null when the daemon could not tell it: bookMissingFees charges it later).
   */
  async #close(
    ntxId: number,
    txid: string,
    sendIds: number[],
    knownFee?: bigint | null,
  ): Promise<bigint | null> {
    const fee = knownFee !== undefined ? knownFee : await this.#feeOf(txid);
    await commitWithEvents(this.#options.ledger, this.#options.sink, async (trx, ctx) => {
      const ntx = await closeBroadcast(trx, ctx, ntxId, txid, fee);
      // closeBroadcast set confirmations to 0 without events; announce that state for each send.
      const produced: TxUpdateData[] = await updateConfirmations(
        trx,
        ctx,
        ntx,
        { txid, confirmations: 0 },
        new Set(sendIds),
      );
      return produced;
    });
    return fee;
  }

  /**
   * Books the fees of broadcasts closed while the daemon could not tell them (see #feeOf):
   * until then the wallet's ledger balance is higher than the daemon's by those fees.
   */
  bookMissingFees(): Promise<number> {
    return this.lock.run(async () => {
      const { ledger, backend } = this.#options;
      let booked = 0;
      for (const ntx of await ledger.run((trx, ctx) => listBroadcastsWithoutFee(trx, ctx))) {
        if (ntx.txid === null) continue;
        let fee: bigint;
        try {
          fee = feeOfSend(await backend.getTransaction(ntx.txid));
        } catch (err) {
          this.#logger.warn(
            {
              networkTransaction: ntx.id,
              txid: ntx.txid,
              err,
            },
            "fee of a sent broadcast still unknown; trying again next period",
          );
          continue;
        }
        if (await ledger.run((trx, ctx) => bookBroadcastFee(trx, ctx, ntx.id, fee))) {
          booked++;
          this.#stats.feesBookedLater++;
          this.#logger.info(
            { networkTransaction: ntx.id, txid: ntx.txid, fee: fee.toString() },
            "broadcast fee booked",
          );
        }
      }
      return booked;
    });
  }

  /**
   * The fee of our new transaction, from `gettransaction`. If the daemon cannot tell us
   * right now, null: the broadcast is still closed — recording the txid matters most — and
   * bookMissingFees charges the fee on a later period.
   */
  async #feeOf(txid: string): Promise<bigint | null> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        return feeOfSend(await this.#options.backend.getTransaction(txid));
      } catch (err) {
        if (attempt === 3) {
          this.#logger.error(
            { txid, err },
            "broadcast sent but its fee could not be read; closing it without a fee, which is booked once the daemon answers",
          );
        } else {
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
    }
    return null;
  }
}

/** bitcoind reports a send's fee as negative; what the wallet paid is its opposite. */
function feeOfSend(tx: WalletTransaction): bigint {
  return tx.fee === undefined ? 0n : -tx.fee;
}
