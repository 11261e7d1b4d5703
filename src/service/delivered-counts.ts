/**
 * The status page's delivered counts. Counting delivered deliveries reads every kept one
 * (seconds with 10⁷ events kept) while an open dashboard refreshes every 2 s, so a count is
 * reused until COST_FACTOR times as long as it took has passed: the count then occupies at
 * most 1/COST_FACTOR of one database connection whatever the outbox holds, and a small
 * outbox (a count of a few milliseconds) is recounted on nearly every refresh. One count
 * runs at a time; while it runs, callers get the previous one.
 */
import type { Database } from "../db/open.js";
import { deliveredCounts } from "../events/outbox/queries.js";

const COST_FACTOR = 20;

export interface DeliveredCountsView {
  /** Delivered deliveries kept, per handler. */
  counts: ReadonlyMap<string, number>;
  /** When they were counted (ms since the epoch). */
  countedAt: number;
  tookMs: number;
}

export class DeliveredCounts {
  #last: DeliveredCountsView | undefined;
  #counting: Promise<DeliveredCountsView> | undefined;

  constructor(private readonly database: Database) {}

  get(): Promise<DeliveredCountsView> {
    const last = this.#last;
    if (last && (this.#counting || Date.now() - last.countedAt < last.tookMs * COST_FACTOR)) {
      return Promise.resolve(last);
    }
    this.#counting ??= this.#count().finally(() => {
      this.#counting = undefined;
    });
    return this.#counting;
  }

  async #count(): Promise<DeliveredCountsView> {
    const started = performance.now();
    const counts = await deliveredCounts(this.database);
    this.#last = { counts, countedAt: Date.now(), tookMs: performance.now() - started };
    return this.#last;
  }
}
