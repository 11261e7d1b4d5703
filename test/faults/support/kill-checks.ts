/**
 * The campaign's final checks, over the facts a finished seed collected (./kill-campaign.ts).
 * Each returns the list of what is wrong, every line naming its seed, so one failing
 * assertion shows every seed and every transaction at fault and can be rerun alone.
 */
import { isDeepStrictEqual } from "node:util";
import type { TxUpdateData } from "../../../src/events/types.js";
import type { SeedResult } from "./kill-campaign.js";
import { CREDIT_THRESHOLD, MAX_CONFIRMATIONS } from "./kill-world.js";

const sats = (n: bigint) => `${n} sat`;

/** The seeds that produced facts; a seed whose run failed is reported by the run check. */
function complete(result: SeedResult): result is SeedResult & Required<Pick<SeedResult, "ledger" | "chain">> {
  return result.error === undefined && result.ledger !== undefined && result.chain !== undefined;
}

/** The run itself: finished, every kill followed by a restart, no exit nobody asked for, clean stop. */
export function checkRun(result: SeedResult): string[] {
  const s = `seed ${result.seed} (${result.engine})`;
  const failures: string[] = [];
  if (result.error !== undefined) failures.push(`${s}: the run did not finish: ${result.error}`);
  if (result.kills.length !== result.plan.kills.length)
    failures.push(`${s}: ${result.kills.length} of ${result.plan.kills.length} planned kills happened`);
  for (const exit of result.unexpectedExits)
    failures.push(
      `${s}: the service exited on its own (${exit.code}) after ${exit.uptimeMs} ms:\n${exit.tail}`,
    );
  if (result.error === undefined && result.finalExit !== 0)
    failures.push(`${s}: SIGTERM at the end gave exit ${String(result.finalExit)}, expected 0`);
  return failures;
}

/** 1. Every deposit on the chain exactly once in the ledger, to the satoshi, credited; nothing else. */
export function checkDeposits(result: SeedResult): string[] {
  if (!complete(result)) return [];
  const s = `seed ${result.seed} (${result.engine})`;
  const failures: string[] = [];
  const { ledger, chain } = result;
  const key = (txid: string, address: string) => `${txid} → ${address}`;

  // The test's record of what the payer sent must be what the daemon's "ours" wallet received.
  const received = new Map<string, bigint>();
  for (const e of chain.ours)
    if (e.category === "receive" && e.address) received.set(key(e.txid, e.address), e.amount);
  const expected = new Map<string, bigint>();
  for (const d of result.deposits) expected.set(key(d.txid, d.address), d.amount);
  for (const [k, amount] of expected) {
    if (received.get(k) !== amount)
      failures.push(
        `${s}: chain: deposit ${k} of ${sats(amount)} not in the wallet as such (${received.get(k)})`,
      );
  }
  for (const k of received.keys())
    if (!expected.has(k)) failures.push(`${s}: chain: the wallet received ${k}, which nobody paid`);

  const addressById = new Map(ledger.addresses.map((a) => [a.id, a.address]));
  const ntxById = new Map(ledger.networkTransactions.map((n) => [n.id, n]));
  const booked = new Map<string, Array<{ amount: bigint; state: string; confirmations: number }>>();
  for (const t of ledger.transactions) {
    if (t.type !== "deposit") continue;
    const ntx = t.network_transaction_id === null ? undefined : ntxById.get(t.network_transaction_id);
    const address = t.address_id === null ? undefined : addressById.get(t.address_id);
    if (!ntx?.txid || !address) {
      failures.push(`${s}: ledger deposit ${t.id} has no network transaction or address`);
      continue;
    }
    const k = key(ntx.txid, address);
    booked.set(k, [
      ...(booked.get(k) ?? []),
      { amount: t.amount, state: t.state, confirmations: ntx.confirmations },
    ]);
  }
  for (const [k, amount] of expected) {
    const rows = booked.get(k) ?? [];
    if (rows.length !== 1) {
      failures.push(`${s}: deposit ${k} is in the ledger ${rows.length} times, expected exactly once`);
      continue;
    }
    const row = rows[0] as { amount: bigint; state: string; confirmations: number };
    if (row.amount !== amount)
      failures.push(`${s}: deposit ${k}: ledger amount ${sats(row.amount)}, chain ${sats(amount)}`);
    if (row.state !== "credited" && row.state !== "processed")
      failures.push(`${s}: deposit ${k} is ${row.state}, expected credited`);
    if (row.confirmations < MAX_CONFIRMATIONS)
      failures.push(
        `${s}: deposit ${k} at ${row.confirmations} confirmations, expected ≥ ${MAX_CONFIRMATIONS}`,
      );
  }
  for (const k of booked.keys())
    if (!expected.has(k)) failures.push(`${s}: ledger deposit ${k} that the chain does not have`);
  return failures;
}

/** Txid → fee booked in the ledger for each closed broadcast. */
function broadcastTxids(result: SeedResult & Required<Pick<SeedResult, "ledger">>) {
  return result.ledger.networkTransactions.filter(
    (n) => n.transaction_type === "broadcast" && n.txid !== null,
  );
}

/** 2. Balances to the satoshi: accounts, addresses, the network-fee account, the wallet, the daemon. */
export function checkBalances(result: SeedResult): string[] {
  if (!complete(result)) return [];
  const s = `seed ${result.seed} (${result.engine})`;
  const failures: string[] = [];
  const { ledger, chain } = result;

  const broadcasts = broadcastTxids(result);
  let chainFees = 0n;
  for (const ntx of broadcasts) {
    const fee = chain.feeByTxid[ntx.txid as string];
    if (fee === undefined) {
      failures.push(`${s}: broadcast ${ntx.id} (${ntx.txid}) is not a send of the daemon's wallet`);
      continue;
    }
    chainFees += fee;
    if (ntx.fee !== fee)
      failures.push(`${s}: broadcast ${ntx.id} (${ntx.txid}): fee booked ${ntx.fee} sat, paid ${sats(fee)}`);
  }
  const feeTransactions = ledger.transactions.filter((t) => t.type === "network_fee");
  const bookedFees = feeTransactions.reduce((sum, t) => sum + t.amount, 0n);
  if (bookedFees !== chainFees)
    failures.push(
      `${s}: network_fee transactions sum to ${sats(bookedFees)}, the chain's fees to ${sats(chainFees)}`,
    );

  const deposited = result.deposits.reduce((sum, d) => sum + d.amount, 0n);
  const sent = result.sends.reduce((sum, d) => sum + d.amount, 0n);
  for (const account of ledger.accounts) {
    let expected: bigint;
    if (account.kind === "network_fee") expected = -chainFees;
    else {
      const ins = result.deposits
        .filter((d) => d.accountId === account.id)
        .reduce((sum, d) => sum + d.amount, 0n);
      const outs = result.sends
        .filter((d) => d.accountId === account.id)
        .reduce((sum, d) => sum + d.amount, 0n);
      expected = ins - outs;
    }
    if (account.balance !== expected)
      failures.push(
        `${s}: account ${account.id} (${account.name}) balance ${sats(account.balance)}, expected ${sats(expected)}`,
      );
  }
  for (const address of ledger.addresses) {
    if (address.account_id === null) continue; // an external destination
    const expected = result.deposits
      .filter((d) => d.address === address.address)
      .reduce((sum, d) => sum + d.amount, 0n);
    if (address.balance !== expected)
      failures.push(
        `${s}: address ${address.address} balance ${sats(address.balance)}, expected ${sats(expected)}`,
      );
  }
  const walletExpected = deposited - sent - chainFees;
  if (ledger.walletBalance.confirmed !== walletExpected)
    failures.push(
      `${s}: wallet balance ${sats(ledger.walletBalance.confirmed)}, expected deposits ${deposited} − sends ${sent} − fees ${chainFees} = ${sats(walletExpected)}`,
    );
  if (ledger.walletBalance.unconfirmed !== 0n)
    failures.push(`${s}: ${sats(ledger.walletBalance.unconfirmed)} still unconfirmed in the ledger`);
  if (chain.oursBalance !== ledger.walletBalance.confirmed)
    failures.push(
      `${s}: the daemon's wallet holds ${sats(chain.oursBalance)}, the ledger ${sats(ledger.walletBalance.confirmed)}`,
    );
  return failures;
}

/** 3. No double broadcast: one payment per destination, with the send's amount, in the ledger's txid. */
export function checkSends(result: SeedResult): string[] {
  if (!complete(result)) return [];
  const s = `seed ${result.seed} (${result.engine})`;
  const failures: string[] = [];
  const { ledger, chain } = result;
  const ntxById = new Map(ledger.networkTransactions.map((n) => [n.id, n]));
  const txById = new Map(ledger.transactions.map((t) => [t.id, t]));

  for (const send of result.sends) {
    const payments = chain.payerReceives.filter((e) => e.address === send.address);
    const tx = txById.get(send.id);
    const ntx = tx?.network_transaction_id == null ? undefined : ntxById.get(tx.network_transaction_id);
    if (payments.length !== 1) {
      failures.push(
        `${s}: send ${send.id} of ${sats(send.amount)} to ${send.address}: ${payments.length} payment(s) on chain (${payments.map((p) => `${p.txid}:${p.amount}`).join(", ")}), expected exactly 1`,
      );
    } else {
      const payment = payments[0] as (typeof payments)[number];
      if (payment.amount !== send.amount)
        failures.push(
          `${s}: send ${send.id}: chain paid ${sats(payment.amount)}, the send is ${sats(send.amount)}`,
        );
      if (ntx?.txid !== payment.txid)
        failures.push(
          `${s}: send ${send.id}: paid in ${payment.txid}, the ledger says ${ntx?.txid ?? "nothing"}`,
        );
    }
    if (tx?.state !== "broadcasted")
      failures.push(`${s}: send ${send.id} is ${tx?.state ?? "missing"} in the ledger, expected broadcasted`);
    if (ntx && ntx.closed_at === null)
      failures.push(`${s}: send ${send.id}: broadcast ${ntx.id} never closed`);
  }
  const recorded = new Set(result.sends.map((send) => send.id));
  for (const t of ledger.transactions)
    if (t.type === "broadcast" && !recorded.has(t.id))
      failures.push(`${s}: ledger send ${t.id} that the application never made`);

  // Every transaction the daemon's wallet sent is one broadcast of the ledger, and vice versa.
  const chainSends = new Map<string, Map<string, bigint>>();
  for (const e of chain.ours) {
    if (e.category !== "send" || !e.address) continue;
    const outputs = chainSends.get(e.txid) ?? new Map<string, bigint>();
    outputs.set(e.address, -e.amount);
    chainSends.set(e.txid, outputs);
  }
  const broadcasts = broadcastTxids(result);
  const byTxid = new Map<string, number[]>();
  for (const ntx of broadcasts)
    byTxid.set(ntx.txid as string, [...(byTxid.get(ntx.txid as string) ?? []), ntx.id]);
  for (const [txid, ids] of byTxid)
    if (ids.length !== 1)
      failures.push(`${s}: txid ${txid} is booked as ${ids.length} broadcasts (${ids.join(", ")})`);
  for (const [txid, outputs] of chainSends) {
    const ids = byTxid.get(txid);
    if (!ids) {
      failures.push(
        `${s}: the daemon's wallet sent ${txid} (${[...outputs].map(([a, v]) => `${a}:${v}`).join(", ")}), which no broadcast of the ledger carries`,
      );
      continue;
    }
    const expected = new Map<string, bigint>();
    for (const t of ledger.transactions) {
      if (t.type !== "broadcast" || !ids.includes(t.network_transaction_id ?? -1)) continue;
      const send = result.sends.find((x) => x.id === t.id);
      if (send) expected.set(send.address, (expected.get(send.address) ?? 0n) + t.amount);
    }
    if (!isDeepStrictEqual(outputs, expected))
      failures.push(
        `${s}: ${txid} pays ${[...outputs].map(([a, v]) => `${a}:${v}`).join(", ")}; its sends are ${[...expected].map(([a, v]) => `${a}:${v}`).join(", ")}`,
      );
  }
  for (const txid of byTxid.keys())
    if (!chainSends.has(txid))
      failures.push(`${s}: broadcast txid ${txid} is not a send of the daemon's wallet`);
  return failures;
}

/** 4. Interrupted broadcasts: none recoverable left behind; each one ended exactly one way. */
export function checkInterrupted(result: SeedResult): string[] {
  if (!complete(result)) return [...result.interruptedFailures];
  const s = `seed ${result.seed} (${result.engine})`;
  const failures = [...result.interruptedFailures];
  const { seen, recovered, released, closedByHand, releasedByService } = result.interrupted;
  for (const id of seen) {
    const ends = [recovered, released, closedByHand, releasedByService].filter((list) => list.includes(id));
    if (ends.length !== 1)
      failures.push(`${s}: interrupted broadcast ${id} ended ${ends.length} ways, expected exactly one`);
  }
  const open = result.ledger.networkTransactions.filter(
    (n) => n.transaction_type === "broadcast" && n.opened_at !== null && n.closed_at === null,
  );
  if (open.length > 0)
    failures.push(`${s}: broadcasts still interrupted at the end: ${open.map((n) => n.id).join(", ")}`);
  return failures;
}

export interface EventFigures {
  events: number;
  deliveries: number;
  duplicates: number;
}

/** 5. Events: all delivered, first arrivals in outbox order per transaction, final state delivered last. */
export function checkEvents(result: SeedResult): { failures: string[]; figures: EventFigures } {
  const figures: EventFigures = {
    events: result.ledger?.events.length ?? 0,
    deliveries: result.deliveries.length,
    duplicates: result.deliveries.length - new Set(result.deliveries.map((d) => d.event_id)).size,
  };
  if (!complete(result)) return { failures: [], figures };
  const s = `seed ${result.seed} (${result.engine})`;
  const failures: string[] = [];
  const { ledger } = result;
  const outbox = new Map(ledger.events.map((e) => [e.event_id, e]));

  for (const delivery of ledger.deliveries)
    if (delivery.state !== "delivered")
      failures.push(
        `${s}: outbox event row ${delivery.event_row_id} is ${delivery.state} after ${delivery.attempts} attempts`,
      );

  // First arrival of each event, per ordering key, in arrival order.
  const firstArrivals = new Map<string, Array<{ row: number; data: TxUpdateData; eventId: string }>>();
  const seen = new Set<string>();
  for (const delivery of result.deliveries) {
    const row = outbox.get(delivery.event_id);
    if (!row) {
      failures.push(`${s}: the receiver got event ${delivery.event_id}, which is not in the outbox`);
      continue;
    }
    if (seen.has(delivery.event_id)) continue;
    seen.add(delivery.event_id);
    const stored = JSON.parse(row.payload) as TxUpdateData;
    if (!isDeepStrictEqual(delivery.data, stored))
      failures.push(
        `${s}: event ${delivery.event_id} arrived as ${JSON.stringify(delivery.data)}, the outbox has ${row.payload}`,
      );
    const list = firstArrivals.get(row.ordering_key) ?? [];
    list.push({ row: row.id, data: delivery.data, eventId: delivery.event_id });
    firstArrivals.set(row.ordering_key, list);
  }
  for (const event of ledger.events)
    if (!seen.has(event.event_id))
      failures.push(
        `${s}: outbox event ${event.event_id} (${event.ordering_key}) never reached the receiver`,
      );

  // Per transaction: arrivals in outbox order; confirmations only go up (−1: a conflict).
  for (const [orderingKey, arrivals] of firstArrivals) {
    for (let i = 1; i < arrivals.length; i++) {
      const before = arrivals[i - 1] as (typeof arrivals)[number];
      const after = arrivals[i] as (typeof arrivals)[number];
      if (after.row < before.row)
        failures.push(
          `${s}: ${orderingKey}: event ${after.eventId} (outbox row ${after.row}) arrived after ${before.eventId} (row ${before.row})`,
        );
      if (after.data.confirmations !== -1 && after.data.confirmations <= before.data.confirmations)
        failures.push(
          `${s}: ${orderingKey}: confirmations went ${before.data.confirmations} → ${after.data.confirmations}`,
        );
    }
  }
  // The outbox itself: one event per state of a transaction, never backwards.
  const byKey = new Map<string, TxUpdateData[]>();
  for (const event of ledger.events)
    byKey.set(event.ordering_key, [...(byKey.get(event.ordering_key) ?? []), JSON.parse(event.payload)]);
  for (const [orderingKey, states] of byKey) {
    const confirmations = states.map((d) => d.confirmations);
    for (let i = 1; i < confirmations.length; i++) {
      const now = confirmations[i] as number;
      if (now !== -1 && now <= (confirmations[i - 1] as number)) {
        failures.push(`${s}: ${orderingKey}: the outbox holds confirmations ${confirmations.join(",")}`);
        break;
      }
    }
  }

  // The final state of each transaction is the last txupdate the receiver got for it.
  const ntxById = new Map(ledger.networkTransactions.map((n) => [n.id, n]));
  for (const t of ledger.transactions) {
    if (t.type !== "deposit" && t.type !== "broadcast") continue;
    const ntx = t.network_transaction_id === null ? undefined : ntxById.get(t.network_transaction_id);
    if (!ntx) continue; // reported by the deposit and send checks
    const orderingKey = `btc:transaction:${t.id}`;
    const last = firstArrivals.get(orderingKey)?.at(-1);
    if (!last) {
      failures.push(`${s}: ${t.type} ${t.id} (${ntx.txid}): no txupdate ever delivered`);
      continue;
    }
    const finalConfirmations = ntx.confirmations;
    if (finalConfirmations < MAX_CONFIRMATIONS)
      failures.push(
        `${s}: ${t.type} ${t.id} ended at ${finalConfirmations} confirmations, below ${MAX_CONFIRMATIONS}`,
      );
    if (
      last.data.confirmations !== finalConfirmations ||
      last.data.credited !== finalConfirmations >= CREDIT_THRESHOLD ||
      last.data.txid !== ntx.txid ||
      last.data.transaction !== t.id ||
      last.data.network_transaction !== ntx.id
    )
      failures.push(
        `${s}: ${t.type} ${t.id}: last txupdate delivered ${JSON.stringify(last.data)}, the ledger is at ${finalConfirmations} confirmations in ${ntx.txid} (ntx ${ntx.id})`,
      );
  }
  return { failures, figures };
}
