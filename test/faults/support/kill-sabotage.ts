/**
 * Proof that each final check can fail: the facts of a real, passing seed, broken in one
 * precise way each (a deposit booked twice, a satoshi off, a destination paid twice, an
 * event lost or reordered…); the named check must then report something.
 */
import type { SeedResult } from "./kill-campaign.js";
import { checkBalances, checkDeposits, checkEvents, checkInterrupted, checkSends } from "./kill-checks.js";

export interface Sabotage {
  name: string;
  check: (result: SeedResult) => string[];
  /** Breaks a copy of the facts; false when this seed has nothing to break that way. */
  apply: (result: Required<Pick<SeedResult, "ledger" | "chain">> & SeedResult) => boolean;
}

const events = (result: SeedResult) => checkEvents(result).failures;

export const SABOTAGES: Sabotage[] = [
  {
    name: "a deposit booked twice",
    check: checkDeposits,
    apply: ({ ledger }) => {
      const deposit = ledger.transactions.find((t) => t.type === "deposit");
      if (!deposit) return false;
      ledger.transactions.push({ ...deposit, id: 1_000_000 });
      return true;
    },
  },
  {
    name: "a deposit one satoshi short",
    check: checkDeposits,
    apply: ({ ledger }) => {
      const deposit = ledger.transactions.find((t) => t.type === "deposit");
      if (!deposit) return false;
      deposit.amount -= 1n;
      return true;
    },
  },
  {
    name: "a deposit missing",
    check: checkDeposits,
    apply: ({ ledger }) => {
      const index = ledger.transactions.findIndex((t) => t.type === "deposit");
      if (index < 0) return false;
      ledger.transactions.splice(index, 1);
      return true;
    },
  },
  {
    name: "a deposit never credited",
    check: checkDeposits,
    apply: ({ ledger }) => {
      const deposit = ledger.transactions.find((t) => t.type === "deposit");
      if (!deposit) return false;
      deposit.state = "incoming";
      return true;
    },
  },
  {
    name: "an account one satoshi richer",
    check: checkBalances,
    apply: ({ ledger }) => {
      const account = ledger.accounts.find((a) => a.kind !== "network_fee");
      if (!account) return false;
      account.balance += 1n;
      return true;
    },
  },
  {
    name: "a broadcast's fee booked one satoshi off",
    check: checkBalances,
    apply: ({ ledger }) => {
      const ntx = ledger.networkTransactions.find(
        (n) => n.transaction_type === "broadcast" && n.fee !== null,
      );
      if (!ntx?.fee) return false;
      ntx.fee += 1n;
      return true;
    },
  },
  {
    name: "the daemon's wallet one satoshi poorer than the ledger",
    check: checkBalances,
    apply: ({ chain }) => {
      chain.oursBalance -= 1n;
      return true;
    },
  },
  {
    name: "a send's destination paid twice (double broadcast)",
    check: checkSends,
    apply: (result) => {
      const send = result.sends[0];
      const payment = result.chain.payerReceives.find((e) => e.address === send?.address);
      if (!payment) return false;
      result.chain.payerReceives.push({ ...payment, txid: "f".repeat(64) });
      result.chain.ours.push({ ...payment, txid: "f".repeat(64), category: "send", amount: -payment.amount });
      return true;
    },
  },
  {
    name: "a send paid one satoshi short",
    check: checkSends,
    apply: (result) => {
      const send = result.sends[0];
      const payment = result.chain.payerReceives.find((e) => e.address === send?.address);
      if (!payment) return false;
      payment.amount -= 1n;
      return true;
    },
  },
  {
    name: "a broadcast left interrupted",
    check: checkInterrupted,
    apply: ({ ledger }) => {
      const ntx = ledger.networkTransactions.find((n) => n.transaction_type === "broadcast");
      if (!ntx) return false;
      ntx.opened_at ??= 1;
      ntx.closed_at = null;
      return true;
    },
  },
  {
    name: "an event never delivered",
    check: events,
    apply: (result) => {
      const lost = result.ledger.events[0]?.event_id;
      if (!lost) return false;
      result.deliveries = result.deliveries.filter((d) => d.event_id !== lost);
      return true;
    },
  },
  {
    name: "two events of one transaction delivered in the wrong order",
    check: events,
    apply: (result) => {
      const key = result.ledger.events.find(
        (e, i) => result.ledger.events.findIndex((f) => f.ordering_key === e.ordering_key) !== i,
      )?.ordering_key;
      if (!key) return false;
      const ids = new Set(result.ledger.events.filter((e) => e.ordering_key === key).map((e) => e.event_id));
      const positions = result.deliveries.flatMap((d, i) => (ids.has(d.event_id) ? [i] : []));
      const [a, b] = [positions[0] as number, positions[positions.length - 1] as number];
      const swapped = result.deliveries[a];
      result.deliveries[a] = result.deliveries[b] as (typeof result.deliveries)[number];
      result.deliveries[b] = swapped as (typeof result.deliveries)[number];
      return true;
    },
  },
  {
    name: "the final state never delivered (the ledger one confirmation further)",
    check: events,
    apply: ({ ledger }) => {
      const ntx = ledger.networkTransactions.find((n) => n.txid !== null);
      if (!ntx) return false;
      ntx.confirmations += 1;
      return true;
    },
  },
  {
    name: "one state of a transaction written to the outbox twice",
    check: events,
    apply: (result) => {
      const event = result.ledger.events.at(-1);
      if (!event) return false;
      const copy = { ...event, id: event.id + 1_000_000, event_id: `${event.event_id.slice(0, -4)}ffff` };
      result.ledger.events.push(copy);
      const original = result.deliveries.find((d) => d.event_id === event.event_id);
      if (original) result.deliveries.push({ ...original, event_id: copy.event_id });
      return true;
    },
  },
];

/** The first seed with every kind of fact to break (a deposit, a send, a transaction with several events). */
export function sabotageSubject(results: SeedResult[]): SeedResult | undefined {
  return results.find(
    (r) =>
      r.error === undefined &&
      r.ledger !== undefined &&
      r.chain !== undefined &&
      r.sends.length > 0 &&
      r.deposits.length > 0 &&
      new Set(r.ledger.events.map((e) => e.ordering_key)).size < r.ledger.events.length,
  );
}
