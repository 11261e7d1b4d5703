/**
 * Event payloads delivered to applications. Field names and meanings are the original
 * cryptoassets.core contract (shared/seed/events.txt) plus `confirmations`, made explicit;
 * receivers written for the original keep working.
 */

export type TransactionType = "deposit" | "broadcast";

/** The fields of every event about one of our transactions (txupdate, txreplaced). */
export interface TransactionEventData {
  /** Lowercase coin acronym, e.g. "btc". */
  coin_name: string;
  /** Id of our transaction row. */
  transaction: number;
  /** Id of the network transaction row. */
  network_transaction: number;
  transaction_type: TransactionType;
  txid: string;
  /** Receiving account (deposit) or sending account (broadcast). */
  account: number;
  /** Receiving address (deposit) or destination (broadcast). */
  address: string;
  /** Positive decimal string at full coin precision, e.g. "0.50000000". */
  amount: string;
}

/** `data` of a `txupdate` event. */
export interface TxUpdateData extends TransactionEventData {
  /** Confirmations reached the coin's credit threshold. */
  credited: boolean;
  /** 0 = in mempool, n = mined n blocks deep, -1 = conflicted or dropped. */
  confirmations: number;
}

/**
 * `data` of a `txreplaced` event: one of our transactions (deposit or broadcast) whose network
 * transaction was replaced (RBF, bumpfee) or conflicted by another one and is no longer
 * valid. Sent once, when its confirmations turn -1, next to that txupdate (same ordering key).
 */
export interface TxReplacedData extends TransactionEventData {
  /** The transaction that is no longer valid. */
  txid: string;
  /** The replacement, when the daemon knows it (replaced_by_txid, or its only wallet conflict); else null. */
  replaced_by_txid: string | null;
  /** Every wallet transaction the daemon lists as spending the same inputs (walletconflicts). */
  conflicts: string[];
}

export type BackendStatus = "up" | "unreachable" | "stuck";

/** `data` of a `backendstatus` event: the coin's daemon changed state (one event per change). */
export interface BackendStatusData {
  coin_name: string;
  status: BackendStatus;
  previous_status: BackendStatus;
  /** When the daemon entered this status (ISO 8601). */
  since: string;
  /** The last tip the daemon answered with, and when we saw it move last (ISO 8601). */
  tip_height: number | null;
  tip_hash: string | null;
  tip_changed_at: string | null;
  /** `unreachable`: why the call failed (the daemon's URL masked); else null. */
  error: string | null;
  /** `stuck`: the tip stood still longer than this many seconds; else null. */
  stuck_after_seconds: number | null;
}

/** `data` of a `sendfailed` event: the daemon refused a send for a reason of its own; its amount is back on the account. */
export interface SendFailedData {
  coin_name: string;
  /** Id of the send (our transaction row, as in its txupdate events). */
  transaction: number;
  transaction_type: "broadcast";
  /** The sending account, credited back. */
  account: number;
  /** The destination. */
  address: string;
  /** Positive decimal string at full coin precision. */
  amount: string;
  /** The daemon's refusal, verbatim, e.g. "Invalid Bitcoin address: …" or "Transaction amount too small". */
  reason: string;
}

/**
 * `data` of a `hotwalletlow` event: the daemon's wallet crossed into "low" (it holds less than
 * the pending sends, or less than the configured threshold) or back ("recovered"). Amounts
 * are decimal strings at full precision.
 */
export interface HotWalletLowData {
  coin_name: string;
  state: "low" | "recovered";
  /** Why it is low: the sends cannot all be paid ("shortfall"), or only below the threshold; null once recovered. */
  reason: "shortfall" | "threshold" | null;
  /** The daemon's spendable balance (getbalances: mine.trusted). */
  balance: string;
  /** The pending sends, waiting for the broadcaster. */
  pending: string;
  /** `coins.<coin>.hot_wallet_threshold`, or null. */
  threshold: string | null;
  /** What a top-up must bring: pending + threshold − balance, at least 0 (network fees not included). */
  missing: string;
}

export interface EventDataByName {
  txupdate: TxUpdateData;
  txreplaced: TxReplacedData;
  backendstatus: BackendStatusData;
  sendfailed: SendFailedData;
  hotwalletlow: HotWalletLowData;
}

export type EventName = keyof EventDataByName;

/** Every event kind, by name: the one list configuration checks (subscriptions) use. */
const EVENT_NAME_SET: Record<EventName, true> = {
  txupdate: true,
  txreplaced: true,
  backendstatus: true,
  sendfailed: true,
  hotwalletlow: true,
};
export const EVENT_NAMES = Object.keys(EVENT_NAME_SET) as readonly EventName[];

/**
 * An event as the dispatcher hands it to a handler. Without a name it is the union of every
 * kind, so `event.event_name === "txupdate"` narrows `event.data` to TxUpdateData.
 */
export type CryptoassetsEvent<N extends EventName = EventName> = N extends EventName
  ? {
      /** Unique, sortable (UUIDv7); receivers use it for idempotency. */
      event_id: string;
      event_name: N;
      data: EventDataByName[N];
      /** When the event was written to the outbox (ISO 8601). */
      created_at: string;
    }
  : never;

/**
 * Events of one ordering key are delivered to a handler strictly in creation order.
 * Events of a transaction (txupdate, txreplaced, sendfailed) share the transaction's key, so one
 * stuck transaction holds back only itself; a wallet's hotwalletlow events are one sequence per
 * coin; other events are ordered per coin and name.
 */
export function orderingKeyOf(event: Pick<CryptoassetsEvent, "event_name" | "data">): string {
  if (event.event_name === "hotwalletlow") return `${event.data.coin_name}:hotwallet`;
  const data = event.data as Partial<TxUpdateData> & { coin_name: string };
  if (typeof data.transaction === "number") return `${data.coin_name}:transaction:${data.transaction}`;
  return `${data.coin_name}:${event.event_name}`;
}
