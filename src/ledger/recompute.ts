/**
 * An account's balance recomputed from its transactions, beside the stored one: what the
 * original's `refresh_account_balance` was for, but reporting instead of overwriting (the
 * original warned its version "screws up bookkeeping"). A difference means a bug or a
 * hand edit of the database; nothing here changes a balance.
 */
import type { Trx } from "../db/serializable.js";
import type { Account } from "./accounts.js";
import type { LedgerContext } from "./context.js";

export interface BalanceCheck {
  account: Pick<Account, "id" | "name" | "kind">;
  /** The balance column. */
  stored: bigint;
  /** Credited deposits, transfers in and balance imports, less transfers out, sends and fees. */
  computed: bigint;
  /** stored − computed: zero when the books agree. */
  difference: bigint;
}

/**
 * Every account of the wallet (or one), with its stored and recomputed balance. Money in:
 * credited (or processed) deposits, internal transfers and balance imports received. Money
 * out: transfers sent, sends (debited when recorded, whatever their broadcast state, unless
 * they failed) and network fees charged to the account.
 */
export async function recomputeBalances(
  trx: Trx,
  ctx: LedgerContext,
  accountId?: number,
): Promise<BalanceCheck[]> {
  let accounts = trx
    .selectFrom("ca_account")
    .select(["id", "name", "kind", "balance"])
    .where("wallet_id", "=", ctx.walletId);
  if (accountId !== undefined) accounts = accounts.where("id", "=", accountId);
  const rows = await accounts.orderBy("id").execute();
  const credits = await trx
    .selectFrom("ca_transaction")
    .select(({ fn }) => ["receiving_account_id as account_id", fn.sum<bigint>("amount").as("sum_amount")])
    .where("wallet_id", "=", ctx.walletId)
    .where((eb) =>
      eb.or([
        eb.and([eb("type", "=", "deposit"), eb("state", "in", ["credited", "processed"])]),
        eb("type", "in", ["internal", "balance_import"]),
      ]),
    )
    .where("receiving_account_id", "is not", null)
    .groupBy("receiving_account_id")
    .execute();
  const debits = await trx
    .selectFrom("ca_transaction")
    .select(({ fn }) => ["sending_account_id as account_id", fn.sum<bigint>("amount").as("sum_amount")])
    .where("wallet_id", "=", ctx.walletId)
    .where("type", "in", ["internal", "broadcast", "network_fee"])
    // A failed send's amount went back to the account: it is no debit.
    .where("state", "!=", "failed")
    .where("sending_account_id", "is not", null)
    .groupBy("sending_account_id")
    .execute();
  const sums = (list: Array<{ account_id: number | null; sum_amount: bigint }>) =>
    new Map(list.map((row) => [row.account_id, row.sum_amount]));
  const credited = sums(credits);
  const debited = sums(debits);
  return rows.map((row) => {
    const computed = (credited.get(row.id) ?? 0n) - (debited.get(row.id) ?? 0n);
    return {
      account: { id: row.id, name: row.name, kind: row.kind },
      stored: row.balance,
      computed,
      difference: row.balance - computed,
    };
  });
}
