/** Read-side queries: balances, transactions, chain state. */

import type { Selectable } from "kysely";
import { canonicalAddress } from "../coins/registry.js";
import type { TransactionTable } from "../db/schema.js";
import type { Trx } from "../db/serializable.js";
import { LedgerStateError, UnknownTransactionError } from "../errors.js";
import type { LedgerContext } from "./context.js";

export type LedgerTransaction = Selectable<TransactionTable>;

export interface Balance {
  /** Credited funds available to spend. */
  confirmed: bigint;
  /** Deposits seen on the chain but below the credit threshold. */
  unconfirmed: bigint;
}

async function unconfirmedSum(
  trx: Trx,
  ctx: LedgerContext,
  column: "receiving_account_id" | "address_id" | null,
  id?: number,
) {
  let query = trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
    .select(({ fn }) => fn.sum<bigint>("t.amount").as("sum_amount"))
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.type", "=", "deposit")
    .where("t.state", "=", "incoming")
    .where("n.confirmations", ">=", 0);
  if (column && id !== undefined) query = query.where(`t.${column}`, "=", id);
  const row = await query.executeTakeFirst();
  return row?.sum_amount ?? 0n;
}

export async function accountBalance(trx: Trx, ctx: LedgerContext, accountId: number): Promise<Balance> {
  const account = await trx
    .selectFrom("ca_account")
    .select("balance")
    .where("id", "=", accountId)
    .where("wallet_id", "=", ctx.walletId)
    .executeTakeFirstOrThrow();
  return {
    confirmed: account.balance,
    unconfirmed: await unconfirmedSum(trx, ctx, "receiving_account_id", accountId),
  };
}

export async function addressBalance(trx: Trx, ctx: LedgerContext, address: string): Promise<Balance> {
  const row = await trx
    .selectFrom("ca_address")
    .select(["id", "balance"])
    .where("wallet_id", "=", ctx.walletId)
    .where("address", "=", canonicalAddress(ctx.coin, address))
    .executeTakeFirst();
  if (!row) throw new LedgerStateError(`${address} is not an address of this ${ctx.coin.name} wallet`);
  return { confirmed: row.balance, unconfirmed: await unconfirmedSum(trx, ctx, "address_id", row.id) };
}

/** Sum of the account balances, the network-fee account included (it carries fees as a negative balance). */
export async function creditedTotal(trx: Trx, ctx: LedgerContext): Promise<bigint> {
  const row = await trx
    .selectFrom("ca_account")
    .select(({ fn }) => fn.sum<bigint>("balance").as("sum_balance"))
    .where("wallet_id", "=", ctx.walletId)
    .executeTakeFirst();
  return row?.sum_balance ?? 0n;
}

/** Sum over every account (creditedTotal), and what is on its way in. */
export async function walletBalance(trx: Trx, ctx: LedgerContext): Promise<Balance> {
  return { confirmed: await creditedTotal(trx, ctx), unconfirmed: await unconfirmedSum(trx, ctx, null) };
}

export async function listTransactions(
  trx: Trx,
  ctx: LedgerContext,
  options: { accountId?: number; limit?: number } = {},
): Promise<LedgerTransaction[]> {
  let query = trx.selectFrom("ca_transaction").selectAll().where("wallet_id", "=", ctx.walletId);
  const accountId = options.accountId;
  if (accountId !== undefined) {
    query = query.where((eb) =>
      eb.or([eb("sending_account_id", "=", accountId), eb("receiving_account_id", "=", accountId)]),
    );
  }
  return query
    .orderBy("id", "desc")
    .limit(options.limit ?? 100)
    .execute();
}

/**
 * All-time amount received by one of our addresses in deposits with at least
 * `confirmations` (the original's `Address.get_balance_by_confirmations`): not what is left
 * after spending. 0 counts the mempool too; conflicted deposits never count.
 */
export async function receivedByConfirmations(
  trx: Trx,
  ctx: LedgerContext,
  address: string,
  confirmations: number,
): Promise<bigint> {
  if (!Number.isInteger(confirmations) || confirmations < 0) {
    throw new LedgerStateError(`confirmations must be a whole number ≥ 0, got ${confirmations}`);
  }
  const row = await trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_address as a", "a.id", "t.address_id")
    .innerJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
    .select(({ fn }) => fn.sum<bigint>("t.amount").as("sum_received"))
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.type", "=", "deposit")
    .where("a.address", "=", canonicalAddress(ctx.coin, address))
    .where("a.account_id", "is not", null)
    .where("n.confirmations", ">=", confirmations)
    .executeTakeFirst();
  return row?.sum_received ?? 0n;
}

export interface DepositQuery {
  accountId?: number;
  /** Only deposits not credited yet (the original's `get_active_external_received_transcations`). */
  uncredited?: boolean;
  /** Newest first, at most this many (default 100). */
  limit?: number;
}

/** Deposits of the wallet or of one account, with their txid and confirmations (`get_deposit_transactions`). */
export async function listDeposits(trx: Trx, ctx: LedgerContext, query: DepositQuery = {}) {
  let select = trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
    .innerJoin("ca_address as a", "a.id", "t.address_id")
    .selectAll("t")
    .select(["n.txid", "n.confirmations", "a.address"])
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.type", "=", "deposit");
  if (query.accountId !== undefined) select = select.where("t.receiving_account_id", "=", query.accountId);
  if (query.uncredited) select = select.where("t.state", "=", "incoming");
  return select
    .orderBy("t.id", "desc")
    .limit(query.limit ?? 100)
    .execute();
}

export type Deposit = Awaited<ReturnType<typeof listDeposits>>[number];

/** Sets (or with null clears) the label of one of the wallet's transactions: deposits included. */
export async function setTransactionLabel(
  trx: Trx,
  ctx: LedgerContext,
  id: number,
  label: string | null,
): Promise<void> {
  if (label !== null && label.length > 255) {
    throw new LedgerStateError(`a label is at most 255 characters, got ${label.length}`);
  }
  await getTransaction(trx, ctx, id);
  await trx
    .updateTable("ca_transaction")
    .set({ label, updated_at: Date.now() })
    .where("wallet_id", "=", ctx.walletId)
    .where("id", "=", id)
    .execute();
}

export async function getTransaction(trx: Trx, ctx: LedgerContext, id: number): Promise<LedgerTransaction> {
  const tx = await trx
    .selectFrom("ca_transaction")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("id", "=", id)
    .executeTakeFirst();
  if (!tx) throw new UnknownTransactionError(`no ${ctx.coin.name} transaction with id ${id}`);
  return tx;
}

/** The application has handled a credited deposit (its own bookkeeping, e.g. order paid). */
export async function markProcessed(trx: Trx, ctx: LedgerContext, id: number): Promise<void> {
  const tx = await getTransaction(trx, ctx, id);
  if (tx.type !== "deposit" || (tx.state !== "credited" && tx.state !== "processed")) {
    throw new LedgerStateError(
      `transaction ${id} is a ${tx.state} ${tx.type}; only credited deposits can be processed`,
    );
  }
  if (tx.state === "processed") return;
  await trx
    .updateTable("ca_transaction")
    .set({ state: "processed", processed_at: Date.now(), updated_at: Date.now() })
    .where("id", "=", id)
    .execute();
}

export interface ChainState {
  lastBlockHash: string | null;
  lastBlockHeight: number | null;
}

export async function getChainState(trx: Trx, ctx: LedgerContext): Promise<ChainState> {
  const row = await trx
    .selectFrom("ca_chain_state")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .executeTakeFirst();
  return { lastBlockHash: row?.last_block_hash ?? null, lastBlockHeight: row?.last_block_height ?? null };
}

export async function setChainState(trx: Trx, ctx: LedgerContext, state: ChainState): Promise<void> {
  const values = {
    last_block_hash: state.lastBlockHash,
    last_block_height: state.lastBlockHeight,
    updated_at: Date.now(),
  };
  const result = await trx
    .updateTable("ca_chain_state")
    .set(values)
    .where("wallet_id", "=", ctx.walletId)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) {
    await trx
      .insertInto("ca_chain_state")
      .values({ wallet_id: ctx.walletId, ...values })
      .execute();
  }
}
