/**
 * Event payloads delivered to applications. Field names and meanings are the original
 * cryptoassets.core contract (shared/seed/events.txt) plus `confirmations`, made explicit;
 * receivers written for the original keep working.
 */

export type TransactionType = "deposit" | "broadcast";

/** `data` of a `txupdate` event. */
export interface TxUpdateData {
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
  /** Confirmations reached the coin's credit threshold. */
  credited: boolean;
  /** 0 = in mempool, n = mined n blocks deep, -1 = conflicted or dropped. */
  confirmations: number;
}

export interface EventDataByName {
  txupdate: TxUpdateData;
}

export type EventName = keyof EventDataByName;

/** Every event kind, by name: the one list configuration checks (subscriptions) use. */
const EVENT_NAME_SET: Record<EventName, true> = { txupdate: true };
export const EVENT_NAMES = Object.keys(EVENT_NAME_SET) as readonly EventName[];

/** An event as the dispatcher hands it to a handler. */
export interface CryptoassetsEvent<N extends EventName = EventName> {
  /** Unique, sortable (UUIDv7); receivers use it for idempotency. */
  event_id: string;
  event_name: N;
  data: EventDataByName[N];
  /** When the event was written to the outbox (ISO 8601). */
  created_at: string;
}

/**
 * Events of one ordering key are delivered to a handler strictly in creation order.
 * For txupdate the key is the transaction, so one stuck transaction holds back only itself.
 */
export function orderingKeyOf(event: Pick<CryptoassetsEvent, "event_name" | "data">): string {
  return `${event.data.coin_name}:transaction:${event.data.transaction}`;
}
