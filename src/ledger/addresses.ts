/** Receiving addresses of our accounts, and external addresses we send to. */
import type { Selectable } from "kysely";
import { canonicalAddress } from "../coins/registry.js";
import type { AddressTable } from "../db/schema.js";
import type { Trx } from "../db/serializable.js";
import { LedgerStateError } from "../errors.js";
import type { LedgerContext } from "./context.js";
import { insertReturningId } from "./insert.js";

export type Address = Selectable<AddressTable>;

export async function insertReceivingAddress(
  trx: Trx,
  ctx: LedgerContext,
  accountId: number,
  rawAddress: string,
  label: string | null,
): Promise<Address> {
  const address = canonicalAddress(ctx.coin, rawAddress);
  const existing = await findAddress(trx, ctx, address);
  if (existing) {
    // The daemon never hands out an address twice; seeing one again means two ledgers share a wallet.
    throw new LedgerStateError(`address ${address} is already known to this ${ctx.coin.name} wallet`);
  }
  const id = await insertReturningId(trx, ctx.engine, "ca_address", {
    wallet_id: ctx.walletId,
    account_id: accountId,
    address,
    label,
    balance: 0n,
    archived_at: null,
    created_at: Date.now(),
  });
  return trx.selectFrom("ca_address").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}

/** Row of an address we send to (account_id null), created on first use. */
export async function getOrCreateExternalAddress(
  trx: Trx,
  ctx: LedgerContext,
  rawAddress: string,
): Promise<Address> {
  const address = canonicalAddress(ctx.coin, rawAddress);
  const existing = await findAddress(trx, ctx, address);
  if (existing) return existing;
  const id = await insertReturningId(trx, ctx.engine, "ca_address", {
    wallet_id: ctx.walletId,
    account_id: null,
    address,
    label: null,
    balance: 0n,
    archived_at: null,
    created_at: Date.now(),
  });
  return trx.selectFrom("ca_address").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}

export async function findAddress(
  trx: Trx,
  ctx: LedgerContext,
  address: string,
): Promise<Address | undefined> {
  return trx
    .selectFrom("ca_address")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("address", "=", canonicalAddress(ctx.coin, address))
    .executeTakeFirst();
}

export async function listAddresses(trx: Trx, ctx: LedgerContext, accountId: number): Promise<Address[]> {
  return trx
    .selectFrom("ca_address")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("account_id", "=", accountId)
    .orderBy("id")
    .execute();
}

export async function setAddressLabel(trx: Trx, ctx: LedgerContext, address: string, label: string | null) {
  const own = await requireOwn(trx, ctx, address);
  await trx.updateTable("ca_address").set({ label }).where("id", "=", own.id).execute();
}

/** Archived addresses stay ours: deposits to them are still credited; they are just hidden from lists. */
export async function archiveAddress(trx: Trx, ctx: LedgerContext, address: string) {
  const own = await requireOwn(trx, ctx, address);
  await trx.updateTable("ca_address").set({ archived_at: Date.now() }).where("id", "=", own.id).execute();
}

async function requireOwn(trx: Trx, ctx: LedgerContext, address: string): Promise<Address> {
  const row = await findAddress(trx, ctx, address);
  if (!row || row.account_id === null) {
    throw new LedgerStateError(`${address} is not a receiving address of this ${ctx.coin.name} wallet`);
  }
  return row;
}
