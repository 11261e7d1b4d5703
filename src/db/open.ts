/**
 * Opens a Kysely instance on SQLite, PostgreSQL or MySQL/MariaDB from a URL. Each driver is
 * imported when its engine is opened: the others' code (~15 MiB each) never loads.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from "kysely";
import { DatabaseUrlError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { maskUrl } from "../redact/url.js";
import { NormalizeTypesPlugin } from "./normalize-plugin.js";
import type { Schema } from "./schema.js";
import { withStatementCache } from "./sqlite-statements.js";
import { type DatabaseUrl, type Engine, parseDatabaseUrl } from "./url.js";

export interface Database {
  readonly db: Kysely<Schema>;
  readonly engine: Engine;
  /** The URL with the password masked: safe to log. */
  readonly url: string;
  /** How many times runSerializable retried a transaction (all callers). */
  readonly stats: { retries: number; transactions: number };
  /** Retries after a serialization conflict before runSerializable gives up (database.transaction_retries). */
  readonly transactionRetries: number;
  close(): Promise<void>;
}

export interface OpenOptions {
  logger?: Logger;
  /** Connections in the pool (PostgreSQL, MySQL). */
  poolSize?: number;
  /** Retries after a serialization conflict (default 19: 20 attempts in all). */
  transactionRetries?: number;
}

/** Default of database.transaction_retries: a busy wallet on PostgreSQL needs a few. */
export const DEFAULT_TRANSACTION_RETRIES = 19;

/**
 * A relative SQLite path that cannot be what the operator meant: its directory is missing,
 * or the file is absent while the absolute path this project used to read the same URL as
 * holds one (`sqlite:///var/x.db` was /var/x.db before we followed SQLAlchemy's rules).
 * Opening it would fail with "unable to open database file" or start an empty ledger.
 */
function relativeSqliteProblem(target: Extract<DatabaseUrl, { engine: "sqlite" }>): string | undefined {
  const former = target.formerReading;
  if (former === undefined || existsSync(target.filename)) return undefined;
  const rule = `database url: sqlite:///${former.slice(1)} means ${target.filename}, relative to the working directory (SQLAlchemy's rule)`;
  if (existsSync(former)) {
    return `${rule}, and no database is there, but ${former} exists: for that file write sqlite:///${former} (four slashes)`;
  }
  if (!existsSync(dirname(target.filename))) {
    return `${rule}, and its directory does not exist; for the absolute path ${former} write sqlite:///${former} (four slashes)`;
  }
  return undefined;
}

export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  const target = parseDatabaseUrl(url);
  const logger = options.logger ?? silentLogger;
  const poolSize = options.poolSize ?? 10;
  let dialect: SqliteDialect | PostgresDialect | MysqlDialect;
  switch (target.engine) {
    case "sqlite": {
      const problem = relativeSqliteProblem(target);
      if (problem !== undefined) throw new DatabaseUrlError(problem);
      const { default: SQLite } = await import("better-sqlite3");
      const sqlite = new SQLite(target.filename);
      // Every integer comes back as bigint so no money value ever passes through a float.
      sqlite.defaultSafeIntegers(true);
      sqlite.pragma("journal_mode = WAL");
      sqlite.pragma("busy_timeout = 5000");
      sqlite.pragma("foreign_keys = ON");
      // Statement journals (a multi-row statement inside a transaction keeps the pages it
      // changes, to undo just itself) in memory: past 64 KiB they went to a temp file, a
      // write per page in every batch of deposits (issue 14). They live for one statement.
      sqlite.pragma("temp_store = MEMORY");
      dialect = new SqliteDialect({ database: withStatementCache(sqlite) });
      break;
    }
    case "postgres": {
      const { default: pg } = await import("pg");
      const pool = new pg.Pool({ connectionString: target.connectionString, max: poolSize });
      // A pooled connection can die (server restart, admin kill). The pool listens on idle
      // connections only and drops its listener while one is checked out, and Kysely adds
      // none: an unlistened 'error' on a busy connection would crash the process (found by
      // restarting PostgreSQL under the service). The query in flight fails with the error
      // (its transaction is retried or reported by the caller); the pool replaces the
      // connection.
      pool.on("error", (error) => logger.warn({ err: error }, "idle PostgreSQL connection lost"));
      pool.on("connect", (client) => {
        client.on("error", (error) => logger.warn({ err: error }, "PostgreSQL connection lost while in use"));
      });
      dialect = new PostgresDialect({ pool });
      break;
    }
    case "mysql": {
      const { createPool } = await import("mysql2");
      dialect = new MysqlDialect({
        // bigNumberStrings: BIGINT arrives as text, never as a lossy JS number.
        pool: createPool({
          uri: target.uri,
          connectionLimit: poolSize,
          supportBigNumbers: true,
          bigNumberStrings: true,
          decimalNumbers: false,
        }),
      });
      break;
    }
  }
  const db = new Kysely<Schema>({ dialect, plugins: [new NormalizeTypesPlugin()] });
  const masked = maskUrl(url);
  const file = target.engine === "sqlite" ? target.filename : undefined;
  logger.debug({ url: masked, engine: target.engine, file }, "database opened");
  return {
    db,
    engine: target.engine,
    url: masked,
    stats: { retries: 0, transactions: 0 },
    transactionRetries: options.transactionRetries ?? DEFAULT_TRANSACTION_RETRIES,
    close: () => db.destroy(),
  };
}

/** The `database:` section as the configuration gives it (the original's key names). */
export interface DatabaseSettings {
  url: string;
  pool_size?: number | undefined;
  transaction_retries?: number | undefined;
}

/** Opens the database a configuration names, with its pool size and retry count. */
export function openConfiguredDatabase(settings: DatabaseSettings, logger?: Logger): Promise<Database> {
  return openDatabase(settings.url, {
    ...(logger === undefined ? {} : { logger }),
    ...(settings.pool_size === undefined ? {} : { poolSize: settings.pool_size }),
    ...(settings.transaction_retries === undefined
      ? {}
      : { transactionRetries: settings.transaction_retries }),
  });
}
