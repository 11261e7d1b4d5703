/**
 * Delivers outbox events to every handler: at-least-once, in order per transaction per
 * handler, retried on the schedule until dead. Each handler has its own worker and its
 * own concurrency slots, so a slow or failing endpoint never stalls the others.
 *
 * Wake-ups, without busy polling: `wake()` after a local commit, PostgreSQL LISTEN (a bare
 * signal; the rows are always read from the table), a timer for the next due retry, and a
 * slow safety poll. A claim takes as many due deliveries as the handler has free slots, in
 * one statement; outcomes are written in batches (./outcome-writer.ts).
 */

import { randomUUID } from "node:crypto";
import type pg from "pg";
import { DISPATCHER_DEFAULTS } from "../config/defaults.js";
import type { Database } from "../db/open.js";
import { parseDatabaseUrl } from "../db/url.js";
import { errorMessage, isDeliveryFailedError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { cleanExternalText } from "../redact/external-text.js";
import type { EventHandler } from "./handlers/handler.js";
import { type ClaimedDelivery, claimDeliveries, nextDueAt } from "./outbox/claim-deliveries.js";
import { type AttemptOutcome, type DeliveryTransition, MAX_ERROR_TEXT } from "./outbox/record-outcome.js";
import { OUTBOX_CHANNEL } from "./outbox/write-events.js";
import { OutcomeWriter } from "./outcome-writer.js";
import { DEFAULT_RETRY_SCHEDULE } from "./retry-schedule.js";
import type { CryptoassetsEvent, EventName } from "./types.js";

/**
 * What the dispatcher calls of a handler: the delivery part of the handler contract
 * (./handlers/handler.ts). `timeoutMs` (the claim lease is it plus a margin) defaults to 60 s;
 * `redactions` are masked in its attempts' error texts.
 */
export type DeliverableHandler = Pick<EventHandler, "name" | "deliver"> &
  Partial<Pick<EventHandler, "timeoutMs" | "redactions">>;

export interface DispatcherOptions {
  database: Database;
  /** Needed on PostgreSQL for LISTEN (a dedicated connection); the pool has no URL. */
  databaseUrl?: string;
  handlers: readonly DeliverableHandler[];
  /** Concurrent deliveries per handler (default 8). */
  concurrency?: number;
  retrySchedule?: readonly number[];
  /** Safety poll in ms (default 5000). */
  pollIntervalMs?: number;
  /**
   * Extra time beyond a handler's timeout before another dispatcher may take over a
   * claimed delivery (default 30 s). After a crash, deliveries resume once it expires.
   */
  leaseMarginMs?: number;
  logger?: Logger;
  onOutcome?: (
    handler: string,
    transition: DeliveryTransition,
    event: CryptoassetsEvent,
    outcome: AttemptOutcome,
  ) => void;
}

export interface HandlerCounters {
  delivered: number;
  failed: number;
  dead: number;
  inFlight: number;
}

const LEASE_MARGIN_MS = 30_000;

export class Dispatcher {
  readonly instanceId = randomUUID();
  readonly counters = new Map<string, HandlerCounters>();
  private readonly workers: HandlerWorker[];
  private readonly logger: Logger;
  private pollTimer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private stopped = true;

  constructor(private readonly options: DispatcherOptions) {
    this.logger = (options.logger ?? silentLogger).child({ module: "events.dispatcher" });
    const outcomes = new OutcomeWriter(options.database, options.retrySchedule ?? DEFAULT_RETRY_SCHEDULE);
    this.workers = options.handlers.map((handler) => {
      const counters: HandlerCounters = { delivered: 0, failed: 0, dead: 0, inFlight: 0 };
      this.counters.set(handler.name, counters);
      return new HandlerWorker(handler, counters, {
        ...options,
        instanceId: this.instanceId,
        logger: this.logger,
        outcomes,
        stopped: () => this.stopped,
      });
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const pollMs = this.options.pollIntervalMs ?? DISPATCHER_DEFAULTS.poll_interval * 1000;
    this.pollTimer = setInterval(() => this.poll(), pollMs);
    this.pollTimer.unref();
    if (this.options.database.engine === "postgres" && this.options.databaseUrl) await this.listen();
    this.wake();
  }

  /** Something may be due: let every worker look. Cheap to call often. */
  wake(): void {
    if (this.stopped) return;
    for (const worker of this.workers) worker.kick();
  }

  /** The safety poll: also looks again for the next due retry (another dispatcher's included). */
  private poll(): void {
    for (const worker of this.workers) worker.refreshDue();
    this.wake();
  }

  /** Stops claiming; waits for in-flight deliveries (up to graceMs), whose outcomes are recorded. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    for (const worker of this.workers) worker.stopTimers();
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
    const deadline = Date.now() + graceMs;
    while (this.workers.some((w) => w.busy) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async listen(): Promise<void> {
    const url = this.options.databaseUrl;
    if (!url) return;
    const target = parseDatabaseUrl(url);
    if (target.engine !== "postgres") return;
    const { Client } = (await import("pg")).default; // loaded only on PostgreSQL
    const client = new Client({ connectionString: target.connectionString });
    client.on("notification", () => this.wake());
    client.on("error", (error) => {
      // The safety poll keeps deliveries flowing; try to listen again shortly.
      this.logger.warn({ err: error }, "outbox LISTEN connection lost; relying on polling until it is back");
      this.listener = undefined;
      setTimeout(() => {
        if (!this.stopped) this.listen().catch(() => undefined);
      }, 2000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.listener = client;
    } catch (error) {
      this.logger.warn({ err: error }, "cannot LISTEN for outbox wake-ups; polling instead");
      await client.end().catch(() => undefined);
    }
  }
}

/** What a worker is given: the dispatcher's options, its identity, its logger and its stop signal. */
interface WorkerContext extends DispatcherOptions {
  instanceId: string;
  logger: Logger;
  outcomes: OutcomeWriter;
  /** True once the dispatcher stops: claim nothing more. */
  stopped(): boolean;
}

class HandlerWorker {
  private pumping = false;
  private again = false;
  private inFlight = 0;
  /** Attempts whose outcome is not stored yet (the handler may have answered already). */
  private recording = 0;
  private dueTimer: NodeJS.Timeout | undefined;
  /** Ask the outbox when the next retry is due at the end of the next pump (start, poll, a retry). */
  private dueUnknown = true;
  private readonly concurrency: number;
  private readonly leaseMs: number;

  constructor(
    private readonly handler: DeliverableHandler,
    private readonly counters: HandlerCounters,
    private readonly options: WorkerContext,
  ) {
    this.concurrency = options.concurrency ?? DISPATCHER_DEFAULTS.concurrency;
    this.leaseMs = (handler.timeoutMs ?? 60_000) + (options.leaseMarginMs ?? LEASE_MARGIN_MS);
  }

  get busy(): boolean {
    return this.recording > 0 || this.pumping;
  }

  refreshDue(): void {
    this.dueUnknown = true;
  }

  stopTimers(): void {
    clearTimeout(this.dueTimer);
  }

  kick(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    // After this turn of the event loop: the slots of a whole batch of outcomes are free by
    // then, and one claim fills them.
    new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.pump())
      .catch((error) => {
        this.options.logger.error(
          { handler: this.handler.name, err: error },
          "claiming deliveries failed; will retry on the next wake-up",
        );
      })
      .finally(() => {
        this.pumping = false;
        if (this.again && !this.options.stopped()) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pump(): Promise<void> {
    while (!this.options.stopped()) {
      this.again = false;
      const free = this.concurrency - this.inFlight;
      if (free <= 0) return;
      const claimed = await claimDeliveries(
        this.options.database,
        this.handler.name,
        this.options.instanceId,
        free,
        this.leaseMs,
      );
      for (const delivery of claimed) this.start(delivery);
      if (claimed.length < free && !this.again) {
        if (this.dueUnknown) {
          this.dueUnknown = false;
          await this.armDueTimer();
        }
        return;
      }
    }
  }

  /** Sleep until the earliest retry is due (the safety poll covers anything else). */
  private async armDueTimer(): Promise<void> {
    clearTimeout(this.dueTimer);
    const due = await nextDueAt(this.options.database, this.handler.name);
    if (due === null || this.options.stopped()) return;
    const delay = Math.max(0, due - Date.now());
    const cap = this.options.pollIntervalMs ?? DISPATCHER_DEFAULTS.poll_interval * 1000;
    if (delay >= cap) return;
    this.dueTimer = setTimeout(() => {
      this.dueUnknown = true; // for the retry after this one
      this.kick();
    }, delay + 5);
    this.dueTimer.unref();
  }

  private start(delivery: ClaimedDelivery): void {
    this.inFlight++;
    this.counters.inFlight++;
    this.recording++;
    this.run(delivery)
      .catch((error) => {
        // Recording failed (database down): the lease expires and the delivery is retried.
        this.options.logger.error(
          { handler: this.handler.name, event_id: delivery.event_id, err: error },
          "could not record delivery outcome",
        );
      })
      .finally(() => {
        this.recording--;
        this.kick(); // the key's next event is claimable now
      });
  }

  private async run(delivery: ClaimedDelivery): Promise<void> {
    let attempt: { event: CryptoassetsEvent; outcome: AttemptOutcome };
    try {
      attempt = await this.attempt(delivery);
    } finally {
      // The slot is free once the handler answered: the next claim overlaps the write of this
      // outcome (the key's next event stays unclaimable until the outcome is stored).
      this.inFlight--;
      this.counters.inFlight--;
      this.kick();
    }
    await this.record(delivery, attempt.event, attempt.outcome);
  }

  private async attempt(
    delivery: ClaimedDelivery,
  ): Promise<{ event: CryptoassetsEvent; outcome: AttemptOutcome }> {
    const event: CryptoassetsEvent = {
      event_id: delivery.event_id,
      event_name: delivery.event_name as EventName,
      data: JSON.parse(delivery.payload),
      created_at: new Date(delivery.created_at).toISOString(),
    };
    const started = performance.now();
    try {
      const result = await this.handler.deliver(event);
      return {
        event,
        outcome: { ok: true, durationMs: performance.now() - started, httpStatus: result.httpStatus },
      };
    } catch (error) {
      const failure = isDeliveryFailedError(error) ? error : undefined;
      const outcome: AttemptOutcome = {
        ok: false,
        durationMs: performance.now() - started,
        httpStatus: failure?.httpStatus,
        exitCode: failure?.exitCode,
        // From outside (a receiver's body, a broker's or script's words): cleaned and masked
        // before it is stored, shown or logged.
        error: cleanExternalText(errorMessage(error), {
          secrets: this.handler.redactions,
          maxChars: MAX_ERROR_TEXT,
        }),
      };
      return { event, outcome };
    }
  }

  private async record(
    delivery: ClaimedDelivery,
    event: CryptoassetsEvent,
    outcome: AttemptOutcome,
  ): Promise<void> {
    const transition = await this.options.outcomes.record({
      deliveryId: delivery.delivery_id,
      attemptsBefore: delivery.attempts,
      outcome,
    });
    if (transition === "delivered") this.counters.delivered++;
    else this.counters.failed++;
    if (transition === "retry") this.dueUnknown = true;
    if (transition === "dead") this.counters.dead++;
    const log = this.options.logger;
    const fields = { handler: this.handler.name, event_id: event.event_id, attempt: delivery.attempts + 1 };
    if (transition === "delivered") log.debug(fields, "event delivered");
    else if (transition === "retry")
      log.warn({ ...fields, err: outcome.error }, "delivery failed; will retry");
    else log.error({ ...fields, err: outcome.error }, "delivery failed for the last time; now dead");
    this.options.onOutcome?.(this.handler.name, transition, event, outcome);
  }
}
