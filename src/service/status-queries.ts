/**
 * Read-only queries behind the status page, plus the operator's redeliver actions. Each is
 * one small statement outside any serializable transaction: a status page may show a
 * snapshot a few milliseconds stale, it must never hold locks the chain follower waits on.
 * Every list is bounded (`limit`), so the page stays cheap whatever the table sizes.
 */
import { sql } from "kysely";
import { formatAmount } from "../coins/amount.js";
import { getCoin } from "../coins/registry.js";
import type { Database } from "../db/open.js";
import type { DeliveryState } from "../db/schema.js";
import { redeliver } from "../events/outbox/queries.js";
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

export async function listOpenTransactions(database: Database, limit = 50): Promise<OpenTransactionRow[]> {
  const rows = await database.db
    .selectFrom("ca_network_transaction as n")
    .innerJoin("ca_wallet as w", "w.id", "n.wallet_id")
    .leftJoin("ca_transaction as t", "t.network_transaction_id", "n.id")
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
  const rows = await database.db
    .selectFrom("ca_network_transaction as n")
    .innerJoin("ca_wallet as w", "w.id", "n.wallet_id")
    .leftJoin("ca_transaction as t", "t.network_transaction_id", "n.id")
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

export interface DeliverySummary {
  handler: string;
  state: DeliveryState;
  attempts: number;
  last_error: string | null;
  last_status: number | null;
  next_attempt_at: number;
  delivered_at: number | null;
}

export interface EventRow {
  event_id: string;
  event_name: string;
  created_at: number;
  /** The payload as JSON (amounts are decimal strings already). */
  data: Record<string, unknown>;
  deliveries: DeliverySummary[];
}

async function deliveriesOf(
  database: Database,
  eventRowIds: number[],
): Promise<Map<number, DeliverySummary[]>> {
  const byEvent = new Map<number, DeliverySummary[]>();
  if (eventRowIds.length === 0) return byEvent;
  const rows = await database.db
    .selectFrom("ca_delivery")
    .select([
      "event_row_id",
      "handler",
      "state",
      "attempts",
      "last_error",
      "last_status",
      "next_attempt_at",
      "delivered_at",
    ])
    .where("event_row_id", "in", eventRowIds)
    .orderBy("handler")
    .execute();
  for (const row of rows) {
    const list = byEvent.get(row.event_row_id) ?? [];
    const { event_row_id: _, ...summary } = row;
    list.push(summary);
    byEvent.set(row.event_row_id, list);
  }
  return byEvent;
}

function parsePayload(payload: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(payload);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function listRecentEvents(database: Database, limit = 25): Promise<EventRow[]> {
  const events = await database.db
    .selectFrom("ca_event")
    .select(["id", "event_id", "event_name", "created_at", "payload"])
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  const deliveries = await deliveriesOf(
    database,
    events.map((e) => e.id),
  );
  return events.map((e) => ({
    event_id: e.event_id,
    event_name: e.event_name,
    created_at: e.created_at,
    data: parsePayload(e.payload),
    deliveries: deliveries.get(e.id) ?? [],
  }));
}

export interface ProblemDeliveryRow extends DeliverySummary {
  event_id: string;
  event_name: string;
  data: Record<string, unknown>;
}

/** `failing`: pending after at least one failed attempt; `dead`: the schedule is exhausted. */
export async function listProblemDeliveries(
  database: Database,
  kind: "failing" | "dead",
  limit = 50,
): Promise<ProblemDeliveryRow[]> {
  let query = database.db
    .selectFrom("ca_delivery as d")
    .innerJoin("ca_event as e", "e.id", "d.event_row_id")
    .select([
      "e.event_id",
      "e.event_name",
      "e.payload",
      "d.handler",
      "d.state",
      "d.attempts",
      "d.last_error",
      "d.last_status",
      "d.next_attempt_at",
      "d.delivered_at",
    ]);
  query =
    kind === "dead"
      ? query.where("d.state", "=", "dead")
      : query.where("d.state", "=", "pending").where("d.attempts", ">", 0);
  const rows = await query.orderBy("d.id").limit(limit).execute();
  return rows.map(({ payload, ...row }) => ({ ...row, data: parsePayload(payload) }));
}

export interface HandlerDeliveryCounts {
  handler: string;
  pending: number;
  failing: number;
  delivered: number;
  dead: number;
}

export async function countDeliveriesByHandler(database: Database): Promise<HandlerDeliveryCounts[]> {
  const rows = await database.db
    .selectFrom("ca_delivery")
    .select(({ fn, eb }) => [
      "handler",
      "state",
      fn.countAll<number>().as("count"),
      fn.sum<number>(eb.case().when("attempts", ">", 0).then(1).else(0).end()).as("failing_count"),
    ])
    .groupBy(["handler", "state"])
    .execute();
  const byHandler = new Map<string, HandlerDeliveryCounts>();
  for (const row of rows) {
    const counts = byHandler.get(row.handler) ?? {
      handler: row.handler,
      pending: 0,
      failing: 0,
      delivered: 0,
      dead: 0,
    };
    const count = Number(row.count);
    if (row.state === "pending") {
      counts.pending += count;
      counts.failing += Number(row.failing_count ?? 0);
    } else if (row.state === "delivered") counts.delivered += count;
    else if (row.state === "dead") counts.dead += count;
    byHandler.set(row.handler, counts);
  }
  return [...byHandler.values()].sort((a, b) => a.handler.localeCompare(b.handler));
}

/** Operator action: deliver one event again to every handler (or one), whatever its state. */
export function redeliverEvent(database: Database, eventId: string, handler?: string): Promise<number> {
  return redeliver(database, { eventId }, handler);
}

/** Operator action: every dead delivery (optionally of one handler) gets another round of attempts. */
export function redeliverDead(database: Database, handler?: string): Promise<number> {
  return redeliver(database, { allDead: true }, handler);
}
