/**
 * Retries of failed background work, at most one pending per kind of work, the delay
 * doubling from `initialMs` up to `maxMs` and reset by the first success. Without it, every
 * failure during a daemon outage scheduled one more retry beside the periodic run, and the
 * retry chains grew by one per period (thousands of failed calls and log lines per period
 * after a day).
 */
export interface RetryBackoffOptions {
  /** Delay after the first failure. */
  initialMs: number;
  /** Longest delay, however many failures. */
  maxMs: number;
}

/** What failed() decided: the retry is `delayMs` away, and this is failure `failures` in a row. */
export interface RetryPlan {
  failures: number;
  delayMs: number;
  /** False when a retry of this kind was already pending (nothing new was scheduled). */
  scheduled: boolean;
}

interface KindState {
  failures: number;
  delayMs: number;
  timer: NodeJS.Timeout | undefined;
  retry: (() => void) | undefined;
}

export class RetryBackoff<K extends string = string> {
  readonly #options: RetryBackoffOptions;
  readonly #kinds = new Map<K, KindState>();
  #stopped = false;

  constructor(options: RetryBackoffOptions) {
    this.#options = { initialMs: options.initialMs, maxMs: Math.max(options.maxMs, options.initialMs) };
  }

  /**
   * Work of `kind` failed: schedules `retry` after the next delay unless one is pending
   * already. Failures while a retry is pending (a burst of one kind) count once.
   */
  failed(kind: K, retry: () => void): RetryPlan {
    const state = this.#kinds.get(kind) ?? { failures: 0, delayMs: 0, timer: undefined, retry: undefined };
    this.#kinds.set(kind, state);
    if (state.timer !== undefined || this.#stopped) {
      return { failures: state.failures, delayMs: state.delayMs, scheduled: false };
    }
    state.failures++;
    state.delayMs = Math.min(this.#options.initialMs * 2 ** (state.failures - 1), this.#options.maxMs);
    state.retry = retry;
    state.timer = setTimeout(() => this.#fire(state), state.delayMs);
    return { failures: state.failures, delayMs: state.delayMs, scheduled: true };
  }

  /** Work of `kind` succeeded: the pending retry is dropped and the next failure starts over. Returns the failures it ends. */
  succeeded(kind: K): number {
    const state = this.#kinds.get(kind);
    if (!state) return 0;
    clearTimeout(state.timer);
    this.#kinds.delete(kind);
    return state.failures;
  }

  /** True while `kind` failed last: its retry timer, not the periodic run, decides when it runs next. */
  backingOff(kind: K): boolean {
    return (this.#kinds.get(kind)?.failures ?? 0) > 0;
  }

  /**
   * Runs every pending retry now (the daemon answered again: waiting out the backoff would
   * only delay the catch-up). The failure counts stay until the retries succeed.
   */
  retryNow(): void {
    for (const state of this.#kinds.values()) if (state.timer !== undefined) this.#fire(state);
  }

  #fire(state: KindState): void {
    clearTimeout(state.timer);
    state.timer = undefined;
    if (!this.#stopped) state.retry?.();
  }

  /** Cancels every pending retry; later failures schedule nothing. */
  stop(): void {
    this.#stopped = true;
    for (const state of this.#kinds.values()) clearTimeout(state.timer);
    this.#kinds.clear();
  }
}
