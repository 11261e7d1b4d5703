/**
 * The daemon's wallet beside the ledger (the original's walletimport, and more): what the
 * ledger owes — credited balances, deposits on their way to being credited, sends not yet
 * handed to the daemon — against what the wallet holds. A positive difference is coins the
 * ledger does not know about (a wallet funded before it was managed here); import-balance
 * books them on an account as a `balance_import` transaction. A negative one means the
 * ledger owes more than the daemon holds: a fault to look into, never to paper over.
 *
 * Two views are compared, and an import takes only what both agree on: the whole wallet
 * (trusted + untrusted pending against every deposit seen) and the confirmed part (trusted
 * against deposits with ≥ 1 confirmation). The first alone would import an outsider's
 * mempool payment the service has not recorded yet; the second alone would import our own
 * unconfirmed send to an address of this wallet, which Core counts as trusted at once.
 */
import type { ChainTipRef, WalletBalances } from "../backends/backend.js";
import { formatAmount } from "../coins/amount.js";
import type { Trx } from "../db/serializable.js";
import { pendingSendsTotal } from "./broadcasts.js";
import type { LedgerContext } from "./context.js";
import { creditedTotal, getChainState } from "./queries.js";

export interface LedgerHoldings {
  /** Sum of account balances (the network-fee account carries fees as a negative balance). */
  credited: bigint;
  /** Deposits seen with ≥ 1 confirmation, not credited yet. */
  incomingConfirmed: bigint;
  /** Deposits seen in the mempool (0 confirmations). */
  incomingMempool: bigint;
  /** Sends debited from their accounts and not yet handed to the daemon. */
  pendingSends: bigint;
  /** Sends in broadcasts opened but never closed: the daemon may or may not have paid them. */
  interruptedSends: bigint;
  interruptedBroadcasts: number;
  /** The last block the ledger has processed (null before the first scan). */
  lastBlock: { hash: string | null; height: number | null };
}

export async function ledgerHoldings(trx: Trx, ctx: LedgerContext): Promise<LedgerHoldings> {
  const incoming = await trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
    .select(({ fn, eb }) => [
      fn
        .sum<bigint>(
          eb.case().when("n.confirmations", ">=", 1).then(eb.ref("t.amount")).else(eb.lit(0)).end(),
        )
        .as("sum_confirmed"),
      fn
        .sum<bigint>(eb.case().when("n.confirmations", "=", 0).then(eb.ref("t.amount")).else(eb.lit(0)).end())
        .as("sum_mempool"),
    ])
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.type", "=", "deposit")
    .where("t.state", "=", "incoming")
    .executeTakeFirst();
  const interrupted = await trx
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
    .select(({ fn }) => [
      fn.sum<bigint>("t.amount").as("sum_interrupted"),
      fn.count<number>("n.id").distinct().as("count"),
    ])
    .where("t.wallet_id", "=", ctx.walletId)
    .where("t.type", "=", "broadcast")
    .where("n.closed_at", "is", null)
    .executeTakeFirst();
  const chain = await getChainState(trx, ctx);
  return {
    credited: await creditedTotal(trx, ctx),
    incomingConfirmed: incoming?.sum_confirmed ?? 0n,
    incomingMempool: incoming?.sum_mempool ?? 0n,
    pendingSends: await pendingSendsTotal(trx, ctx),
    interruptedSends: interrupted?.sum_interrupted ?? 0n,
    interruptedBroadcasts: Number(interrupted?.count ?? 0),
    lastBlock: { hash: chain.lastBlockHash, height: chain.lastBlockHeight },
  };
}

export interface Reconciliation {
  daemon: WalletBalances;
  ledger: LedgerHoldings;
  /** What the ledger owes that the daemon should hold: credited + incoming + pending sends. */
  owed: bigint;
  /** daemon trusted + untrusted pending − owed: > 0 the daemon holds coins the ledger does not know, < 0 it holds less than the ledger owes. */
  unaccounted: bigint;
  /** daemon trusted − (credited + confirmed incoming + pending sends): the same, confirmed coins only. */
  unaccountedConfirmed: bigint;
  /** The smaller of the two: what both views agree the daemon holds beyond what the ledger owes. */
  difference: bigint;
  /** What import-balance may book now: the difference when positive, else 0. */
  importable: bigint;
  /** By the difference; `short`: the ledger holds more than the daemon (exit 1). */
  status: "balanced" | "unaccounted" | "short";
  /** Whether the ledger has processed the block the daemon's balances reflect. */
  ledgerAtDaemonBlock: boolean;
}

export function reconcile(
  daemon: WalletBalances,
  ledger: LedgerHoldings,
  daemonBlock: ChainTipRef,
): Reconciliation {
  const owed = ledger.credited + ledger.incomingConfirmed + ledger.incomingMempool + ledger.pendingSends;
  const unaccounted = daemon.trusted + daemon.untrustedPending - owed;
  const unaccountedConfirmed =
    daemon.trusted - (ledger.credited + ledger.incomingConfirmed + ledger.pendingSends);
  // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.min does not take.
  const difference = unaccounted < unaccountedConfirmed ? unaccounted : unaccountedConfirmed;
  return {
    daemon,
    ledger,
    owed,
    unaccounted,
    unaccountedConfirmed,
    difference,
    importable: difference > 0n ? difference : 0n,
    status: difference < 0n ? "short" : difference > 0n ? "unaccounted" : "balanced",
    ledgerAtDaemonBlock: ledger.lastBlock.hash === daemonBlock.hash,
  };
}

/** Equal holdings: nothing moved in the ledger between two readings. */
export function sameHoldings(a: LedgerHoldings, b: LedgerHoldings): boolean {
  return (
    a.credited === b.credited &&
    a.incomingConfirmed === b.incomingConfirmed &&
    a.incomingMempool === b.incomingMempool &&
    a.pendingSends === b.pendingSends &&
    a.interruptedSends === b.interruptedSends &&
    a.lastBlock.hash === b.lastBlock.hash
  );
}

/** A reconciliation with amounts as decimal strings: what `--json`, /reconcile.json and the dashboard show. */
export function reconciliationView(r: Reconciliation, decimals: number) {
  const money = (units: bigint) => formatAmount(units, decimals);
  return {
    status: r.status,
    daemon: {
      trusted: money(r.daemon.trusted),
      untrusted_pending: money(r.daemon.untrustedPending),
      immature: money(r.daemon.immature),
      block: r.daemon.lastProcessedBlock ?? null,
    },
    ledger: {
      credited: money(r.ledger.credited),
      incoming_confirmed: money(r.ledger.incomingConfirmed),
      incoming_mempool: money(r.ledger.incomingMempool),
      pending_sends: money(r.ledger.pendingSends),
      owed: money(r.owed),
      interrupted_sends: money(r.ledger.interruptedSends),
      interrupted_broadcasts: r.ledger.interruptedBroadcasts,
      block: r.ledger.lastBlock,
    },
    unaccounted: money(r.unaccounted),
    unaccounted_confirmed: money(r.unaccountedConfirmed),
    importable: money(r.importable),
    ledger_at_daemon_block: r.ledgerAtDaemonBlock,
  };
}

export type ReconciliationView = ReturnType<typeof reconciliationView>;
