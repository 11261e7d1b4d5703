/**
 * The work queue between notification listeners and the transaction updater.
 *
 * bitcoind notifies the same txid several times (mempool, first confirmation, once per
 * wallet, plus replays); each run re-reads the transaction from the daemon, so:
 * - a key already waiting to run absorbs further pushes (one run serves them all);
 * - a key pushed while its run is in flight gets exactly one more run after it, because
 *   the new notification may mean new state (e.g. first confirmation) that the in-flight
 *   run read too early to see;
 * - the same key never runs twice at once; different keys run in parallel up to
 *   `concurrency`, in arrival order;
 * - a failing run is logged with its key and counted; the queue carries on (the periodic
 *   re-check repairs whatever a failure left behind).
 */

import { NotifyConfigError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";

export interface CoalescingQueueOptions {
  /** Runs in parallel, over different keys; default 4. */
  concurrency?: number;
  logger?: Logger;
}

/** What push() did with a key. */
export type PushOutcome = "scheduled" | "coalesced" | "closed";

export interface CoalescingQueueStats {
  /** Every push() call, including coalesced and refused ones. */
  received: number;
  /** Pushes absorbed by a run already waiting. */
  coalesced: number;
  /** Worker runs finished (successfully or not). */
  runs: number;
  /** Worker runs that threw or rejected. */
  failures: number;
  /** Scheduled runs discarded by close() before they started, plus pushes after close(). */
  dropped: number;
  /** Keys waiting for a slot (including reruns due after an in-flight run). */
  pending: number;
  /** Runs in flight. */
  running: number;
}

type KeyState =
  /** In the waiting list, not running. */
  | "waiting"
  /** Running; nothing new arrived since it started. */
  | "running"
  /** Running, and pushed again since: run once more when it finishes. */
  | "running-rerun";

export class CoalescingQueue<K> {
  readonly #worker: (key: K) => Promise<void>;
  readonly #concurrency: number;
  readonly #logger: Logger;
  readonly #states = new Map<K, KeyState>();
  /** Keys in "waiting" state, in the order they will start. */
  readonly #waiting: K[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  #received = 0;
  #coalesced = 0;
  #runs = 0;
  #failures = 0;
  #dropped = 0;

  constructor(worker: (key: K) => Promise<void>, options: CoalescingQueueOptions = {}) {
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new NotifyConfigError(
        `coalescing queue: concurrency must be an integer >= 1, got ${concurrency}`,
      );
    }
    this.#worker = worker;
    this.#concurrency = concurrency;
    this.#logger = (options.logger ?? silentLogger).child({ module: "notify.queue" });
  }

  push(key: K): PushOutcome {
    this.#received++;
    if (this.#closed) {
      this.#dropped++;
      this.#logger.debug({ key }, "queue closed; notification dropped");
      return "closed";
    }
    const state = this.#states.get(key);
    if (state === "waiting" || state === "running-rerun") {
      this.#coalesced++;
      return "coalesced";
    }
    if (state === "running") {
      this.#states.set(key, "running-rerun");
      return "scheduled";
    }
    this.#states.set(key, "waiting");
    this.#waiting.push(key);
    this.#pump();
    return "scheduled";
  }

  /** Resolves once nothing is waiting or running (immediately when already idle). */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Refuses further pushes, discards runs not yet started (including pending reruns), and
   * resolves once the in-flight runs have finished.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      let discarded = this.#waiting.length;
      for (const key of this.#waiting) this.#states.delete(key);
      this.#waiting.length = 0;
      for (const [key, state] of this.#states) {
        if (state === "running-rerun") {
          this.#states.set(key, "running");
          discarded++;
        }
      }
      this.#dropped += discarded;
      if (discarded > 0) this.#logger.info({ discarded }, "queue closed with runs not yet started");
    }
    await Promise.allSettled([...this.#inFlight]);
    this.#notifyIfIdle();
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): CoalescingQueueStats {
    return {
      received: this.#received,
      coalesced: this.#coalesced,
      runs: this.#runs,
      failures: this.#failures,
      dropped: this.#dropped,
      pending: this.#waiting.length + this.#countRerunsDue(),
      running: this.#inFlight.size,
    };
  }

  #countRerunsDue(): number {
    let count = 0;
    for (const state of this.#states.values()) if (state === "running-rerun") count++;
    return count;
  }

  #pump(): void {
    while (this.#inFlight.size < this.#concurrency && this.#waiting.length > 0) {
      const key = this.#waiting.shift() as K;
      this.#states.set(key, "running");
      const run = this.#run(key);
      this.#inFlight.add(run);
      void run.finally(() => {
        this.#inFlight.delete(run);
        this.#finish(key);
      });
    }
  }

  async #run(key: K): Promise<void> {
    try {
      // Promise.resolve().then: a worker that throws synchronously counts as a failed run too.
      await Promise.resolve().then(() => this.#worker(key));
    } catch (err) {
      this.#failures++;
      this.#logger.error({ err, key }, "notification work failed");
    } finally {
      this.#runs++;
    }
  }

  #finish(key: K): void {
    const state = this.#states.get(key);
    if (state === "running-rerun" && !this.#closed) {
      // Back of the line, so one busy key cannot starve the others.
      this.#states.set(key, "waiting");
      this.#waiting.push(key);
    } else {
      this.#states.delete(key);
    }
    this.#pump();
    this.#notifyIfIdle();
  }

  #isIdle(): boolean {
    return this.#waiting.length === 0 && this.#inFlight.size === 0;
  }

  #notifyIfIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
