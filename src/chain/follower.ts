/**
 * The chain follower of one coin wallet: the long-running part the helper service starts.
 * It feeds walletnotify txids to the transaction updater and new tips to the confirmation
 * tracker, each through a coalescing queue (the same txid notified ten times, or ten
 * blocks arriving during one tick, cost one run), and runs the timers:
 *
 * - `block` strategy (default): a tick on every blocknotify, or — without a blocknotify
 *   listener — when polling the tip every `pollPeriodMs` finds a new one; plus the slow
 *   batched re-check of every open transaction every `recheckPeriodMs`.
 * - `poll` strategy (the original's): every `pollPeriodMs`, one `gettransaction` per open
 *   transaction; walletnotify still brings new transactions.
 *
 * Failures never stop the follower: a failed run is shown in `status()` and retried, so once
 * the daemon or the database is back, a follow-up run catches up. Each kind of work (tip
 * ticks, re-checks, notified txids) has at most one pending retry, `retryDelayMs` after the
 * first failure, doubling up to `maxRetryDelayMs`; while a kind backs off, its periodic run
 * waits for the retry, and the first success resets it. A long outage therefore costs about
 * one call per kind per `maxRetryDelayMs`, and a log line only at the first failure of a
 * kind and every tenth after it; `daemonReachable()` ends the wait once the daemon answers.
 */
import type { ChainTip } from "../backends/backend.js";
import { SERVICE_DEFAULTS } from "../config/defaults.js";
import { ChainConfigError, errorMessage } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { CoalescingQueue, type CoalescingQueueStats, type PushOutcome } from "../notify/coalescing-queue.js";
import type { OpenTransactionRechecker } from "./recheck.js";
import { RetryBackoff } from "./retry-backoff.js";
import { scanReceived } from "./scan.js";
import type { BlockConfirmationTracker } from "./tracker.js";
import type { TransactionUpdater } from "./updater.js";

export type ConfirmationStrategy = "block" | "poll";

export interface ChainFollowerOptions {
  updater: TransactionUpdater;
  tracker: BlockConfirmationTracker;
  /** Batched re-check (block strategy). */
  rechecker: OpenTransactionRechecker;
  /** Per-transaction poll (poll strategy). */
  poller: OpenTransactionRechecker;
  strategy?: ConfirmationStrategy;
  /** Tip polling (block strategy, without blocknotify) or per-transaction polling period; default 10 s. */
  pollPeriodMs?: number;
  /** Full batched re-check period; default 600 s; 0 disables it. */
  recheckPeriodMs?: number;
  /** Poll the tip for new blocks; turn off when a blocknotify listener calls blockNotify(). Default true. */
  pollTip?: boolean;
  /** Run the start-up scan in start(); default true. */
  scanOnStart?: boolean;
  /** Delay before a failed run is retried the first time; default pollPeriodMs. */
  retryDelayMs?: number;
  /** The retry delay doubles after each failure up to this; default 60 s. */
  maxRetryDelayMs?: number;
  /** Times a failing txid update is retried before the follower leaves it to the tracker; default 20. */
  maxTxRetries?: number;
  logger?: Logger;
}

export interface FollowerError {
  message: string;
  at: number;
  /** What failed: "tick", "recheck", "poll", "scan" or "txid <hash>". */
  work: string;
}

export interface FollowerStatus {
  strategy: ConfirmationStrategy;
  running: boolean;
  lastTip: ChainTip | undefined;
  lastTickAt: number | undefined;
  lastRecheckAt: number | undefined;
  lastWalletNotifyAt: number | undefined;
  lastBlockNotifyAt: number | undefined;
  lastError: FollowerError | undefined;
  /**
   * Runs that failed since the last success of the same kind (tip, re-check, notifications),
   * summed: a re-check that succeeds does not hide ticks that keep failing.
   */
  consecutiveFailures: number;
  ticks: number;
  rechecks: number;
  notifications: CoalescingQueueStats;
}

type ChainWork = "tip" | "recheck";
/** What retries are counted by: each chain work, and the notified txids together. */
type RetryKind = ChainWork | "notifications";

/** The default cap of the retry backoff (seconds in config: service.retry_backoff_cap). */
export const DEFAULT_MAX_RETRY_DELAY_MS = SERVICE_DEFAULTS.retry_backoff_cap * 1000;
/** After the first failure of a streak, every this many failures are logged (the rest at debug). */
const LOG_EVERY_FAILURES = 10;

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ChainConfigError(
      `chain follower: ${name} must be a ${allowZero ? "non-negative" : "positive"} number of milliseconds, got ${value}`,
    );
  }
  return value;
}

export class ChainFollower {
  readonly strategy: ConfirmationStrategy;
  readonly #options: ChainFollowerOptions;
  readonly #logger: Logger;
  readonly #pollPeriodMs: number;
  readonly #recheckPeriodMs: number;
  readonly #retries: RetryBackoff<RetryKind>;
  /** Notified txids whose update failed, waiting for the one notifications retry. */
  readonly #txRetry = new Set<string>();
  readonly #maxTxRetries: number;
  readonly #txQueue: CoalescingQueue<string>;
  readonly #workQueue: CoalescingQueue<ChainWork>;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #txAttempts = new Map<string, number>();
  #running = false;
  #stopped = false;
  #lastTickAt: number | undefined;
  #lastRecheckAt: number | undefined;
  #lastWalletNotifyAt: number | undefined;
  #lastBlockNotifyAt: number | undefined;
  #lastError: FollowerError | undefined;
  readonly #failuresByKind = new Map<RetryKind, number>();
  #ticks = 0;
  #rechecks = 0;

  constructor(options: ChainFollowerOptions) {
    this.#options = options;
    this.strategy = options.strategy ?? "block";
    this.#pollPeriodMs = positive(
      "pollPeriodMs",
      options.pollPeriodMs ?? SERVICE_DEFAULTS.poll_period * 1000,
    );
    this.#recheckPeriodMs = positive(
      "recheckPeriodMs",
      options.recheckPeriodMs ?? SERVICE_DEFAULTS.recheck_period * 1000,
      true,
    );
    this.#retries = new RetryBackoff({
      initialMs: positive("retryDelayMs", options.retryDelayMs ?? this.#pollPeriodMs),
      maxMs: positive("maxRetryDelayMs", options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS),
    });
    this.#maxTxRetries = options.maxTxRetries ?? 20;
    this.#logger = (options.logger ?? silentLogger).child({ module: "chain.follower" });
    // Three stages a notified txid passes, each for its own reason:
    // - this coalescing queue: a txid notified again while queued runs once (bitcoind notifies
    //   a transaction at mempool entry and again when mined), and it bounds what is in flight;
    // - the updater's waiting list: those in flight commit together, up to update_batch_size
    //   per database transaction (group commit), so the queue's concurrency is that size —
    //   the batch size under load, not parallel transactions;
    // - the chain lock: one writer of this wallet's chain state at a time (ticks, re-checks,
    //   updates), so a block and a notification never apply the same transaction twice.
    this.#txQueue = new CoalescingQueue((txid) => this.#updateTx(txid), {
      concurrency: options.updater.maxBatch,
      logger: this.#logger,
    });
    // One chain-wide run at a time: ticks and re-checks coalesce instead of piling up.
    this.#workQueue = new CoalescingQueue((work) => this.#runWork(work), {
      concurrency: 1,
      logger: this.#logger,
    });
  }

  /**
   * Runs the start-up scan (a failure is logged and retried later, not thrown: a daemon
   * that is down at start must not stop the service) and starts the timers.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    if (this.#options.scanOnStart ?? true) {
      try {
        const result = await scanReceived(this.#options.tracker);
        this.#succeeded("tip", "scan");
        this.#lastTickAt = Date.now();
        this.#logger.info(
          { scanned: result.scanned, events: result.events, height: result.tipHeight },
          "start-up scan finished",
        );
      } catch (err) {
        this.#failed("tip", "scan", err, () => this.#workQueue.push("tip"));
      }
    }
    if (this.#stopped) return;
    // A kind that is backing off runs when its retry is due, not every period beside it.
    if (this.strategy === "poll" || (this.#options.pollTip ?? true)) {
      this.#every(this.#pollPeriodMs, () => {
        if (!this.#retries.backingOff("tip")) this.#workQueue.push("tip");
      });
    }
    if (this.strategy === "block" && this.#recheckPeriodMs > 0) {
      this.#every(this.#recheckPeriodMs, () => {
        if (!this.#retries.backingOff("recheck")) this.#workQueue.push("recheck");
      });
    }
  }

  /** A walletnotify txid (lowercase hex, as the notify listeners deliver it). */
  walletNotify(txid: string): PushOutcome {
    this.#lastWalletNotifyAt = Date.now();
    return this.#txQueue.push(txid);
  }

  /** A blocknotify hash: the tip moved. The hash itself is not needed (the tick reads the tip). */
  blockNotify(_hash?: string): PushOutcome {
    this.#lastBlockNotifyAt = Date.now();
    return this.#workQueue.push("tip");
  }

  /**
   * The daemon answered again (the service's reachability probe): work that is backing off
   * retries now instead of at the end of its delay.
   */
  daemonReachable(): void {
    this.#retries.retryNow();
  }

  /** Queues a full re-check now (operators, tests). */
  requestRecheck(): PushOutcome {
    return this.#workQueue.push("recheck");
  }

  /** Resolves when no notification or chain work is waiting or running. */
  async idle(): Promise<void> {
    do {
      await this.#txQueue.drain();
      await this.#workQueue.drain();
    } while (this.#txQueue.stats().pending + this.#txQueue.stats().running > 0);
  }

  /** Stops the timers and the queues; work in flight finishes (its transaction commits or not). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#running = false;
    this.#retries.stop();
    for (const timer of this.#timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this.#timers.clear();
    await Promise.all([this.#txQueue.close(), this.#workQueue.close()]);
  }

  status(): FollowerStatus {
    return {
      strategy: this.strategy,
      running: this.#running,
      lastTip: this.#options.tracker.lastTip,
      lastTickAt: this.#lastTickAt,
      lastRecheckAt: this.#lastRecheckAt,
      lastWalletNotifyAt: this.#lastWalletNotifyAt,
      lastBlockNotifyAt: this.#lastBlockNotifyAt,
      lastError: this.#lastError,
      consecutiveFailures: [...this.#failuresByKind.values()].reduce((sum, n) => sum + n, 0),
      ticks: this.#ticks,
      rechecks: this.#rechecks,
      notifications: this.#txQueue.stats(),
    };
  }

  async #updateTx(txid: string): Promise<void> {
    try {
      await this.#options.updater.update(txid);
      this.#txAttempts.delete(txid);
      this.#succeeded("notifications", `txid ${txid}`);
    } catch (err) {
      const attempts = (this.#txAttempts.get(txid) ?? 0) + 1;
      if (attempts <= this.#maxTxRetries) {
        this.#txAttempts.set(txid, attempts);
        this.#txRetry.add(txid);
        // One retry for every failed txid: it queues them all again (they commit as batches).
        this.#failed("notifications", `txid ${txid}`, err, () => {
          const txids = [...this.#txRetry];
          this.#txRetry.clear();
          for (const retried of txids) this.#txQueue.push(retried);
        });
      } else {
        this.#failed("notifications", `txid ${txid}`, err);
        this.#txAttempts.delete(txid);
        this.#logger.error(
          { txid, attempts, err },
          "giving up retrying this notification; the block tracker and re-check will pick the transaction up",
        );
      }
    }
  }

  async #runWork(work: ChainWork): Promise<void> {
    const label = work === "recheck" ? "recheck" : this.strategy === "poll" ? "poll" : "tick";
    try {
      if (work === "recheck") {
        await this.#options.rechecker.recheck();
        this.#rechecks++;
        this.#lastRecheckAt = Date.now();
      } else if (this.strategy === "poll") {
        await this.#options.poller.recheck();
        this.#ticks++;
        this.#lastTickAt = Date.now();
      } else {
        await this.#options.tracker.tick();
        this.#ticks++;
        this.#lastTickAt = Date.now();
      }
      this.#succeeded(work, label);
    } catch (err) {
      this.#failed(work, label, err, () => this.#workQueue.push(work));
    }
  }

  #succeeded(kind: RetryKind, work: string): void {
    this.#failuresByKind.delete(kind);
    const failures = this.#retries.succeeded(kind);
    if (failures > 0) this.#logger.info({ work, failures }, "chain work succeeded again");
  }

  /** Records a failure and, with `retry`, schedules the one retry of its kind (backing off). */
  #failed(kind: RetryKind, work: string, err: unknown, retry?: () => void): void {
    this.#failuresByKind.set(kind, (this.#failuresByKind.get(kind) ?? 0) + 1);
    this.#lastError = { message: errorMessage(err), at: Date.now(), work };
    const plan = retry ? this.#retries.failed(kind, retry) : undefined;
    // The first failure of a streak and every tenth are logged; the rest would only repeat it.
    const loud = plan?.scheduled && (plan.failures === 1 || plan.failures % LOG_EVERY_FAILURES === 0);
    if (!retry) return; // the caller logs why it gives up
    (loud ? this.#logger.error : this.#logger.debug).call(
      this.#logger,
      { work, err, failures: plan?.failures, retryInMs: plan?.delayMs },
      "chain work failed; will retry",
    );
  }

  #every(ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(timer);
  }
}
