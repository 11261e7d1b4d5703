/**
 * Read-only ledger queries behind the status page (the outbox's are in
 * events/outbox/queries.ts). Each is
 * one small statement outside any serializable transaction: a status page may show a
 * snapshot a few milliseconds stale, it must never hold locks the chain follower waits on.
 * Every list is bounded (`limit`), so the page stays cheap whatever the table sizes.
 */
import { sql } from "kysely";
import { formatAmount } from "../coins/amount.js";
import { getCoin } from "../coins/registry.js";
import type { Database } from "../db/open.js";
import { commentOf } from "../ledger/broadcasts.js";

export interface OpenTransactionRow {
  id: number;
  coin: string;
  wallet: string;
  txid: string;
  type: "deposit" | "broadcast";
  confirmations: number;
  block_height: number | null;
  /** Sum of our transactions on it, decimal string at full precision. */
  amount: string;
  /** Any of our transactions on it credited (deposits). */
  credited: boolean;
  updated_at: number;
}

function decimalsOf(coin: string): number {
  try {
    return getCoin(coin).decimals;
  } catch {
    return 8;
  }
}

/** Network transactions (`n`) with their wallet (`w`) and our transactions on them (`t`). */
function withWalletAndOurs(database: Database) {
  return database.db
    .selectFrom("ca_network_transaction as n")
    .innerJoin("ca_wallet as w", "w.id", "n.wallet_id")
    .leftJoin("ca_transaction as t", "t.network_transaction_id", "n.id");
}

export async function listOpenTransactions(database: Database, limit = 50): Promise<OpenTransactionRow[]> {
  const rows = await withWalletAndOurs(database)
    .select(({ fn }) => [
      "n.id",
      "w.coin",
      "w.name as wallet",
      "n.txid",
      "n.transaction_type",
      "n.confirmations",
      "n.block_height",
      "n.updated_at",
      fn.coalesce(fn.sum<bigint>("t.amount"), sql<bigint>`0`).as("sum_amount"),
      fn.max("t.credited_at").as("credited_at"),
    ])
    .where("n.tracked", "=", 1)
    .where("n.txid", "is not", null)
    .where((eb) => eb.or([eb("t.type", "is", null), eb("t.type", "in", ["deposit", "broadcast"])]))
    .groupBy(["n.id", "w.coin", "w.name"])
    .orderBy("n.id", "desc")
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    coin: row.coin,
    wallet: row.wallet,
    txid: row.txid ?? "",
    type: row.transaction_type,
    confirmations: row.confirmations,
    block_height: row.block_height,
    amount: formatAmount(BigInt(row.sum_amount), decimalsOf(row.coin)),
    credited: row.credited_at !== null && row.credited_at !== undefined,
    updated_at: row.updated_at,
  }));
}

export async function countOpenTransactions(database: Database): Promise<Map<string, number>> {
  const rows = await database.db
    .selectFrom("ca_network_transaction as n")
    .innerJoin("ca_wallet as w", "w.id", "n.wallet_id")
    .select(({ fn }) => ["w.coin", fn.countAll<number>().as("count")])
    .where("n.tracked", "=", 1)
    .where("n.txid", "is not", null)
    .groupBy("w.coin")
    .execute();
  return new Map(rows.map((row) => [row.coin, Number(row.count)]));
}

export interface InterruptedBroadcastRow {
  id: number;
  coin: string;
  wallet: string;
  opened_at: number;
  /** Total of the sends in it, decimal string. */
  amount: string;
  sends: number;
  /** The sendmany comment recovery looks for. */
  comment: string;
  /** Why recovery did not take a wallet transaction carrying that comment (null: none seen). */
  recovery_note: string | null;
}

export async function listInterruptedBroadcastRows(
  database: Database,
  limit = 50,
): Promise<InterruptedBroadcastRow[]> {
  const rows = await withWalletAndOurs(database)
    .select(({ fn }) => [
      "n.id",
      "w.coin",
      "w.name as wallet",
      "n.opened_at",
      "n.comment",
      "n.recovery_note",
      fn.coalesce(fn.sum<bigint>("t.amount"), sql<bigint>`0`).as("sum_amount"),
      fn.count<number>("t.id").as("count"),
    ])
    .where("n.transaction_type", "=", "broadcast")
    .where("n.opened_at", "is not", null)
    .where("n.closed_at", "is", null)
    .groupBy(["n.id", "w.coin", "w.name"])
    .orderBy("n.id")
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    coin: row.coin,
    wallet: row.wallet,
    opened_at: row.opened_at ?? 0,
    amount: formatAmount(BigInt(row.sum_amount), decimalsOf(row.coin)),
    sends: Number(row.count),
    comment: commentOf(row),
    recovery_note: row.recovery_note,
  }));
}
