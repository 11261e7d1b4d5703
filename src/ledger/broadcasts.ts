/**
 * Outgoing payments on their way to the chain (docs/architecture.md §6). The broadcaster commits
 * `opened_at` BEFORE calling sendmany and `closed_at` after: a broadcast found opened but
 * never closed was interrupted mid-call, and nobody can know whether the daemon sent it —
 * so it is never retried automatically (that could pay twice), only reported.
 */
import { formatAmount } from "../coins/amount.js";
import type { Trx } from "../db/serializable.js";
import { LedgerStateError } from "../errors.js";
import type { SendFailedData } from "../events/types.js";
import { adjustAccountBalance, getNetworkFeeAccount } from "./accounts.js";
import type { LedgerContext } from "./context.js";
import { insertReturningId } from "./insert.js";
import { insertNetworkTransaction, type NetworkTransaction } from "./network-transactions.js";

/**
 * The sendmany comment of a broadcast: this ledger's id and the broadcast's. The id alone is
 * not enough — ids restart at 1 in every database, and several ledgers may share one daemon
 * wallet (a re-initialised database, a staging copy): recovery must not take another
 * ledger's payment for ours.
 */
export function broadcastComment(ledgerId: string, ntxId: number): string {
  return `cryptoassets:${ledgerId}:ntx:${ntxId}`;
}

/** The comment of broadcasts opened before migration 0005 (no ledger id: ambiguous). */
export function legacyBroadcastComment(ntxId: number): string {
  return `cryptoassets:ntx:${ntxId}`;
}

/** The comment a broadcast was sent with: stored since migration 0005, the old format before. */
export function commentOf(ntx: Pick<NetworkTransaction, "id" | "comment">): string {
  return ntx.comment ?? legacyBroadcastComment(ntx.id);
}

/** This database's identity (one row, made by migration 0005). */
export async function readLedgerId(trx: Trx): Promise<string> {
  const row = await trx.selectFrom("ca_ledger").select("ledger_id").executeTakeFirst();
  if (!row) {
    throw new LedgerStateError(
      "the database has no ledger id (table ca_ledger is empty): run `cryptoassets initialize-database <config>`",
    );
  }
  return row.ledger_id;
}

export interface PendingSend {
  id: number;
  amount: bigint;
  address: string;
  sending_account_id: number | null;
}

export async function listPendingSends(trx: Trx, ctx: LedgerContext): Promise<PendingSend[]> {
  return trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_address as a", "a.id", "t.address_id")
    .select(["t.id", "t.amount", "a.address", "t.sending_account_id"])
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.type", "=", "broadcast")
    .where("t.state", "=", "pending")
    .where("t.network_transaction_id", "is", null)
    .orderBy("t.id")
    .execute();
}

/** What the pending sends (waiting for the broadcaster, in no broadcast) add up to. */
export async function pendingSendsTotal(trx: Trx, ctx: LedgerContext): Promise<bigint> {
  const row = await trx
    .selectFrom("ca_transaction")
    .select(({ fn }) => fn.sum<bigint>("amount").as("sum_pending"))
    .where("wallet_id", "=", ctx.walletId)
    .where("type", "=", "broadcast")
    .where("state", "=", "pending")
    .where("network_transaction_id", "is", null)
    .executeTakeFirst();
  return row?.sum_pending ?? 0n;
}

/** Marks the sends as being broadcast; returns the new network transaction's id. */
export async function openBroadcast(
  trx: Trx,
  ctx: LedgerContext,
  sendIds: readonly number[],
): Promise<number> {
  if (sendIds.length === 0) throw new LedgerStateError("a broadcast needs at least one pending send");
  const now = Date.now();
  const ntxId = await insertNetworkTransaction(
    trx,
    ctx,
    { txid: null, transaction_type: "broadcast", opened_at: now },
    now,
  );
  // Committed with opened_at, before sendmany: recovery looks for exactly what was sent.
  await trx
    .updateTable("ca_network_transaction")
    .set({ comment: broadcastComment(ctx.ledgerId, ntxId) })
    .where("id", "=", ntxId)
    .execute();
  const result = await trx
    .updateTable("ca_transaction")
    .set({ network_transaction_id: ntxId, updated_at: now })
    .where("wallet_id", "=", ctx.walletId)
    .where("id", "in", [...sendIds])
    .where("state", "=", "pending")
    .where("network_transaction_id", "is", null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== sendIds.length) {
    throw new LedgerStateError("some sends are no longer pending; another broadcaster took them");
  }
  return ntxId;
}

/**
 * The daemon accepted the broadcast: record the txid and the fee (charged to the
 * network-fee account). `fee` null means the daemon could not tell it yet: the broadcast is
 * closed anyway — the txid is what must not be lost — and bookBroadcastFee charges it later.
 * Returns the closed broadcast.
 */
export async function closeBroadcast(
  trx: Trx,
  ctx: LedgerContext,
  ntxId: number,
  txid: string,
  fee: bigint | null,
): Promise<NetworkTransaction> {
  const now = Date.now();
  const closed = await trx
    .updateTable("ca_network_transaction")
    .set({ txid, closed_at: now, fee, confirmations: 0, updated_at: now })
    .where("id", "=", ntxId)
    .where("wallet_id", "=", ctx.walletId)
    .where("closed_at", "is", null)
    .executeTakeFirst();
  // Closed already (a raced recovery, a second broadcaster): closing again would book the
  // fee twice and reset the confirmations (found by the SIGKILL campaign).
  if (Number(closed.numUpdatedRows) !== 1) {
    throw new LedgerStateError(`broadcast ${ntxId} is not open: it was closed already`);
  }
  await trx
    .updateTable("ca_transaction")
    .set({ state: "broadcasted", updated_at: now })
    .where("network_transaction_id", "=", ntxId)
    .where("type", "=", "broadcast")
    .execute();
  if (fee !== null) await chargeNetworkFee(trx, ctx, ntxId, fee, now);
  return broadcastsOf(trx, ctx).where("id", "=", ntxId).executeTakeFirstOrThrow();
}

/** This wallet's broadcast network transactions, to narrow down. */
function broadcastsOf(trx: Trx, ctx: LedgerContext) {
  return trx
    .selectFrom("ca_network_transaction")
    .selectAll()
    .where("wallet_id", "=", ctx.walletId)
    .where("transaction_type", "=", "broadcast");
}

/** Closed broadcasts whose fee is not booked yet (the daemon did not tell it at close). */
export async function listBroadcastsWithoutFee(trx: Trx, ctx: LedgerContext): Promise<NetworkTransaction[]> {
  return broadcastsOf(trx, ctx)
    .where("closed_at", "is not", null)
    .where("txid", "is not", null)
    .where("fee", "is", null)
    .orderBy("id")
    .execute();
}

/** Books the fee of a broadcast closed without one; a no-op when it is booked already. */
export async function bookBroadcastFee(
  trx: Trx,
  ctx: LedgerContext,
  ntxId: number,
  fee: bigint,
): Promise<boolean> {
  const now = Date.now();
  const result = await trx
    .updateTable("ca_network_transaction")
    .set({ fee, updated_at: now })
    .where("id", "=", ntxId)
    .where("wallet_id", "=", ctx.walletId)
    .where("closed_at", "is not", null)
    .where("fee", "is", null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return false;
  await chargeNetworkFee(trx, ctx, ntxId, fee, now);
  return true;
}

async function chargeNetworkFee(
  trx: Trx,
  ctx: LedgerContext,
  ntxId: number,
  fee: bigint,
  now: number,
): Promise<void> {
  if (fee <= 0n) return;
  const feeAccount = await getNetworkFeeAccount(trx, ctx);
  await adjustAccountBalance(trx, feeAccount.id, -fee);
  await insertReturningId(trx, ctx.engine, "ca_transaction", {
    wallet_id: ctx.walletId,
    type: "network_fee",
    state: "done",
    amount: fee,
    sending_account_id: feeAccount.id,
    receiving_account_id: null,
    address_id: null,
    network_transaction_id: ntxId,
    label: null,
    credited_at: now,
    processed_at: null,
    created_at: now,
    updated_at: now,
  });
}

/** Nothing was sent (the daemon refused, or an operator checked): the sends go back to pending. */
export async function releaseBroadcast(trx: Trx, ctx: LedgerContext, ntxId: number): Promise<void> {
  const ntx = await trx
    .selectFrom("ca_network_transaction")
    .select(["closed_at", "transaction_type"])
    .where("id", "=", ntxId)
    .where("wallet_id", "=", ctx.walletId)
    .executeTakeFirst();
  // A closed broadcast was paid: putting its sends back to pending would pay them twice.
  if (ntx?.transaction_type !== "broadcast" || ntx.closed_at !== null) {
    throw new LedgerStateError(`network transaction ${ntxId} is not an open broadcast of this wallet`);
  }
  await trx
    .updateTable("ca_transaction")
    .set({ network_transaction_id: null, updated_at: Date.now() })
    .where("wallet_id", "=", ctx.walletId)
    .where("network_transaction_id", "=", ntxId)
    .execute();
  await trx.deleteFrom("ca_network_transaction").where("id", "=", ntxId).execute();
}

/**
 * The daemon refused a pending send for a reason of its own (a bad address, dust): the send
 * ends `failed` with that reason and its amount goes back to the sending account. Returns the
 * `sendfailed` event's data, for the caller to write in this same transaction. Only a send
 * that is pending and in no broadcast can fail: one in a broadcast may have been paid.
 */
export async function failSend(
  trx: Trx,
  ctx: LedgerContext,
  sendId: number,
  reason: string,
): Promise<SendFailedData> {
  const send = await trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_address as a", "a.id", "t.address_id")
    .select(["t.id", "t.amount", "t.sending_account_id", "a.address"])
    .where("t.id", "=", sendId)
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.type", "=", "broadcast")
    .where("t.state", "=", "pending")
    .where("t.network_transaction_id", "is", null)
    .executeTakeFirst();
  if (!send || send.sending_account_id === null) {
    throw new LedgerStateError(`send ${sendId} is not a pending send outside a broadcast: it cannot fail`);
  }
  await trx
    .updateTable("ca_transaction")
    .set({ state: "failed", failure: reason, updated_at: Date.now() })
    .where("id", "=", sendId)
    .execute();
  await adjustAccountBalance(trx, send.sending_account_id, send.amount);
  return {
    coin_name: ctx.coin.name,
    transaction: send.id,
    transaction_type: "broadcast",
    account: send.sending_account_id,
    address: send.address,
    amount: formatAmount(send.amount, ctx.coin.decimals),
    reason,
  };
}

/** Broadcasts opened but never closed: need an operator (check the daemon for the payment). */
export async function listInterruptedBroadcasts(trx: Trx, ctx: LedgerContext): Promise<NetworkTransaction[]> {
  return broadcastsOf(trx, ctx)
    .where("opened_at", "is not", null)
    .where("closed_at", "is", null)
    .orderBy("id")
    .execute();
}

export interface BroadcastSend {
  id: number;
  address: string;
  amount: bigint;
}

/** The sends a broadcast pays, in the order they were made. */
export async function listBroadcastSends(
  trx: Trx,
  ctx: LedgerContext,
  ntxId: number,
): Promise<BroadcastSend[]> {
  return trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_address as a", "a.id", "t.address_id")
    .select(["t.id", "a.address", "t.amount"])
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.network_transaction_id", "=", ntxId)
    .where("t.type", "=", "broadcast")
    .orderBy("t.id")
    .execute();
}

/** What a broadcast pays: its sends summed per address, as sendmany was given them. */
export async function broadcastOutputs(
  trx: Trx,
  ctx: LedgerContext,
  ntxId: number,
): Promise<Map<string, bigint>> {
  const sends = await listBroadcastSends(trx, ctx, ntxId);
  const outputs = new Map<string, bigint>();
  for (const send of sends) outputs.set(send.address, (outputs.get(send.address) ?? 0n) + send.amount);
  return outputs;
}

/** The broadcast of this wallet already closed with `txid`, if any. */
export async function broadcastWithTxid(
  trx: Trx,
  ctx: LedgerContext,
  txid: string,
): Promise<number | undefined> {
  const row = await trx
    .selectFrom("ca_network_transaction")
    .select("id")
    .where("wallet_id", "=", ctx.walletId)
    .where("transaction_type", "=", "broadcast")
    .where("txid", "=", txid)
    .executeTakeFirst();
  return row?.id;
}

/** Records (or clears, with null) why recovery left an interrupted broadcast to the operator. */
export async function setRecoveryNote(
  trx: Trx,
  ctx: LedgerContext,
  ntxId: number,
  note: string | null,
): Promise<void> {
  await trx
    .updateTable("ca_network_transaction")
    .set({ recovery_note: note })
    .where("id", "=", ntxId)
    .where("wallet_id", "=", ctx.walletId)
    .where("closed_at", "is", null)
    .execute();
}
