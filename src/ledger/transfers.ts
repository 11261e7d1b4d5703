/**
 * Money leaving an account: internal transfers and external sends. The debit is a
 * conditional UPDATE (`balance >= amount`) inside the serializable transaction, so even two
 * sends racing on the same account can never overdraw it: one of them sees no row updated.
 */

import { formatAmount } from "../coins/amount.js";
import { canonicalAddress, validateAddress } from "../coins/registry.js";
import type { Trx } from "../db/serializable.js";
import {
  AmountBelowDustError,
  InvalidAmountError,
  LedgerStateError,
  NotEnoughBalanceError,
  SameAccountError,
} from "../errors.js";
import { adjustAccountBalance, getAccount } from "./accounts.js";
import { findAddress, getOrCreateExternalAddress } from "./addresses.js";
import type { LedgerContext } from "./context.js";
import { insertReturningId } from "./insert.js";

function requirePositive(amount: bigint): void {
  if (amount <= 0n)
    throw new InvalidAmountError(`amount must be greater than zero, got ${amount} base units`);
}

async function debit(trx: Trx, ctx: LedgerContext, accountId: number, amount: bigint): Promise<void> {
  const account = await getAccount(trx, ctx, accountId);
  const result = await trx
    .updateTable("ca_account")
    .set((eb) => ({ balance: eb("balance", "-", amount) }))
    .where("id", "=", accountId)
    .where("balance", ">=", amount)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw new NotEnoughBalanceError(
      `account ${JSON.stringify(account.name)} has ${formatAmount(account.balance, ctx.coin.decimals)} ${ctx.coin.name}, ` +
        `cannot spend ${formatAmount(amount, ctx.coin.decimals)}`,
    );
  }
}

/** Moves funds between two accounts of the wallet; returns the transaction id. */
export async function transfer(
  trx: Trx,
  ctx: LedgerContext,
  fromAccountId: number,
  toAccountId: number,
  amount: bigint,
  label: string | null = null,
): Promise<number> {
  requirePositive(amount);
  if (fromAccountId === toAccountId) throw new SameAccountError("cannot transfer from an account to itself");
  await getAccount(trx, ctx, toAccountId);
  await debit(trx, ctx, fromAccountId, amount);
  await adjustAccountBalance(trx, toAccountId, amount);
  const now = Date.now();
  return insertReturningId(trx, ctx.engine, "ca_transaction", {
    wallet_id: ctx.walletId,
    type: "internal",
    state: "done",
    amount,
    sending_account_id: fromAccountId,
    receiving_account_id: toAccountId,
    address_id: null,
    network_transaction_id: null,
    label,
    credited_at: now,
    processed_at: null,
    created_at: now,
    updated_at: now,
  });
}

export interface SendOptions {
  label?: string | null;
  /**
   * Pay through the network even when the address is a receiving address of this wallet
   * (default false: such a send is an internal transfer, without a network fee, as in the
   * original's `send(…, force_external=False)`).
   */
  forceExternal?: boolean;
}

/**
 * Records an outgoing payment. To a receiving address of this wallet it is an internal
 * transfer to that address's account (no network fee, credited at once) unless
 * `forceExternal`. Otherwise: validates the address for the coin and network, debits the
 * account now, and leaves a `pending` broadcast transaction for the broadcaster.
 * Returns the transaction id (its `type` tells which it became).
 */
export async function send(
  trx: Trx,
  ctx: LedgerContext,
  fromAccountId: number,
  rawAddress: string,
  amount: bigint,
  options: SendOptions = {},
): Promise<number> {
  requirePositive(amount);
  const address = canonicalAddress(ctx.coin, rawAddress);
  const label = options.label ?? null;
  if (!options.forceExternal) {
    const own = await findAddress(trx, ctx, address);
    if (own?.account_id != null) return transfer(trx, ctx, fromAccountId, own.account_id, amount, label);
  }
  if (ctx.network === null) {
    throw new LedgerStateError(
      `cannot check the address yet: coins.${ctx.coin.name}.network is not configured and the daemon has not told its chain; try again once it answers`,
    );
  }
  validateAddress(ctx.coin, ctx.network, address);
  // Refused here, not by the daemon: one dust output makes it refuse the whole batch.
  if (amount < ctx.dustLimit) {
    const money = (units: bigint) => `${formatAmount(units, ctx.coin.decimals)} ${ctx.coin.name}`;
    throw new AmountBelowDustError(
      `cannot send ${money(amount)}: below the dust limit of ${money(ctx.dustLimit)} (coins.${ctx.coin.name}.dust_limit); the daemon refuses outputs worth less than the fee to spend them`,
    );
  }
  await debit(trx, ctx, fromAccountId, amount);
  const target = await getOrCreateExternalAddress(trx, ctx, address);
  const now = Date.now();
  return insertReturningId(trx, ctx.engine, "ca_transaction", {
    wallet_id: ctx.walletId,
    type: "broadcast",
    state: "pending",
    amount,
    sending_account_id: fromAccountId,
    receiving_account_id: null,
    address_id: target.id,
    network_transaction_id: null,
    label,
    credited_at: null,
    processed_at: null,
    created_at: now,
    updated_at: now,
  });
}
