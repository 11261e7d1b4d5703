/**
 * Who runs a singleton duty (the chain follower of a coin, the broadcaster) when several
 * helper services share one database.
 *
 * PostgreSQL: a session-level advisory lock taken on a DEDICATED connection (never a pooled
 * one: a pooled connection goes back to the pool and the lock would travel with it). The
 * lock lives exactly as long as that connection: when the holder dies (even `kill -9`) the
 * server sees the socket close and releases it, and a standby that retries every few seconds
 * takes over. Conversely, when our connection breaks we can no longer know whether we still
 * hold the lock, so we report it lost at once and the caller stops the duty.
 *
 * SQLite and MySQL/MariaDB: one helper service per database is assumed; the "lock" is
 * always granted (SQLite cannot be shared across hosts anyway; for MariaDB GET_LOCK would
 * work the same way but is not implemented — run a single instance).
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { errorMessage } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { maskUrl } from "../redact/url.js";

/** A lock that, once acquired, may be lost at any moment (the callback says so). */
export interface LeaderLock {
  /** What the lock guards, for logs ("chain:btc:default"). */
  readonly name: string;
  /** One attempt; true when we hold the lock afterwards. */
  tryAcquire(): Promise<boolean>;
  /** Called at most once per acquisition when the lock is lost without release(). */
  onLost(listener: (reason: string) => void): void;
  /** Gives the lock up and closes the connection; safe to call when not held. */
  release(): Promise<void>;
}

export interface LeaderLockFactory {
  /** "postgres-advisory" or "single-instance". */
  readonly kind: string;
  create(name: string): LeaderLock;
}

/** First key of the two-int4 advisory lock form: "cass" — keeps our locks apart from the application's. */
const LOCK_NAMESPACE = 0x63617373;

/** A stable int4 from the lock name. */
export function advisoryLockKey(name: string): number {
  return createHash("sha256").update(name).digest().readInt32BE(0);
}

export interface PostgresLockOptions {
  connectionString: string;
  /** How often the held connection is probed (`select 1`); default 2000 ms. */
  heartbeatMs?: number;
  logger?: Logger;
}

export class PostgresAdvisoryLock implements LeaderLock {
  private client: pg.Client | undefined;
  private held = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private lostListener: ((reason: string) => void) | undefined;
  private readonly logger: Logger;
  private readonly key: number;

  constructor(
    readonly name: string,
    private readonly options: PostgresLockOptions,
  ) {
    this.key = advisoryLockKey(name);
    this.logger = (options.logger ?? silentLogger).child({ module: "service.leadership", lock: name });
  }

  onLost(listener: (reason: string) => void): void {
    this.lostListener = listener;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    const client = await this.connect();
    const result = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1, $2) as locked", [
      LOCK_NAMESPACE,
      this.key,
    ]);
    if (result.rows[0]?.locked !== true) return false;
    this.held = true;
    this.startHeartbeat(client);
    this.logger.info("advisory lock acquired");
    return true;
  }

  async release(): Promise<void> {
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    const wasHeld = this.held;
    this.held = false;
    if (!client) return;
    // Closing the session releases every session-level advisory lock it holds.
    await client.end().catch(() => undefined);
    if (wasHeld) this.logger.info("advisory lock released");
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const { Client } = (await import("pg")).default; // loaded only on PostgreSQL
    const client = new Client({
      connectionString: this.options.connectionString,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      query_timeout: 5000,
      application_name: `cryptoassets leader ${this.name}`.slice(0, 63),
    });
    client.on("error", (error) => this.lose(client, `lock connection error: ${error.message}`));
    client.on("end", () => this.lose(client, "lock connection closed"));
    try {
      await client.connect();
    } catch (error) {
      client.removeAllListeners("end");
      await client.end().catch(() => undefined);
      throw new Error(
        `cannot connect to ${maskUrl(this.options.connectionString)} for the ${this.name} lock: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    this.client = client;
    return client;
  }

  private startHeartbeat(client: pg.Client): void {
    const every = this.options.heartbeatMs ?? 2000;
    this.heartbeat = setInterval(() => {
      client.query("select 1").catch((error: Error) => {
        this.lose(client, `lock connection heartbeat failed: ${error.message}`);
        void client.end().catch(() => undefined);
      });
    }, every);
    this.heartbeat.unref();
  }

  private lose(client: pg.Client, reason: string): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.heartbeat);
    const wasHeld = this.held;
    this.held = false;
    if (wasHeld) {
      this.logger.warn({ reason }, "advisory lock lost");
      this.lostListener?.(reason);
    }
  }
}

export class PostgresLockFactory implements LeaderLockFactory {
  readonly kind = "postgres-advisory";
  constructor(private readonly options: PostgresLockOptions) {}
  create(name: string): LeaderLock {
    return new PostgresAdvisoryLock(name, this.options);
  }
}

/** SQLite/MySQL: a single helper service per database, so every duty is ours at once. */
export class SingleInstanceLockFactory implements LeaderLockFactory {
  readonly kind = "single-instance";
  create(name: string): LeaderLock {
    return {
      name,
      tryAcquire: async () => true,
      onLost: () => undefined,
      release: async () => undefined,
    };
  }
}
