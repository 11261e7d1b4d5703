/**
 * Group commit for delivery outcomes: every attempt that finished while the previous batch
 * was being written goes into the next batch (./outbox/record-outcome.ts), one statement
 * per batch instead of a transaction per delivery. The first outcome waits only for the end
 * of the current event-loop turn, so the responses that arrived together are written together.
 */
import type { Database } from "../db/open.js";
import { type DeliveryTransition, type FinishedAttempt, recordOutcomes } from "./outbox/record-outcome.js";

interface Waiting {
  attempt: FinishedAttempt;
  resolve(transition: DeliveryTransition): void;
  reject(error: unknown): void;
}

export class OutcomeWriter {
  private queue: Waiting[] = [];
  private writing = false;

  constructor(
    private readonly database: Database,
    private readonly retrySchedule: readonly number[],
  ) {}

  /** Resolves once the outcome is stored, with the delivery's transition. */
  record(attempt: FinishedAttempt): Promise<DeliveryTransition> {
    return new Promise((resolve, reject) => {
      this.queue.push({ attempt, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        const transitions = await recordOutcomes(
          this.database,
          batch.map((w) => w.attempt),
          this.retrySchedule,
        );
        for (const [i, w] of batch.entries()) w.resolve(transitions[i] as DeliveryTransition);
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.writing = false;
  }
}
