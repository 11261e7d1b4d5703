/** Opens a Kysely instance on SQLite, PostgreSQL or MySQL/MariaDB from a URL. */
import SQLite from "better-sqlite3";
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from "kysely";
import { createPool } from "mysql2";
import pg from "pg";
import { type Logger, silentLogger } from "../log.js";
import { maskUrl } from "../redact/url.js";
import { NormalizeTypesPlugin } from "./normalize-plugin.js";
import type { Schema } from "./schema.js";
import { withStatementCache } from "./sqlite-statements.js";
import { type Engine, parseDatabaseUrl } from "./url.js";

export interface Database {
  readonly db: Kysely<Schema>;
  readonly engine: Engine;
  /** The URL with the password masked: safe to log. */
  readonly url: string;
  /** How many times runSerializable retried a transaction (all callers). */
  readonly stats: { retries: number; transactions: number };
  close(): Promise<void>;
}

export interface OpenOptions {
  logger?: Logger;
  /** Connections in the pool (PostgreSQL, MySQL). */
  poolSize?: number;
}

export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  const target = parseDatabaseUrl(url);
  const logger = options.logger ?? silentLogger;
  const poolSize = options.poolSize ?? 10;
  let dialect: SqliteDialect | PostgresDialect | MysqlDialect;
  switch (target.engine) {
    case "sqlite": {
      const sqlite = new SQLite(target.filename);
      // Every integer comes back as bigint so no money value ever passes through a float.
      sqlite.defaultSafeIntegers(true);
      sqlite.pragma("journal_mode = WAL");
      sqlite.pragma("busy_timeout = 5000");
      sqlite.pragma("foreign_keys = ON");
      dialect = new SqliteDialect({ database: withStatementCache(sqlite) });
      break;
    }
    case "postgres": {
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
    case "mysql":
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
  const db = new Kysely<Schema>({ dialect, plugins: [new NormalizeTypesPlugin()] });
  const masked = maskUrl(url);
  logger.debug({ url: masked, engine: target.engine }, "database opened");
  return {
    db,
    engine: target.engine,
    url: masked,
    stats: { retries: 0, transactions: 0 },
    close: () => db.destroy(),
  };
}
