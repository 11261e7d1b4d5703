/** Read-side queries: balances, transactions, chain state. */
import type { Selectable } from "kysely";
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
    .where("address", "=", address)
    .executeTakeFirst();
  if (!row) throw new LedgerStateError(`${address} is not an address of this ${ctx.coin.name} wallet`);
  return { confirmed: row.balance, unconfirmed: await unconfirmedSum(trx, ctx, "address_id", row.id) };
}

/** Sum over every account, the network-fee account included (it carries fees as a negative balance). */
export async function walletBalance(trx: Trx, ctx: LedgerContext): Promise<Balance> {
  const row = await trx
    .selectFrom("ca_account")
    .select(({ fn }) => fn.sum<bigint>("balance").as("sum_balance"))
    .where("wallet_id", "=", ctx.walletId)
    .executeTakeFirst();
  return { confirmed: row?.sum_balance ?? 0n, unconfirmed: await unconfirmedSum(trx, ctx, null) };
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
