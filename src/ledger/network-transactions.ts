/**
 * Network transactions and their confirmations: the seam between the chain follower and the
 * ledger. Each function runs inside the caller's serializable transaction and returns the
 * txupdate payloads the change implies, so the caller writes them to the outbox in the
 * same transaction (no change without its events, no event without its change).
 */
import type { Insertable, Selectable } from "kysely";
import { formatAmount } from "../coins/amount.js";
import {
  type BulkColumn,
  breathe,
  forEachChunk,
  insertRows,
  ROWS_PER_STATEMENT,
  updateRowsById,
  valueIn,
} from "../db/bulk.js";
import type { NetworkTransactionTable, NetworkTransactionType, TransactionTable } from "../db/schema.js";
import type { Trx } from "../db/serializable.js";
import type { TxUpdateData } from "../events/types.js";
import type { Address } from "./addresses.js";
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

/**
 * Network transactions whose confirmations still matter (not final), by id: those after
 * `afterId`, at most `limit` (all when undefined); `unconfirmed`: only those at 0.
 */
export async function listTrackedPage(
  trx: Trx,
  ctx: LedgerContext,
  afterId: number,
  limit: number | undefined,
  filter: { unconfirmed?: boolean } = {},
): Promise<NetworkTransaction[]> {
  let query = trx
    .selectFrom("ca_network_transaction")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("tracked", "=", 1)
    .where("txid", "is not", null)
    .where("id", ">", afterId);
  if (filter.unconfirmed) query = query.where("confirmations", "=", 0);
  query = query.orderBy("id");
  return limit === undefined ? query.execute() : query.limit(limit).execute();
}

/** Network transactions whose confirmations still matter (not final); `unconfirmed`: only those at 0. */
export async function listTrackedNetworkTransactions(
  trx: Trx,
  ctx: LedgerContext,
  filter: { unconfirmed?: boolean } = {},
): Promise<NetworkTransaction[]> {
  if (ctx.engine !== "sqlite") return listTrackedPage(trx, ctx, 0, undefined, filter);
  // SQLite reads synchronously: page by id, yielding the event loop between pages (../db/bulk.ts).
  const rows: NetworkTransaction[] = [];
  for (;;) {
    const more = await listTrackedPage(trx, ctx, rows.at(-1)?.id ?? 0, ROWS_PER_STATEMENT, filter);
    rows.push(...more);
    if (more.length < ROWS_PER_STATEMENT) return rows;
    await breathe(ctx.engine);
  }
}

/** A new network transaction: unseen (-1 confirmations), tracked. */
export async function insertNetworkTransaction(
  trx: Trx,
  ctx: LedgerContext,
  fields: { txid: string | null; transaction_type: NetworkTransactionType; opened_at?: number },
  now: number = Date.now(),
): Promise<number> {
  return insertReturningId(trx, ctx.engine, "ca_network_transaction", unseenRow(ctx, fields, now));
}

/** The columns of a new network transaction: unseen (-1 confirmations), tracked. */
function unseenRow(
  ctx: LedgerContext,
  fields: { txid: string | null; transaction_type: NetworkTransactionType; opened_at?: number },
  now: number,
) {
  return {
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
  };
}

/** Key of a network transaction in the maps below: its type and txid. */
export function networkKey(type: NetworkTransactionType, txid: string): string {
  return `${type}:${txid}`;
}

/** This wallet's network transactions of these txids, both types, keyed by networkKey. */
export async function findNetworkTransactions(
  trx: Trx,
  ctx: LedgerContext,
  txids: readonly string[],
): Promise<Map<string, NetworkTransaction>> {
  const found = new Map<string, NetworkTransaction>();
  await forEachChunk(ctx.engine, [...new Set(txids)], async (chunk) => {
    const rows = await trx
      .selectFrom("ca_network_transaction")
      .selectAll()
      .where("wallet_id", "=", ctx.walletId)
      .where(valueIn(ctx.engine, "txid", chunk, "text"))
      .execute();
    for (const row of rows) if (row.txid !== null) found.set(networkKey(row.transaction_type, row.txid), row);
  });
  return found;
}

/** Receiving addresses of our accounts among `addresses`, by address. */
async function findOwnAddresses(
  trx: Trx,
  ctx: LedgerContext,
  addresses: readonly string[],
): Promise<Map<string, Address>> {
  const found = new Map<string, Address>();
  await forEachChunk(ctx.engine, addresses, async (chunk) => {
    const rows = await trx
      .selectFrom("ca_address")
      .selectAll()
      .where("wallet_id", "=", ctx.walletId)
      .where("account_id", "is not", null)
      .where(valueIn(ctx.engine, "address", chunk, "text"))
      .execute();
    for (const row of rows) found.set(row.address, row);
  });
  return found;
}

/** Applies a deposit as seen on the chain; returns the txupdate payloads of what changed. */
export async function applyDeposit(
  trx: Trx,
  ctx: LedgerContext,
  seen: DepositObservation,
): Promise<TxUpdateData[]> {
  const [applied] = await applyObservations(trx, ctx, [seen], {
    followKnownDeposits: false,
    broadcasts: false,
  });
  return applied?.updates ?? [];
}

export interface ApplyObservationsOptions {
  /** An observation without receives still moves a deposit we know (a conflicted one lists none). */
  followKnownDeposits: boolean;
  /** Also apply each observation to our broadcast of that txid. */
  broadcasts: boolean;
  /** The network transactions of these txids, when the caller has just read them. */
  known?: ReadonlyMap<string, NetworkTransaction>;
}

export interface AppliedObservation {
  /** The txupdate payloads of what changed: the deposit's, then the broadcast's. */
  updates: TxUpdateData[];
  /** A deposit or broadcast of ours has this txid (whether or not anything changed). */
  ours: boolean;
}

/** A new deposit row: unseen, tracked (planConfirmations then moves it to what was seen). */
function unseenDeposit(ctx: LedgerContext, txid: string, now: number): NetworkTransaction {
  return {
    id: 0,
    ...unseenRow(ctx, { txid, transaction_type: "deposit" }, now),
    comment: null,
    recovery_note: null,
  };
}

/**
 * Applies many observations (distinct txids) in one go: each one's deposit — created on first
 * sight when it pays an address of ours (addresses that are not ours are skipped) — and, with
 * `broadcasts`, our broadcast of that txid. A fixed number of set-based statements whatever
 * the number of observations (a walletnotify batch, a catch-up page), with the same rows and
 * the same txupdates, in the same order, as applying them one by one.
 */
export async function applyObservations(
  trx: Trx,
  ctx: LedgerContext,
  observations: readonly DepositObservation[],
  options: ApplyObservationsOptions,
): Promise<AppliedObservation[]> {
  const now = Date.now();
  const known =
    options.known ??
    (await findNetworkTransactions(
      trx,
      ctx,
      observations.map((o) => o.txid),
    ));
  const amounts = observations.map(sumReceives);
  const own = await findOwnAddresses(trx, ctx, [...new Set(amounts.flatMap((sums) => [...sums.keys()]))]);
  const deposits = observations.map((seen, i) =>
    depositOf(ctx, seen, amounts[i] as Map<string, bigint>, own, known, options, now),
  );
  const fresh = new Set(deposits.flatMap((d) => (d && d.ntx.id === 0 ? [d.ntx] : [])));
  const plans = new Map<NetworkTransaction, ConfirmationPlan>();
  deposits.forEach((d, i) => {
    if (d) plans.set(d.ntx, planConfirmations(ctx, d.ntx, observations[i] as DepositObservation));
  });
  // New deposits are inserted in the state they move to: no UPDATE right after the INSERT.
  await insertDeposits(trx, ctx, [...fresh], plans);
  const created = await insertDepositRows(trx, ctx, deposits, amounts, fresh, now);

  const items: SettleItem[] = [];
  const parts = observations.map((seen, i) => {
    const indexes: number[] = [];
    const deposit = deposits[i];
    if (deposit) {
      indexes.push(items.length);
      items.push({
        ntx: deposit.ntx,
        seen,
        plan: plans.get(deposit.ntx) as ConfirmationPlan,
        written: fresh.has(deposit.ntx),
        isNew: (row) => created.has(rowKey(deposit.ntx.id, Number(row.address_id))),
      });
    }
    const broadcast = options.broadcasts ? known.get(networkKey("broadcast", seen.txid)) : undefined;
    if (broadcast) {
      indexes.push(items.length);
      items.push({ ntx: broadcast, seen, plan: planConfirmations(ctx, broadcast, seen) });
    }
    return indexes;
  });
  const settled = await settleMany(trx, ctx, items, now);
  return parts.map((indexes, i) => {
    const txid = (observations[i] as DepositObservation).txid;
    return {
      updates: indexes.flatMap((index) => settled[index] ?? []),
      ours:
        indexes.length > 0 ||
        known.has(networkKey("deposit", txid)) ||
        known.has(networkKey("broadcast", txid)),
    };
  });
}

/** Amounts received per address (an address paid twice in one transaction is summed). */
function sumReceives(seen: DepositObservation): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const r of seen.receives) sums.set(r.address, (sums.get(r.address) ?? 0n) + r.amount);
  return sums;
}

/** An observation's deposit with the addresses of ours it pays: known, to create (id 0), or none. */
interface ObservedDeposit {
  ntx: NetworkTransaction;
  addresses: Address[];
}

function depositOf(
  ctx: LedgerContext,
  seen: DepositObservation,
  sums: ReadonlyMap<string, bigint>,
  own: ReadonlyMap<string, Address>,
  known: ReadonlyMap<string, NetworkTransaction>,
  options: ApplyObservationsOptions,
  now: number,
): ObservedDeposit | undefined {
  const existing = known.get(networkKey("deposit", seen.txid));
  if (sums.size === 0)
    return options.followKnownDeposits && existing ? { ntx: existing, addresses: [] } : undefined;
  const addresses = [...sums.keys()]
    .map((address) => own.get(address))
    .filter((address): address is Address => address !== undefined)
    .sort((a, b) => a.id - b.id);
  if (addresses.length === 0) return undefined;
  return { ntx: existing ?? unseenDeposit(ctx, seen.txid, now), addresses };
}

const rowKey = (ntxId: number, addressId: number) => `${ntxId}:${addressId}`;

/**
 * Deposit rows: one per address of ours paid, created once. Returns the keys (rowKey) of the
 * rows created now, each of which gets a txupdate.
 */
async function insertDepositRows(
  trx: Trx,
  ctx: LedgerContext,
  deposits: ReadonlyArray<ObservedDeposit | undefined>,
  amounts: ReadonlyArray<ReadonlyMap<string, bigint>>,
  fresh: ReadonlySet<NetworkTransaction>,
  now: number,
): Promise<Set<string>> {
  const existingRows = new Set<string>();
  const knownIds = deposits.flatMap((d) =>
    d && !fresh.has(d.ntx) && d.addresses.length > 0 ? [d.ntx.id] : [],
  );
  await forEachChunk(ctx.engine, knownIds, async (chunk) => {
    const rows = await trx
      .selectFrom("ca_transaction")
      .select(["network_transaction_id", "address_id"])
      .where("type", "=", "deposit")
      .where(valueIn(ctx.engine, "network_transaction_id", chunk, "int"))
      .execute();
    for (const row of rows)
      existingRows.add(rowKey(Number(row.network_transaction_id), Number(row.address_id)));
  });
  const created = new Set<string>();
  const newRows: Insertable<TransactionTable>[] = [];
  deposits.forEach((d, i) => {
    for (const address of d?.addresses ?? []) {
      const ntxId = (d as ObservedDeposit).ntx.id;
      const amount = (amounts[i] as ReadonlyMap<string, bigint>).get(address.address) ?? 0n;
      const key = rowKey(ntxId, address.id);
      if (amount <= 0n || existingRows.has(key) || created.has(key)) continue;
      created.add(key);
      newRows.push({
        wallet_id: ctx.walletId,
        type: "deposit",
        state: "incoming",
        amount,
        sending_account_id: null,
        receiving_account_id: address.account_id,
        address_id: address.id,
        network_transaction_id: ntxId,
        label: null,
        credited_at: null,
        processed_at: null,
        created_at: now,
        updated_at: now,
      });
    }
  });
  await insertRows(trx, ctx.engine, "ca_transaction", newRows);
  return created;
}

/** Inserts new deposits (`id` 0) in their planned state and sets their ids. */
async function insertDeposits(
  trx: Trx,
  ctx: LedgerContext,
  ntxs: NetworkTransaction[],
  plans: ReadonlyMap<NetworkTransaction, ConfirmationPlan>,
): Promise<void> {
  await forEachChunk(ctx.engine, ntxs, async (chunk) => {
    const rows = chunk.map((ntx) => {
      return {
        ...unseenRow(ctx, { txid: ntx.txid, transaction_type: "deposit" }, ntx.created_at),
        ...(plans.get(ntx) as ConfirmationPlan).row,
      };
    });
    const inserted =
      ctx.engine === "mysql"
        ? await trx
            .insertInto("ca_network_transaction")
            .values(rows)
            .execute()
            .then(() =>
              trx
                .selectFrom("ca_network_transaction")
                .select(["id", "txid"])
                .where("wallet_id", "=", ctx.walletId)
                .where("transaction_type", "=", "deposit")
                .where(
                  valueIn(
                    ctx.engine,
                    "txid",
                    chunk.map((ntx) => ntx.txid as string),
                    "text",
                  ),
                )
                .execute(),
            )
        : await insertRows(trx, ctx.engine, "ca_network_transaction", rows, ["id", "txid"]);
    const ids = new Map(inserted.map((row) => [row.txid as string | null, Number(row.id)]));
    for (const ntx of chunk) {
      const id = ids.get(ntx.txid);
      if (id === undefined) throw new Error(`network transaction ${ntx.txid} was not inserted`);
      Object.assign(ntx, plans.get(ntx)?.row, { id });
    }
  });
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

/** The deposit and send rows of network transactions, as settleMany needs them. */
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

/** One network transaction moving to a planned state. */
interface SettleItem {
  ntx: NetworkTransaction;
  seen: ChainObservation;
  plan: ConfirmationPlan;
  /** The row is already in the planned state (inserted so): no UPDATE. */
  written?: boolean;
  /** Rows created by this change: each gets a txupdate even if nothing else changed. */
  isNew?: (row: SettleRow) => boolean;
}

const NTX_STATE_COLUMNS: readonly BulkColumn[] = [
  { name: "confirmations", pgType: "int" },
  { name: "block_hash", pgType: "text" },
  { name: "block_height", pgType: "int" },
  { name: "conflicted_at_height", pgType: "int" },
  { name: "tracked", pgType: "int" },
  { name: "updated_at", pgType: "bigint" },
];
const BALANCE_DELTA: readonly BulkColumn[] = [{ name: "balance", pgType: "bigint", add: true }];

/** Network transactions moved to their planned states: one UPDATE for all that changed. */
async function writePlannedStates(
  trx: Trx,
  engine: LedgerContext["engine"],
  items: readonly SettleItem[],
  now: number,
): Promise<void> {
  const writes = items
    .filter((item) => item.plan.needsWrite && !item.written)
    .map(({ ntx, plan: { row } }) => ({
      id: ntx.id,
      values: [
        row.confirmations,
        row.block_hash,
        row.block_height,
        row.conflicted_at_height,
        row.tracked,
        now,
      ],
    }));
  await updateRowsById(trx, engine, "ca_network_transaction", NTX_STATE_COLUMNS, writes);
}

/** The deposit and send rows of the items' network transactions, by network transaction id. */
async function readSettleRows(
  trx: Trx,
  engine: LedgerContext["engine"],
  items: readonly SettleItem[],
): Promise<Map<number, SettleRow[]>> {
  const rowsByNtx = new Map<number, SettleRow[]>();
  await forEachChunk(engine, [...new Set(items.map((item) => item.ntx.id))], async (chunk) => {
    const rows = await selectSettleRows(trx)
      .where(valueIn(engine, "t.network_transaction_id", chunk, "int"))
      .execute();
    for (const row of rows) {
      const ntxId = Number(row.network_transaction_id);
      const list = rowsByNtx.get(ntxId);
      if (list) list.push(row);
      else rowsByNtx.set(ntxId, [row]);
    }
  });
  return rowsByNtx;
}

/** What crossing the credit threshold changes: balances per account and address, row states. */
interface CreditChanges {
  accountDeltas: ReadonlyMap<number, bigint>;
  addressDeltas: ReadonlyMap<number, bigint>;
  credit: readonly number[];
  uncredit: readonly number[];
}

/** Writes the balances (summed per account and address) and the credited states. */
async function writeCredits(
  trx: Trx,
  engine: LedgerContext["engine"],
  { accountDeltas, addressDeltas, credit, uncredit }: CreditChanges,
  now: number,
): Promise<void> {
  const deltas = (map: ReadonlyMap<number, bigint>) =>
    [...map]
      .filter(([, delta]) => delta !== 0n)
      .sort(([a], [b]) => a - b)
      .map(([id, delta]) => ({ id, values: [delta] }));
  await updateRowsById(trx, engine, "ca_account", BALANCE_DELTA, deltas(accountDeltas));
  await updateRowsById(trx, engine, "ca_address", BALANCE_DELTA, deltas(addressDeltas));
  const states = [
    { ids: credit, set: { state: "credited", credited_at: now, updated_at: now } },
    { ids: uncredit, set: { state: "incoming", credited_at: null, updated_at: now } },
  ] as const;
  for (const { ids, set } of states) {
    await forEachChunk(engine, ids, async (chunk) => {
      await trx
        .updateTable("ca_transaction")
        .set(set)
        .where(valueIn(engine, "id", chunk, "int"))
        .execute();
    });
  }
}

/**
 * Moves network transactions to their planned states, credits or un-credits their deposits
 * across the threshold, and returns per item one txupdate per transaction whose
 * confirmations or credited state changed (or that is new). Set-based: one statement per
 * table (per chunk) for all the items, balances summed per account and address.
 */
async function settleMany(
  trx: Trx,
  ctx: LedgerContext,
  items: readonly SettleItem[],
  now: number,
): Promise<TxUpdateData[][]> {
  const { engine } = ctx;
  await writePlannedStates(trx, engine, items, now);
  const rowsByNtx = await readSettleRows(trx, engine, items);

  const accountDeltas = new Map<number, bigint>();
  const addressDeltas = new Map<number, bigint>();
  const add = (map: Map<number, bigint>, id: number, delta: bigint) =>
    map.set(id, (map.get(id) ?? 0n) + delta);
  const credit: number[] = [];
  const uncredit: number[] = [];
  const settled: TxUpdateData[][] = [];
  for (const [index, { ntx, seen, plan, isNew }] of items.entries()) {
    // 10,000 items take tens of ms of CPU: SQLite lets the event loop run every chunk.
    if (index > 0 && index % ROWS_PER_STATEMENT === 0) await breathe(engine);
    const { confirmations, changed } = plan;
    const credited = confirmations >= ctx.creditThreshold;
    const updates: TxUpdateData[] = [];
    for (const tx of rowsByNtx.get(ntx.id) ?? []) {
      let creditChanged = false;
      if (tx.type === "deposit" && tx.receiving_account_id !== null && tx.address_id !== null) {
        const wasCredited = tx.state === "credited" || tx.state === "processed";
        if (credited !== wasCredited) {
          // Below the threshold again (reorg or double spend): so is the money.
          const delta = credited ? tx.amount : -tx.amount;
          add(accountDeltas, tx.receiving_account_id, delta);
          add(addressDeltas, tx.address_id, delta);
          (credited ? credit : uncredit).push(tx.id);
          creditChanged = true;
        }
      }
      if (!changed && !creditChanged && !isNew?.(tx)) continue;
      const account = tx.type === "deposit" ? tx.receiving_account_id : tx.sending_account_id;
      updates.push({
        coin_name: ctx.coin.name,
        transaction: tx.id,
        network_transaction: ntx.id,
        transaction_type: tx.type === "deposit" ? "deposit" : "broadcast",
        txid: seen.txid,
        account: account ?? 0,
        address: tx.address,
        amount: formatAmount(tx.amount, ctx.coin.decimals),
        credited,
        confirmations,
      });
    }
    settled.push(updates);
  }

  await writeCredits(trx, engine, { accountDeltas, addressDeltas, credit, uncredit }, now);
  return settled;
}

/**
 * Sets confirmations/block of a network transaction, credits or un-credits its deposits
 * across the threshold, decides whether it is still tracked, and returns one txupdate per
 * transaction whose confirmations or credited state changed (or is in `created`, by id).
 */
export async function updateConfirmations(
  trx: Trx,
  ctx: LedgerContext,
  ntx: NetworkTransaction,
  seen: ChainObservation,
  created: ReadonlySet<number>,
): Promise<TxUpdateData[]> {
  const plan = planConfirmations(ctx, ntx, seen);
  const [updates] = await settleMany(
    trx,
    ctx,
    [{ ntx, seen, plan, isNew: (row) => created.has(row.id) }],
    Date.now(),
  );
  return updates ?? [];
}

/**
 * updateConfirmations for many network transactions at once (the block tracker moving every
 * open transaction to the new tip), set-based (settleMany). Same results, same events, in
 * the order given.
 */
export async function updateConfirmationsMany(
  trx: Trx,
  ctx: LedgerContext,
  items: ReadonlyArray<{ ntx: NetworkTransaction; seen: ChainObservation }>,
): Promise<TxUpdateData[]> {
  const settled = await settleMany(
    trx,
    ctx,
    items.map(({ ntx, seen }) => ({ ntx, seen, plan: planConfirmations(ctx, ntx, seen) })),
    Date.now(),
  );
  return settled.flat();
}
