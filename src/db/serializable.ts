/**
 * Every unit of work runs in a SERIALIZABLE transaction and is retried when the database
 * aborts it to keep serializability (PostgreSQL 40001, deadlocks, SQLite busy). Money
 * safety rests on this: two concurrent sends both read the balance, and one of them is
 * forced to retry and see the other's debit — so an account can never be overdrawn.
 *
 * The function passed in may run several times: it must have no side effects outside the
 * database (no RPC calls, no event delivery, no in-memory state changes that survive a
 * rollback). Backend calls happen before or after, never inside.
 */
import { type Kysely, sql } from "kysely";
import { TransactionRetryExhaustedError } from "../errors.js";
import type { Database } from "./open.js";
import type { Schema } from "./schema.js";

export type Trx = Kysely<Schema>;

export interface SerializableOptions {
  /** Attempts in total, including the first (default: the database's transactionRetries + 1). */
  maxAttempts?: number;
  /** First backoff in ms; doubles each retry, with full jitter (default 5). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  onRetry?: (attempt: number, error: unknown) => void;
  /**
   * "read committed" is for bookkeeping that touches only rows it owns by primary key
   * (delivery outcomes): no money moves, and serializable would only add conflicts.
   * SQLite always uses BEGIN IMMEDIATE.
   */
  isolation?: "serializable" | "read committed";
}

/** Serialization failures, deadlocks and lock timeouts: safe to run the whole function again. */
export function isRetryableError(error: unknown): boolean {
  const e = error as { code?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  // PostgreSQL: serialization_failure, deadlock_detected.
  if (e.code === "40001" || e.code === "40P01") return true;
  // MySQL/MariaDB: ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT; 1020 ER_CHECKREAD (record changed).
  if (e.errno === 1213 || e.errno === 1205 || e.errno === 1020) return true;
  // SQLite: another connection holds the write lock beyond busy_timeout.
  if (typeof e.code === "string" && /^SQLITE_(BUSY|LOCKED)/.test(e.code)) return true;
  return false;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSerializable<T>(
  database: Database,
  fn: (trx: Trx) => Promise<T>,
  options: SerializableOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? database.transactionRetries + 1;
  const baseDelayMs = options.baseDelayMs ?? 5;
  const maxDelayMs = options.maxDelayMs ?? 500;
  let lastError: unknown;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      database.stats.transactions++;
      return await runOnce(database, fn, options.isolation ?? "serializable");
    } catch (error) {
      if (!isRetryableError(error)) throw error;
      lastError = error;
      if (attempt === maxAttempts) break;
      database.stats.retries++;
      options.onRetry?.(attempt, error);
      const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.random() * cap);
    }
  }
  throw new TransactionRetryExhaustedError(maxAttempts, lastError);
}

async function runOnce<T>(
  database: Database,
  fn: (trx: Trx) => Promise<T>,
  isolation: "serializable" | "read committed",
): Promise<T> {
  if (database.engine !== "sqlite") {
    return database.db.transaction().setIsolationLevel(isolation).execute(fn);
  }
  // SQLite: BEGIN IMMEDIATE takes the write lock up front, so a read-then-write can never
  // be interleaved with another writer (Kysely's own transactions use a deferred BEGIN).
  return database.db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw error;
    }
  });
}
