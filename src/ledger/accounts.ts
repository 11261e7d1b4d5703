/** Wallets and accounts. */

import type { Selectable } from "kysely";
import { canonicalAddress } from "../coins/registry.js";
import type { AccountTable } from "../db/schema.js";
import type { Trx } from "../db/serializable.js";
import type { Engine } from "../db/url.js";
import { UnknownAccountError } from "../errors.js";
import type { LedgerContext } from "./context.js";
import { insertReturningId } from "./insert.js";

export type Account = Selectable<AccountTable>;

/** The account that absorbs broadcast fees; one per wallet, created with it. */
export const NETWORK_FEE_ACCOUNT = "network-fee";

export async function getOrCreateWallet(
  trx: Trx,
  engine: Engine,
  coin: string,
  name: string,
): Promise<number> {
  const existing = await trx
    .selectFrom("ca_wallet")
    .select("id")
    .where("coin", "=", coin)
    .where("name", "=", name)
    .executeTakeFirst();
  if (existing) return existing.id;
  const now = Date.now();
  const walletId = await insertReturningId(trx, engine, "ca_wallet", { coin, name, created_at: now });
  await insertReturningId(trx, engine, "ca_account", {
    wallet_id: walletId,
    name: NETWORK_FEE_ACCOUNT,
    kind: "network_fee",
    balance: 0n,
    created_at: now,
  });
  return walletId;
}

export async function createAccount(trx: Trx, ctx: LedgerContext, name: string): Promise<Account> {
  const id = await insertReturningId(trx, ctx.engine, "ca_account", {
    wallet_id: ctx.walletId,
    name,
    kind: "user",
    balance: 0n,
    created_at: Date.now(),
  });
  return getAccount(trx, ctx, id);
}

/** By id or by name, within this wallet. */
export async function getAccount(trx: Trx, ctx: LedgerContext, idOrName: number | string): Promise<Account> {
  let query = trx.selectFrom("ca_account").selectAll().where("wallet_id", "=", ctx.walletId);
  query =
    typeof idOrName === "number" ? query.where("id", "=", idOrName) : query.where("name", "=", idOrName);
  const account = await query.executeTakeFirst();
  if (!account) {
    throw new UnknownAccountError(
      `no ${ctx.coin.name} account ${typeof idOrName === "number" ? `with id ${idOrName}` : JSON.stringify(idOrName)}`,
    );
  }
  return account;
}

export async function findAccount(trx: Trx, ctx: LedgerContext, name: string): Promise<Account | undefined> {
  return trx
    .selectFrom("ca_account")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("name", "=", name)
    .executeTakeFirst();
}

/** The account a receiving address of this wallet belongs to (`get_account_by_address`); undefined for others. */
export async function findAccountByAddress(
  trx: Trx,
  ctx: LedgerContext,
  address: string,
): Promise<Account | undefined> {
  return trx
    .selectFrom("ca_account as c")
    .innerJoin("ca_address as a", "a.account_id", "c.id")
    .selectAll("c")
    .where("a.wallet_id", "=", ctx.walletId)
    .where("a.address", "=", canonicalAddress(ctx.coin, address))
    .executeTakeFirst();
}

export async function listAccounts(trx: Trx, ctx: LedgerContext): Promise<Account[]> {
  return trx
    .selectFrom("ca_account")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .orderBy("id")
    .execute();
}

export async function getNetworkFeeAccount(trx: Trx, ctx: LedgerContext): Promise<Account> {
  return getAccount(trx, ctx, NETWORK_FEE_ACCOUNT);
}

/** Adds `delta` (may be negative) to an account balance. */
export async function adjustAccountBalance(trx: Trx, accountId: number, delta: bigint): Promise<void> {
  await trx
    .updateTable("ca_account")
    .set((eb) => ({ balance: eb("balance", "+", delta) }))
    .where("id", "=", accountId)
    .execute();
}

/**
 * Credits `amount` the ledger did not know about to an account as a `balance_import`
 * transaction (the original's state name); labelled "daemon balance import #n" by default.
 */
export async function bookBalanceImport(
  trx: Trx,
  ctx: LedgerContext,
  accountId: number,
  amount: bigint,
  label?: string,
): Promise<number> {
  const previous = await trx
    .selectFrom("ca_transaction")
    .select(({ fn }) => fn.countAll<number>().as("count"))
    .where("wallet_id", "=", ctx.walletId)
    .where("type", "=", "balance_import")
    .executeTakeFirst();
  await adjustAccountBalance(trx, accountId, amount);
  const now = Date.now();
  return insertReturningId(trx, ctx.engine, "ca_transaction", {
    wallet_id: ctx.walletId,
    type: "balance_import",
    state: "done",
    amount,
    sending_account_id: null,
    receiving_account_id: accountId,
    address_id: null,
    network_transaction_id: null,
    label: label ?? `daemon balance import #${Number(previous?.count ?? 0) + 1}`,
    credited_at: now,
    processed_at: null,
    created_at: now,
    updated_at: now,
  });
}
