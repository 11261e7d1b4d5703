/**
 * Runs a duty only while this instance holds its leader lock: tries the lock every
 * `retryMs`, starts the duty when it gets it, stops the duty at once when the lock is lost
 * (a lost lock connection means another instance may already be running it), and goes back
 * to trying. On SQLite/MySQL the lock is always granted, so this simply starts the duty.
 *
 * Overlap is bounded and harmless: between losing the lock and the duty's stop() finishing,
 * a unit of work already inside a database transaction may still commit. Chain updates are
 * idempotent serializable upserts, and the ledger refuses to open a broadcast for sends
 * another broadcaster already took, so a double leader can never pay twice.
 */

import { errorMessage } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import type { LeaderLock } from "./leadership.js";
import type { SubsystemRegistry } from "./subsystems.js";

export interface Duty {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SingletonDutyOptions {
  /** Subsystem name on the status page ("btc.chain", "btc.broadcaster"). */
  name: string;
  lock: LeaderLock;
  duty: Duty;
  subsystems: SubsystemRegistry;
  /** Between lock attempts; default 2000 ms. */
  retryMs?: number;
  logger?: Logger;
  /** The duty could not start although we hold the lock: the service treats it as a dead subsystem. */
  onFailure: (error: unknown) => void;
}

export class SingletonDuty {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private leading = false;
  /** Serializes start/stop of the duty so a lock loss during start is handled after it. */
  private transition: Promise<void> = Promise.resolve();
  private readonly logger: Logger;

  constructor(private readonly options: SingletonDutyOptions) {
    this.logger = (options.logger ?? silentLogger).child({ module: "service.duty", duty: options.name });
    options.lock.onLost((reason) => this.lost(reason));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Begins trying to take the lock; returns after the first attempt. */
  async start(): Promise<void> {
    this.options.subsystems.set(this.options.name, "starting", "taking the leader lock");
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.transition;
    if (this.leading) {
      this.leading = false;
      this.options.subsystems.set(this.options.name, "stopping");
      await this.options.duty.stop();
    }
    await this.options.lock.release();
    this.options.subsystems.set(this.options.name, "stopped");
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.attempt(), this.options.retryMs ?? 2000);
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.leading) return;
    let acquired: boolean;
    try {
      acquired = await this.options.lock.tryAcquire();
    } catch (error) {
      this.options.subsystems.set(
        this.options.name,
        "degraded",
        `cannot take the leader lock: ${errorMessage(error)}`,
      );
      this.schedule();
      return;
    }
    if (this.stopped) {
      await this.options.lock.release();
      return;
    }
    if (!acquired) {
      this.options.subsystems.set(this.options.name, "standby", "another helper service holds the lock");
      this.schedule();
      return;
    }
    this.leading = true;
    this.transition = this.transition.then(async () => {
      if (!this.leading || this.stopped) return;
      this.logger.info("leader: starting duty");
      try {
        await this.options.duty.start();
        if (this.leading) this.options.subsystems.set(this.options.name, "running");
      } catch (error) {
        this.leading = false;
        this.options.subsystems.set(this.options.name, "failed", errorMessage(error));
        await this.options.lock.release();
        this.options.onFailure(error);
      }
    });
    await this.transition;
  }

  private lost(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.logger.warn({ reason }, "leader lock lost: stopping duty now");
    this.options.subsystems.set(this.options.name, "standby", `lock lost (${reason}); retrying`);
    this.transition = this.transition.then(async () => {
      try {
        await this.options.duty.stop();
      } catch (error) {
        this.logger.error({ err: error }, "duty did not stop cleanly after losing the lock");
      }
      this.schedule();
    });
  }
}
