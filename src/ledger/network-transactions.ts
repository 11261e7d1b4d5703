/**
 * Network transactions and their confirmations: the seam between the chain follower and the
 * ledger. Each function runs inside the caller's serializable transaction and returns the
 * txupdate payloads the change implies, so the caller writes them to the outbox in the
 * same transaction (no change without its events, no event without its change).
 */
import type { Selectable } from "kysely";
import { formatAmount } from "../coins/amount.js";
import type { NetworkTransactionTable, NetworkTransactionType } from "../db/schema.js";
import type { Trx } from "../db/serializable.js";
import type { TxUpdateData } from "../events/types.js";
import { adjustAccountBalance } from "./accounts.js";
import type { LedgerContext } from "./context.js";
import { insertReturningId } from "./insert.js";

export type NetworkTransaction = Selectable<NetworkTransactionTable>;

export interface ChainObservation {
  txid: string;
  /** As the daemon reports it; negative values (conflicts) are normalized to -1. */
  confirmations: number;
  blockHash?: string | null;
  blockHeight?: number | null;
  /** Current tip height, used to stop tracking transactions that stay conflicted. */
  tipHeight?: number;
}

export interface DepositObservation extends ChainObservation {
  /** Amounts received per address, already summed; addresses not ours are ignored. */
  receives: ReadonlyArray<{ address: string; amount: bigint }>;
}

export function normalizeConfirmations(confirmations: number): number {
  return confirmations < 0 ? -1 : confirmations;
}

export async function findNetworkTransaction(
  trx: Trx,
  ctx: LedgerContext,
  txid: string,
  type: NetworkTransactionType,
): Promise<NetworkTransaction | undefined> {
  return trx
    .selectFrom("ca_network_transaction")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("txid", "=", txid)
    .where("transaction_type", "=", type)
    .executeTakeFirst();
}

/** Network transactions whose confirmations still matter (not final); `unconfirmed`: only those at 0. */
export async function listTrackedNetworkTransactions(
  trx: Trx,
  ctx: LedgerContext,
  filter: { unconfirmed?: boolean } = {},
): Promise<NetworkTransaction[]> {
  let query = trx
    .selectFrom("ca_network_transaction")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("tracked", "=", 1)
    .where("txid", "is not", null);
  if (filter.unconfirmed) query = query.where("confirmations", "=", 0);
  return query.orderBy("id").execute();
}

/** A new network transaction: unseen (-1 confirmations), tracked. */
export async function insertNetworkTransaction(
  trx: Trx,
  ctx: LedgerContext,
  fields: { txid: string | null; transaction_type: NetworkTransactionType; opened_at?: number },
  now: number = Date.now(),
): Promise<number> {
  return insertReturningId(trx, ctx.engine, "ca_network_transaction", {
    wallet_id: ctx.walletId,
    txid: fields.txid,
    transaction_type: fields.transaction_type,
    confirmations: -1,
    block_hash: null,
    block_height: null,
    conflicted_at_height: null,
    tracked: 1,
    fee: null,
    opened_at: fields.opened_at ?? null,
    closed_at: null,
    created_at: now,
    updated_at: now,
  });
}

/** Applies a deposit as seen on the chain; returns the txupdate payloads of what changed. */
export async function applyDeposit(
  trx: Trx,
  ctx: LedgerContext,
  seen: DepositObservation,
): Promise<TxUpdateData[]> {
  const amounts = new Map<string, bigint>();
  for (const r of seen.receives) amounts.set(r.address, (amounts.get(r.address) ?? 0n) + r.amount);
  if (amounts.size === 0) return [];
  const ours = await trx
    .selectFrom("ca_address")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("account_id", "is not", null)
    .where("address", "in", [...amounts.keys()])
    .execute();
  if (ours.length === 0) return [];

  const now = Date.now();
  let ntx = await findNetworkTransaction(trx, ctx, seen.txid, "deposit");
  if (!ntx) {
    const id = await insertNetworkTransaction(
      trx,
      ctx,
      { txid: seen.txid, transaction_type: "deposit" },
      now,
    );
    ntx = await trx
      .selectFrom("ca_network_transaction")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
  }

  const created = new Set<number>();
  for (const address of ours) {
    const amount = amounts.get(address.address) ?? 0n;
    if (amount <= 0n) continue;
    const existing = await trx
      .selectFrom("ca_transaction")
      .select("id")
      .where("network_transaction_id", "=", ntx.id)
      .where("address_id", "=", address.id)
      .where("type", "=", "deposit")
      .executeTakeFirst();
    if (existing) continue;
    const id = await insertReturningId(trx, ctx.engine, "ca_transaction", {
      wallet_id: ctx.walletId,
      type: "deposit",
      state: "incoming",
      amount,
      sending_account_id: null,
      receiving_account_id: address.account_id,
      address_id: address.id,
      network_transaction_id: ntx.id,
      label: null,
      credited_at: null,
      processed_at: null,
      created_at: now,
      updated_at: now,
    });
    created.add(id);
  }
  return updateConfirmations(trx, ctx, ntx, seen, created);
}

/** Applies the chain state of one of our broadcasts; unknown txids yield nothing. */
export async function applyBroadcastConfirmations(
  trx: Trx,
  ctx: LedgerContext,
  seen: ChainObservation,
): Promise<TxUpdateData[]> {
  const ntx = await findNetworkTransaction(trx, ctx, seen.txid, "broadcast");
  if (!ntx) return [];
  return updateConfirmations(trx, ctx, ntx, seen, new Set());
}

/** The state a network transaction moves to on an observation (computed, not yet written). */
interface ConfirmationPlan {
  confirmations: number;
  /** Confirmations differ from the stored ones: every transaction of it gets a txupdate. */
  changed: boolean;
  /** Some column differs: the row must be written. */
  needsWrite: boolean;
  row: {
    confirmations: number;
    block_hash: string | null;
    block_height: number | null;
    conflicted_at_height: number | null;
    tracked: number;
  };
}

function planConfirmations(
  ctx: LedgerContext,
  ntx: NetworkTransaction,
  seen: ChainObservation,
): ConfirmationPlan {
  const confirmations = normalizeConfirmations(seen.confirmations);
  // A conflicted transaction is reported once (-1), then watched for max_confirmation_count
  // blocks in case it comes back, then dropped from tracking.
  const conflictedAt = confirmations < 0 ? (ntx.conflicted_at_height ?? seen.tipHeight ?? null) : null;
  const conflictExpired =
    confirmations < 0 &&
    conflictedAt !== null &&
    seen.tipHeight !== undefined &&
    seen.tipHeight - conflictedAt >= ctx.maxConfirmations;
  const tracked = confirmations >= ctx.maxConfirmations || conflictExpired ? 0 : 1;
  const blockHash = confirmations > 0 ? (seen.blockHash ?? ntx.block_hash) : null;
  const blockHeight = confirmations > 0 ? (seen.blockHeight ?? ntx.block_height) : null;
  const changed = confirmations !== ntx.confirmations;
  return {
    confirmations,
    changed,
    needsWrite:
      changed ||
      tracked !== ntx.tracked ||
      conflictedAt !== ntx.conflicted_at_height ||
      blockHash !== ntx.block_hash ||
      blockHeight !== ntx.block_height,
    row: {
      confirmations,
      block_hash: blockHash,
      block_height: blockHeight,
      conflicted_at_height: conflictedAt,
      tracked,
    },
  };
}

/** The deposit and send rows of network transactions, as settleTransactions needs them. */
function selectSettleRows(trx: Trx) {
  return trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_address as a", "a.id", "t.address_id")
    .select([
      "t.id",
      "t.type",
      "t.state",
      "t.amount",
      "t.address_id",
      "t.sending_account_id",
      "t.receiving_account_id",
      "t.network_transaction_id",
      "a.address",
    ])
    .where("t.type", "in", ["deposit", "broadcast"])
    .orderBy("t.id");
}

type SettleRow = Awaited<ReturnType<ReturnType<typeof selectSettleRows>["execute"]>>[number];

/**
 * Credits or un-credits the deposits across the threshold and returns one txupdate per
 * transaction whose confirmations or credited state changed (or that is new).
 */
async function settleTransactions(
  trx: Trx,
  ctx: LedgerContext,
  ntx: NetworkTransaction,
  txid: string,
  plan: ConfirmationPlan,
  rows: readonly SettleRow[],
  created: ReadonlySet<number>,
  now: number,
): Promise<TxUpdateData[]> {
  const { confirmations, changed } = plan;
  const credited = confirmations >= ctx.creditThreshold;
  const updates: TxUpdateData[] = [];
  for (const tx of rows) {
    let creditChanged = false;
    if (tx.type === "deposit" && tx.receiving_account_id !== null && tx.address_id !== null) {
      const wasCredited = tx.state === "credited" || tx.state === "processed";
      if (credited && !wasCredited) {
        await adjustAccountBalance(trx, tx.receiving_account_id, tx.amount);
        await adjustAddressBalance(trx, tx.address_id, tx.amount);
        await trx
          .updateTable("ca_transaction")
          .set({ state: "credited", credited_at: now, updated_at: now })
          .where("id", "=", tx.id)
          .execute();
        creditChanged = true;
      } else if (!credited && wasCredited) {
        // Reorg or double spend took the deposit back below the threshold: so does the money.
        await adjustAccountBalance(trx, tx.receiving_account_id, -tx.amount);
        await adjustAddressBalance(trx, tx.address_id, -tx.amount);
        await trx
          .updateTable("ca_transaction")
          .set({ state: "incoming", credited_at: null, updated_at: now })
          .where("id", "=", tx.id)
          .execute();
        creditChanged = true;
      }
    }
    if (!changed && !creditChanged && !created.has(tx.id)) continue;
    const account = tx.type === "deposit" ? tx.receiving_account_id : tx.sending_account_id;
    updates.push({
      coin_name: ctx.coin.name,
      transaction: tx.id,
      network_transaction: ntx.id,
      transaction_type: tx.type === "deposit" ? "deposit" : "broadcast",
      txid,
      account: account ?? 0,
      address: tx.address,
      amount: formatAmount(tx.amount, ctx.coin.decimals),
      credited,
      confirmations,
    });
  }
  return updates;
}

/**
 * Sets confirmations/block of a network transaction, credits or un-credits its deposits
 * across the threshold, decides whether it is still tracked, and returns one txupdate per
 * transaction whose confirmations or credited state changed (or that is new).
 */
export async function updateConfirmations(
  trx: Trx,
  ctx: LedgerContext,
  ntx: NetworkTransaction,
  seen: ChainObservation,
  created: ReadonlySet<number>,
): Promise<TxUpdateData[]> {
  const now = Date.now();
  const plan = planConfirmations(ctx, ntx, seen);
  if (plan.needsWrite) {
    await trx
      .updateTable("ca_network_transaction")
      .set({ ...plan.row, updated_at: now })
      .where("id", "=", ntx.id)
      .execute();
  }
  const rows = await selectSettleRows(trx).where("t.network_transaction_id", "=", ntx.id).execute();
  return settleTransactions(trx, ctx, ntx, seen.txid, plan, rows, created, now);
}

/** Ids per IN list: well under every engine's bound-parameter limit. */
const IDS_PER_QUERY = 500;

/**
 * updateConfirmations for many network transactions at once (the block tracker moving every
 * open transaction to the new tip): rows read with one query per 500 transactions, and one
 * UPDATE per distinct new state (transactions mined in the same block share one) instead of
 * two statements per transaction. Same results, same events, in the order given.
 */
export async function updateConfirmationsMany(
  trx: Trx,
  ctx: LedgerContext,
  items: ReadonlyArray<{ ntx: NetworkTransaction; seen: ChainObservation }>,
): Promise<TxUpdateData[]> {
  const now = Date.now();
  const plans = items.map((item) => planConfirmations(ctx, item.ntx, item.seen));
  const groups = new Map<string, { row: ConfirmationPlan["row"]; ids: number[] }>();
  items.forEach((item, i) => {
    const plan = plans[i] as ConfirmationPlan;
    if (!plan.needsWrite) return;
    const key = JSON.stringify(plan.row);
    const group = groups.get(key) ?? { row: plan.row, ids: [] };
    group.ids.push(item.ntx.id);
    groups.set(key, group);
  });
  for (const { row, ids } of groups.values()) {
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      await trx
        .updateTable("ca_network_transaction")
        .set({ ...row, updated_at: now })
        .where("id", "in", ids.slice(i, i + IDS_PER_QUERY))
        .execute();
    }
  }
  // Rows only where something can come of them: new confirmations, or a credit to revisit.
  const ids = items.map((item) => item.ntx.id);
  const rowsByNtx = new Map<number, SettleRow[]>();
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
    const rows = await selectSettleRows(trx)
      .where("t.network_transaction_id", "in", ids.slice(i, i + IDS_PER_QUERY))
      .execute();
    for (const row of rows) {
      const ntxId = Number(row.network_transaction_id);
      const list = rowsByNtx.get(ntxId) ?? [];
      list.push(row);
      rowsByNtx.set(ntxId, list);
    }
  }
  const updates: TxUpdateData[] = [];
  for (const [i, item] of items.entries()) {
    const rows = rowsByNtx.get(item.ntx.id) ?? [];
    updates.push(
      ...(await settleTransactions(
        trx,
        ctx,
        item.ntx,
        item.seen.txid,
        plans[i] as ConfirmationPlan,
        rows,
        new Set(),
        now,
      )),
    );
  }
  return updates;
}

async function adjustAddressBalance(trx: Trx, addressId: number, delta: bigint): Promise<void> {
  await trx
    .updateTable("ca_address")
    .set((eb) => ({ balance: eb("balance", "+", delta) }))
    .where("id", "=", addressId)
    .execute();
}
