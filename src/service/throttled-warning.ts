/**
 * A warning anyone on the network can trigger (a wrong admin token, a foreign Host) must not
 * let them fill the disk or drown the log: the first is logged, then at most one line per
 * period with how many happened since the last line.
 */
import type { Logger } from "../log.js";

export class ThrottledWarning {
  private lastLoggedAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly periodMs = 60_000,
  ) {}

  /** Counts one occurrence; logs it (with `count` since the last line) when the period has passed. */
  record(fields: Record<string, unknown>): void {
    this.unlogged += 1;
    const now = Date.now();
    if (now - this.lastLoggedAt < this.periodMs) return;
    this.logger.warn({ ...fields, count: this.unlogged }, this.message);
    this.lastLoggedAt = now;
    this.unlogged = 0;
  }
}
