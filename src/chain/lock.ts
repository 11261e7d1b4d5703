/**
 * One lane per coin wallet for work that reads the daemon and then writes the ledger.
 *
 * Why: each unit reads chain state over RPC *before* its database transaction. Two units
 * running at once could commit out of order — a walletnotify that read "0 confirmations"
 * committing after a block tick that already wrote "1" — and the ledger would report the
 * transaction going backwards. Serializable isolation cannot catch this (the stale value
 * came from the daemon, not the database), so the reads and the writes of chain work are
 * serialized here instead. Within one process this is enough; several helper services
 * on one database run the chain follower as a singleton (advisory lock, src/service/).
 */
export class ChainLock {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  /** Runs `fn` after every unit queued before it has finished (successfully or not). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.#waiting++;
    const result = this.#tail.then(
      () => fn(),
      () => fn(),
    );
    this.#tail = result.then(
      () => this.#waiting--,
      () => this.#waiting--,
    );
    return result;
  }

  /** Units queued or running (for the status page). */
  get waiting(): number {
    return this.#waiting;
  }
}
