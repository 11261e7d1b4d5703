/**
 * Which wallet transaction, if any, is the payment of an interrupted broadcast (issue 10,
 * fault 2). The comment finds candidates; it does not prove anything on its own — the
 * daemon's wallet may be shared with another ledger (a re-initialised database, a staging
 * copy, a restored backup: the last two even share our ledger id), and closing our
 * broadcast with its payment marks our recipients paid when nobody paid them. A candidate
 * is accepted only when it pays exactly the broadcast's addresses and amounts and was made
 * no earlier than the broadcast was opened; anything else is refused with its reason and
 * left for the operator (`cryptoassets broadcasts list`, the status page).
 */
import type { Backend, WalletTransaction } from "../backends/backend.js";
import { formatAmount } from "../coins/amount.js";
import { broadcastOutputs, broadcastWithTxid, commentOf } from "../ledger/broadcasts.js";
import type { Ledger } from "../ledger/ledger.js";
import type { NetworkTransaction } from "../ledger/network-transactions.js";

export interface RefusedCandidate {
  txid: string;
  /** One sentence an operator can act on. */
  reason: string;
}

export interface BroadcastSearch {
  comment: string;
  /** The broadcast's payment: the one candidate that passed every check. */
  accepted: string | undefined;
  refused: RefusedCandidate[];
}

/**
 * Looks for the payment of an interrupted broadcast in the daemon's wallet.
 *
 * Broadcasts opened before migration 0002 carry the old comment `cryptoassets:ntx:<id>`,
 * which every ledger on the wallet may have written. They are still recovered by it, under
 * the same checks: a payment of another ledger would have to pay the very same addresses the
 * very same amounts, after our broadcast opened, under the same id — and then those
 * recipients were paid. Not recovering them at all would leave every broadcast interrupted
 * across the upgrade to an operator, who has nothing better to go on than these checks.
 */
export async function findBroadcastPayment(
  ledger: Ledger,
  backend: Backend,
  ntx: NetworkTransaction,
): Promise<BroadcastSearch> {
  const comment = commentOf(ntx);
  const openedAt = ntx.opened_at ?? 0;
  const txids = await backend.findSendsByComment(comment, openedAt);
  const search: BroadcastSearch = { comment, accepted: undefined, refused: [] };
  if (txids.length === 0) return search;
  const expected = await ledger.run((trx, ctx) => broadcastOutputs(trx, ctx, ntx.id));
  const passed: string[] = [];
  for (const txid of txids) {
    const closes = await ledger.run((trx, ctx) => broadcastWithTxid(trx, ctx, txid));
    const reason =
      closes !== undefined
        ? `it is the payment of broadcast ${closes} already`
        : refusal(await backend.getTransaction(txid), expected, openedAt, ledger.coin.decimals);
    if (reason === undefined) passed.push(txid);
    else search.refused.push({ txid, reason });
  }
  if (passed.length === 1) search.accepted = passed[0];
  else
    for (const txid of passed) {
      search.refused.push({
        txid,
        reason: `${passed.length} wallet transactions carry ${comment} and pay its outputs; which one is ours is for the operator to tell`,
      });
    }
  return search;
}

/** Why `tx` is not the payment of a broadcast paying `expected`, opened at `openedAt` ms; undefined when it is. */
export function refusal(
  tx: WalletTransaction,
  expected: ReadonlyMap<string, bigint>,
  openedAt: number,
  decimals: number,
): string | undefined {
  const reasons: string[] = [];
  const sent = sentOutputs(tx);
  if (!sameOutputs(sent, expected)) {
    reasons.push(`it pays ${describe(sent, decimals)}; the broadcast pays ${describe(expected, decimals)}`);
  }
  // Seconds at the daemon, milliseconds here: only the daemon's truncation is forgiven.
  const made = Math.min(tx.time, tx.timereceived ?? tx.time);
  if (made < Math.floor(openedAt / 1000)) {
    reasons.push(
      `it was made at ${iso(made * 1000)}, before the broadcast was opened (${iso(openedAt)}): another ledger on this wallet, or a restored copy of this one, paid it`,
    );
  }
  return reasons.length === 0 ? undefined : reasons.join("; and ");
}

/** The outputs the wallet paid to others (change excluded, as bitcoind's `send` details are). */
function sentOutputs(tx: WalletTransaction): Map<string, bigint> {
  const sent = new Map<string, bigint>();
  for (const detail of tx.details) {
    if (detail.category !== "send") continue;
    const address = detail.address ?? `(vout ${detail.vout}, no address)`;
    sent.set(address, (sent.get(address) ?? 0n) - detail.amount);
  }
  return sent;
}

function sameOutputs(sent: ReadonlyMap<string, bigint>, expected: ReadonlyMap<string, bigint>): boolean {
  if (sent.size !== expected.size) return false;
  const byKey = new Map([...sent].map(([address, amount]) => [addressKey(address), amount]));
  for (const [address, amount] of expected) {
    if (byKey.get(addressKey(address)) !== amount) return false;
  }
  return true;
}

/**
 * bech32 is case-insensitive (the daemon answers lower case; older ledgers may hold upper
 * case) and never mixed case; base58 is case-sensitive, so only a single-case address folds.
 */
function addressKey(address: string): string {
  const single = address === address.toLowerCase() || address === address.toUpperCase();
  return single ? address.toLowerCase() : address;
}

function describe(outputs: ReadonlyMap<string, bigint>, decimals: number): string {
  if (outputs.size === 0) return "nobody";
  return [...outputs]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([address, amount]) => `${formatAmount(amount, decimals)} to ${address}`)
    .join(", ");
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The note stored on the broadcast and shown to the operator; null when nothing was refused. */
export function recoveryNote(search: BroadcastSearch): string | null {
  if (search.refused.length === 0) return null;
  return search.refused
    .map(
      ({ txid, reason }) =>
        `wallet transaction ${txid} carries ${search.comment} but was not taken: ${reason}`,
    )
    .join("; ");
}
