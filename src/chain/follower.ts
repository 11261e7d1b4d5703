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
 * Failures never stop the follower: a failed run is logged, shown in `status()`, and retried
 * after `retryDelayMs` (a txid whose update failed is re-queued; a failed tick is run
 * again), so once the daemon or the database is back, a follow-up run catches up.
 */
import type { ChainTip } from "../backends/backend.js";
import { ChainConfigError, errorMessage } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { CoalescingQueue, type CoalescingQueueStats, type PushOutcome } from "../notify/coalescing-queue.js";
import type { OpenTransactionRechecker } from "./recheck.js";
import { scanReceived } from "./scan.js";
import type { BlockConfirmationTracker } from "./tracker.js";
import { MAX_UPDATE_BATCH, type TransactionUpdater } from "./updater.js";

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
  /** Delay before a failed run is retried; default pollPeriodMs. */
  retryDelayMs?: number;
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
  /** Runs that failed since the last successful one. */
  consecutiveFailures: number;
  ticks: number;
  rechecks: number;
  notifications: CoalescingQueueStats;
}

type ChainWork = "tip" | "recheck";

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
  readonly #retryDelayMs: number;
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
  #consecutiveFailures = 0;
  #ticks = 0;
  #rechecks = 0;

  constructor(options: ChainFollowerOptions) {
    this.#options = options;
    this.strategy = options.strategy ?? "block";
    this.#pollPeriodMs = positive("pollPeriodMs", options.pollPeriodMs ?? 10_000);
    this.#recheckPeriodMs = positive("recheckPeriodMs", options.recheckPeriodMs ?? 600_000, true);
    this.#retryDelayMs = positive("retryDelayMs", options.retryDelayMs ?? this.#pollPeriodMs);
    this.#maxTxRetries = options.maxTxRetries ?? 20;
    this.#logger = (options.logger ?? silentLogger).child({ module: "chain.follower" });
    // Many txids in flight at once: the updater commits those that wait together as one
    // batch (group commit), so this is the batch size under load, not parallel transactions.
    this.#txQueue = new CoalescingQueue((txid) => this.#updateTx(txid), {
      concurrency: MAX_UPDATE_BATCH,
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
        this.#succeeded();
        this.#lastTickAt = Date.now();
        this.#logger.info(
          { scanned: result.scanned, events: result.events, height: result.tipHeight },
          "start-up scan finished",
        );
      } catch (err) {
        this.#failed("scan", err);
        this.#later(() => this.#workQueue.push("tip"), this.#retryDelayMs);
      }
    }
    if (this.#stopped) return;
    if (this.strategy === "poll" || (this.#options.pollTip ?? true)) {
      this.#every(this.#pollPeriodMs, () => this.#workQueue.push("tip"));
    }
    if (this.strategy === "block" && this.#recheckPeriodMs > 0) {
      this.#every(this.#recheckPeriodMs, () => this.#workQueue.push("recheck"));
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
      consecutiveFailures: this.#consecutiveFailures,
      ticks: this.#ticks,
      rechecks: this.#rechecks,
      notifications: this.#txQueue.stats(),
    };
  }

  async #updateTx(txid: string): Promise<void> {
    try {
      await this.#options.updater.update(txid);
      this.#txAttempts.delete(txid);
      this.#succeeded();
    } catch (err) {
      this.#failed(`txid ${txid}`, err);
      const attempts = (this.#txAttempts.get(txid) ?? 0) + 1;
      if (attempts <= this.#maxTxRetries) {
        this.#txAttempts.set(txid, attempts);
        this.#later(() => this.#txQueue.push(txid), this.#retryDelayMs);
      } else {
        this.#txAttempts.delete(txid);
        this.#logger.error(
          { txid, attempts },
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
      this.#succeeded();
    } catch (err) {
      this.#failed(label, err);
      this.#later(() => this.#workQueue.push(work), this.#retryDelayMs);
    }
  }

  #succeeded(): void {
    this.#consecutiveFailures = 0;
  }

  #failed(work: string, err: unknown): void {
    const message = errorMessage(err);
    this.#consecutiveFailures++;
    this.#lastError = { message, at: Date.now(), work };
    this.#logger.error({ work, err }, "chain work failed; will retry");
  }

  #later(fn: () => void, ms: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(timer);
  }

  #every(ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(timer);
  }
}
