/**
 * The three fields brokers route on and subscriptions filter by: the event's name, its coin
 * and its transaction type. Not every event concerns a coin or a transaction (a daemon's
 * status change has no transaction type): a missing field takes the value `-`, the same in
 * AMQP routing keys (`hotwalletlow.btc.-`), NATS subjects and subscription lists.
 */
import type { TransactionType } from "./types.js";

export const NO_VALUE = "-";

/** What a subscription's `transaction_types` may list. */
export const TRANSACTION_TYPES = ["deposit", "broadcast", NO_VALUE] as const satisfies readonly (
  | TransactionType
  | typeof NO_VALUE
)[];

export interface RoutingFields {
  event_name: string;
  coin: string;
  transaction_type: string;
}

export function routingFieldsOf(event: { event_name: string; data: unknown }): RoutingFields {
  const data = (typeof event.data === "object" && event.data !== null ? event.data : {}) as Record<
    string,
    unknown
  >;
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : NO_VALUE);
  return {
    event_name: event.event_name,
    coin: text(data.coin_name),
    transaction_type: text(data.transaction_type),
  };
}
