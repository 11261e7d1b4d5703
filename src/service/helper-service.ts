/**
 * The helper service: for every configured coin the chain follower (walletnotify/blocknotify
 * listeners, start-up scan, block tracker, re-check) and the broadcaster; the event
 * dispatcher; the status server. `startHelperService` is what the CLI, the demo and tests use.
 *
 * Lifecycle:
 * - start: open (and migrate) the database, build handlers, outbox, per-coin runtimes,
 *   dispatcher, status server; then start them. A daemon that does not answer is not an
 *   error (the status page shows it; the probe retries with backoff).
 * - stop (SIGTERM/SIGINT through the CLI): stop accepting work (listeners close, timers stop),
 *   let in-flight work finish — every database unit is one transaction, committed or rolled
 *   back, never half-written — within `service.shutdown_grace_period`, then close connections.
 *   `done` resolves with exit code 0.
 * - a subsystem that dies (a listener or the status server cannot listen, a duty cannot
 *   start): logged with the reason, the service shuts down the same way, `done` resolves with
 *   exit code 2.
 */

import { randomUUID } from "node:crypto";
import type { Backend } from "../backends/backend.js";
import { BitcoindBackend } from "../backends/bitcoind/backend.js";
import type { TxUpdateSink } from "../chain/sink.js";
import { DISPATCHER_DEFAULTS, SERVICE_DEFAULTS } from "../config/defaults.js";
import { initializeDatabase } from "../db/initialize.js";
import { type Database, openConfiguredDatabase } from "../db/open.js";
import { errorMessage, ServiceError, SubsystemFailedError } from "../errors.js";
import { Dispatcher } from "../events/dispatcher.js";
import { createEventHandler } from "../events/handlers/factory.js";
import type { EventHandler } from "../events/handlers/handler.js";
import { Outbox } from "../events/outbox/outbox.js";
import {
  listProblemDeliveries,
  listRecentEvents,
  purgeDelivered,
  redeliver,
  undeliveredCounts,
  withDelivered,
} from "../events/outbox/queries.js";
import { configuredRecipients } from "../events/subscription.js";
import type { Ledger } from "../ledger/ledger.js";
import { type Logger, silentLogger } from "../log.js";
import { VERSION } from "../version.js";
import { type CoinConfig, CoinRuntime, createBackend } from "./coin-runtime.js";
import { CoinService } from "./coin-service.js";
import { DeliveredCounts } from "./delivered-counts.js";
import { type LeaderLockFactory, PostgresLockFactory, SingleInstanceLockFactory } from "./leadership.js";
import { MeteredBackend } from "./metered-backend.js";
import { ServiceMetrics } from "./metrics.js";
import type { HelperServiceConfig } from "./service-config.js";
import type { ServiceInfo, StatusSnapshot, StatusSource } from "./status.js";
import {
  countOpenTransactions,
  listInterruptedBroadcastRows,
  listOpenTransactions,
} from "./status-queries.js";
import { StatusServer } from "./status-server.js";
import { SubsystemRegistry } from "./subsystems.js";

/** The version /status.json reports (package.json's). */
export const SERVICE_VERSION = VERSION;

export interface HelperServiceOptions {
  logger?: Logger;
  /** Folder relative in-process callbacks are resolved against (the config file's folder). */
  baseDir?: string;
  /** Handlers subscribed in code (e.g. FunctionEventHandler), in addition to `events:`. */
  handlers?: readonly EventHandler[];
  /** Run the database migrations at start (default true; idempotent). */
  initializeDatabase?: boolean;
  /** Between attempts to take a singleton lock held by another instance (default 2000 ms). */
  leaderRetryMs?: number;
}

export interface ServiceExit {
  /** 0: stopped on request; 2: a subsystem died. */
  code: 0 | 2;
  reason: string;
  error?: unknown;
}

export interface HelperService {
  readonly instanceId: string;
  readonly database: Database;
  readonly outbox: Outbox;
  readonly dispatcher: Dispatcher;
  readonly metrics: ServiceMetrics;
  /** http://ip:port/ of the status server, when enabled. */
  readonly statusUrl: string | undefined;
  /** Resolves once the service has stopped, on request (code 0) or after a failure (code 2). */
  readonly done: Promise<ServiceExit>;
  coin(name: string): CoinService;
  /** The ledger of a configured coin (accounts, addresses, sends). */
  ledger(name: string): Ledger;
  status(): Promise<StatusSnapshot>;
  health(): { ok: boolean; problems: string[] };
  /** Graceful stop; resolves with the exit (also available as `done`). */
  stop(reason?: string): Promise<ServiceExit>;
}

function backendUrlOf(backend: Backend): string {
  return backend instanceof BitcoindBackend ? backend.url : `${backend.constructor.name}`;
}

class RunningHelperService implements HelperService, StatusSource {
  readonly instanceId = randomUUID();
  readonly metrics = new ServiceMetrics();
  readonly subsystems = new SubsystemRegistry();
  readonly coins = new Map<string, CoinService>();
  readonly done: Promise<ServiceExit>;
  dispatcher!: Dispatcher;
  private purgeTimer: NodeJS.Timeout | undefined;
  outbox!: Outbox;
  statusServer: StatusServer | undefined;
  handlers: EventHandler[] = [];
  private resolveDone!: (exit: ServiceExit) => void;
  private shutdown: Promise<ServiceExit> | undefined;
  private state: ServiceInfo["state"] = "starting";
  private readonly startedAt = Date.now();
  private readonly logger: Logger;
  private readonly deliveredCounts: DeliveredCounts;

  constructor(
    readonly config: HelperServiceConfig,
    readonly database: Database,
    readonly locks: LeaderLockFactory,
    private readonly options: HelperServiceOptions,
  ) {
    this.logger = (options.logger ?? silentLogger).child({ module: "service" });
    this.deliveredCounts = new DeliveredCounts(database);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get statusUrl(): string | undefined {
    return this.statusServer?.url;
  }

  get metricsContentType(): string {
    return this.metrics.contentType;
  }

  coin(name: string): CoinService {
    const coin = this.coins.get(name);
    if (!coin)
      throw new ServiceError(
        `coin ${name} is not configured (configured: ${[...this.coins.keys()].join(", ")})`,
      );
    return coin;
  }

  ledger(name: string): Ledger {
    return this.coin(name).runtime.ledger;
  }

  async build(): Promise<void> {
    const logger = this.options.logger ?? silentLogger;
    this.#buildHandlers(logger);
    for (const [name, coinConfig] of Object.entries(this.config.coins)) {
      this.coins.set(name, await this.#buildCoin(name, coinConfig, logger));
    }
    this.#buildDispatcher(logger);
    this.#buildStatusServer(logger);
  }

  /** The configured handlers, the ones given in code, and the outbox that writes for them. */
  #buildHandlers(logger: Logger): void {
    const config = this.config;
    for (const [name, handlerConfig] of Object.entries(config.events ?? {})) {
      this.handlers.push(
        createEventHandler(name, handlerConfig, {
          logger,
          ...(this.options.baseDir !== undefined ? { baseDir: this.options.baseDir } : {}),
        }),
      );
    }
    const codeHandlers = this.options.handlers ?? [];
    this.handlers.push(...codeHandlers);
    this.outbox = new Outbox(this.database, [
      ...configuredRecipients(config.events ?? {}),
      ...codeHandlers.map(({ name, subscription }) => ({ name, subscription })),
    ]);
  }

  /** One coin: its metered backend, its runtime writing to the outbox, its duties. */
  async #buildCoin(name: string, coinConfig: CoinConfig, logger: Logger): Promise<CoinService> {
    const settings = this.config.service ?? {};
    const inner = createBackend(name, coinConfig.backend, logger);
    const backend = new MeteredBackend(inner, (method, ok) => this.metrics.rpcCall(name, method, ok));
    // Counting commits that wrote events gives "ledger updates" per coin without touching the chain code.
    const sink: TxUpdateSink = {
      writeTxUpdates: (trx, updates) => this.outbox.writeTxUpdates(trx, updates),
      write: (trx, events) => this.outbox.write(trx, events),
      notifyCommitted: () => {
        this.metrics.ledgerUpdated(name);
        this.outbox.notifyCommitted();
      },
    };
    const runtime = await CoinRuntime.open({
      name,
      coin: coinConfig,
      service: settings,
      database: this.database,
      sink,
      logger,
      backend,
    });
    return new CoinService({
      name,
      coin: coinConfig,
      runtime,
      backend,
      backendUrl: backendUrlOf(inner),
      locks: this.locks,
      subsystems: this.subsystems,
      metrics: this.metrics,
      logger,
      leaderRetryMs: this.options.leaderRetryMs,
      onFailure: (subsystem, error) => this.fail(subsystem, error),
      events: this.outbox,
      database: this.database,
    });
  }

  /** One dispatcher for every handler, woken by each commit that wrote events. */
  #buildDispatcher(logger: Logger): void {
    const config = this.config;
    const dispatcherConfig = config.service?.dispatcher ?? {};
    this.dispatcher = new Dispatcher({
      database: this.database,
      databaseUrl: config.database.url,
      handlers: this.handlers,
      concurrency: dispatcherConfig.concurrency,
      retrySchedule: dispatcherConfig.retry_schedule,
      pollIntervalMs:
        dispatcherConfig.poll_interval === undefined ? undefined : dispatcherConfig.poll_interval * 1000,
      logger,
      onOutcome: (handler, transition, event) => {
        const latency = (Date.now() - Date.parse(event.created_at)) / 1000;
        this.metrics.deliveryOutcome(handler, transition, latency);
      },
    });
    this.outbox.onCommitted(() => this.dispatcher.wake());
    this.metrics.setProviders({
      eventsCreated: () => this.outbox.created,
      openTransactions: () => countOpenTransactions(this.database),
      tipHeights: () => {
        const heights = new Map<string, number>();
        for (const [name, coin] of this.coins) {
          const height = coin.tipHeight();
          if (height !== undefined) heights.set(name, height);
        }
        return heights;
      },
    });
  }

  #buildStatusServer(logger: Logger): void {
    const statusConfig = this.config["status-server"] ?? {};
    if (statusConfig.enabled !== false) {
      this.statusServer = new StatusServer(this, {
        ip: statusConfig.ip,
        port: statusConfig.port,
        adminToken: statusConfig.admin_token,
        allowedHosts: statusConfig.allowed_hosts,
        readToken: statusConfig.read_token,
        logger,
        onFailure: (error) => this.fail("status-server", error),
      });
    }
  }

  async start(): Promise<void> {
    if (this.statusServer) {
      this.subsystems.set("status-server", "starting");
      try {
        await this.statusServer.start();
        this.subsystems.set("status-server", "running", this.statusServer.url);
      } catch (error) {
        this.fail("status-server", error);
        return;
      }
    }
    this.subsystems.set("dispatcher", "starting");
    await this.dispatcher.start();
    this.startRetentionPurge();
    this.subsystems.set("dispatcher", "running", `${this.handlers.length} handler(s)`);
    // Coins start side by side: one coin's long start-up scan does not hold up another.
    if (!this.shutdown) await Promise.all([...this.coins.values()].map((coin) => coin.start()));
    if (this.shutdown) return;
    this.state = "running";
    this.logger.info(
      { coins: [...this.coins.keys()], handlers: this.handlers.map((h) => h.name), status: this.statusUrl },
      "helper service running",
    );
  }

  /**
   * Delivered events past retention are deleted hourly (and once at start); dead and
   * pending ones stay until an operator acts. Several instances purging at once is harmless.
   */
  private startRetentionPurge(): void {
    const days = this.config.service?.dispatcher?.retention_days ?? DISPATCHER_DEFAULTS.retention_days;
    const purge = () => {
      purgeDelivered(this.database, days * 86_400_000)
        .then((purged) => {
          if (purged > 0) this.logger.info({ purged, retention_days: days }, "purged delivered events");
        })
        .catch((error: Error) => this.logger.warn({ err: error }, "purging delivered events failed"));
    };
    purge();
    this.purgeTimer = setInterval(purge, 3_600_000);
    this.purgeTimer.unref();
  }

  health(): { ok: boolean; problems: string[] } {
    for (const coin of this.coins.values()) coin.refreshSubsystems(this.subsystems);
    const problems = this.subsystems.problems();
    if (this.state !== "running") problems.unshift(`service is ${this.state}`);
    return { ok: problems.length === 0, problems };
  }

  async snapshot(): Promise<StatusSnapshot> {
    const health = this.health();
    const [open, interrupted, undelivered, delivered, recent, failed, dead] = await Promise.all([
      listOpenTransactions(this.database),
      listInterruptedBroadcastRows(this.database),
      undeliveredCounts(this.database),
      this.deliveredCounts.get(),
      listRecentEvents(this.database),
      listProblemDeliveries(this.database, "failed"),
      listProblemDeliveries(this.database, "dead"),
    ]);
    const now = Date.now();
    return {
      generated_at: now,
      service: {
        instance_id: this.instanceId,
        version: SERVICE_VERSION,
        pid: process.pid,
        started_at: this.startedAt,
        uptime_seconds: Math.round((now - this.startedAt) / 1000),
        state: this.state,
        database: { engine: this.database.engine, url: this.database.url },
        leadership: this.locks.kind,
        admin_actions: Boolean(this.config["status-server"]?.admin_token),
      },
      health,
      subsystems: this.subsystems.list(),
      coins: await Promise.all(
        [...this.coins.values()].map(async (coin) => ({
          ...coin.status(),
          reconciliation: await coin.reconciliation(),
        })),
      ),
      open_transactions: open,
      interrupted_broadcasts: interrupted,
      events: {
        created_by_this_process: this.outbox.created,
        handlers: withDelivered(undelivered, delivered.counts).map((c) => ({ ...c, failing: c.failed })),
        delivered_counted_at: delivered.countedAt,
        recent,
        failed,
        failing: failed,
        dead,
      },
    };
  }

  status(): Promise<StatusSnapshot> {
    return this.snapshot();
  }

  metricsText(): Promise<string> {
    return this.metrics.render();
  }

  async redeliverEvent(eventId: string): Promise<number> {
    const count = await redeliver(this.database, { eventId });
    this.dispatcher.wake();
    return count;
  }

  async redeliverDead(): Promise<number> {
    const count = await redeliver(this.database, { allDead: true });
    this.dispatcher.wake();
    return count;
  }

  onEventsCommitted(listener: () => void): () => void {
    return this.outbox.onCommitted(listener);
  }

  /** A subsystem died: log why, shut everything down, exit 2. */
  fail(subsystem: string, error: unknown): void {
    const failure = new SubsystemFailedError(subsystem, error);
    this.subsystems.set(subsystem, "failed", errorMessage(error));
    this.logger.error({ subsystem, err: failure }, "subsystem failed; shutting down");
    void this.shutdownWith({ code: 2, reason: failure.message, error: failure });
  }

  stop(reason = "stop requested"): Promise<ServiceExit> {
    return this.shutdownWith({ code: 0, reason });
  }

  private shutdownWith(exit: ServiceExit): Promise<ServiceExit> {
    if (this.shutdown) return this.shutdown;
    this.shutdown = this.runShutdown(exit);
    return this.shutdown;
  }

  private async runShutdown(exit: ServiceExit): Promise<ServiceExit> {
    this.state = "stopping";
    clearInterval(this.purgeTimer);
    const graceMs =
      (this.config.service?.shutdown_grace_period ?? SERVICE_DEFAULTS.shutdown_grace_period) * 1000;
    const deadline = Date.now() + graceMs;
    this.logger.info({ reason: exit.reason, graceMs }, "helper service stopping");
    // Stop taking work and let in-flight units finish: the chain duties close their listeners
    // and queues, the broadcaster finishes a broadcast in progress, the dispatcher records the
    // outcome of deliveries in flight.
    const drain = Promise.allSettled([
      ...[...this.coins.values()].map((coin) => coin.stop()),
      this.dispatcher?.stop(Math.max(0, graceMs - 500)),
    ]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drain.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn(
        { graceMs },
        "shutdown grace period exceeded; abandoning in-flight work (uncommitted database transactions roll back)",
      );
    }
    await Promise.allSettled(this.handlers.map((handler) => handler.close()));
    await this.statusServer?.close().catch(() => undefined);
    await Promise.allSettled([...this.coins.values()].map((coin) => coin.runtime.backend.close()));
    // After a timeout, work may still hold connections: closing them makes its open
    // transactions roll back. Do not wait long for that — the grace period is over.
    const closing = this.database.close().catch((error: Error) => {
      this.logger.warn({ err: error }, "closing the database failed");
    });
    if (timedOut) await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    else await closing;
    this.state = "stopped";
    this.logger.info({ code: exit.code }, "helper service stopped");
    this.resolveDone(exit);
    return exit;
  }
}

/** Opens the database and starts every subsystem; see the module comment for the lifecycle. */

export async function startHelperService(
  config: HelperServiceConfig,
  options: HelperServiceOptions = {},
): Promise<HelperService> {
  const logger = options.logger ?? silentLogger;
  const database = await openConfiguredDatabase(config.database, logger);
  try {
    if (options.initializeDatabase ?? true) {
      const result = await initializeDatabase(database);
      if (result.applied.length > 0) logger.info({ applied: result.applied }, "database migrated");
    }
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
  const locks: LeaderLockFactory =
    database.engine === "postgres"
      ? new PostgresLockFactory({ connectionString: config.database.url, logger })
      : new SingleInstanceLockFactory();
  const service = new RunningHelperService(config, database, locks, options);
  try {
    await service.build();
  } catch (error) {
    await Promise.allSettled(service.handlers.map((handler) => handler.close()));
    await Promise.allSettled([...service.coins.values()].map((coin) => coin.runtime.backend.close()));
    await database.close().catch(() => undefined);
    throw error;
  }
  await service.start();
  return service;
}
