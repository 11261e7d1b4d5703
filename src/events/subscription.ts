/**
 * Which events a handler receives: any subset by event names, coins and transaction types
 * (`events.<name>.subscribe`). Decided when an event is written to the outbox — an event
 * outside a handler's subscription gets no delivery row for it, so nothing is queued,
 * retried or listed for that handler. Without a subscription a handler receives everything
 * (configurations written for the original are unchanged).
 */
import { routingFieldsOf } from "./routing.js";

export interface Subscription {
  /** Event names (`txupdate`, …); absent = all. */
  events?: readonly string[];
  /** Coin names, lower case; `-` = events without a coin; absent = all. */
  coins?: readonly string[];
  /** `deposit`, `broadcast`, `-` (events without a transaction type); absent = all. */
  transaction_types?: readonly string[];
}

/** A handler as the outbox sees it: a name, and what it subscribed to. */
export interface OutboxRecipient {
  name: string;
  subscription?: Subscription | undefined;
}

/** Every listed dimension must match; an event lacking a field has the value `-` there. */
export function isSubscribed(
  subscription: Subscription | undefined,
  event: { event_name: string; data: unknown },
): boolean {
  if (!subscription) return true;
  const fields = routingFieldsOf(event);
  const allows = (list: readonly string[] | undefined, value: string) => !list || list.includes(value);
  return (
    allows(subscription.events, fields.event_name) &&
    allows(subscription.coins, fields.coin) &&
    allows(subscription.transaction_types, fields.transaction_type)
  );
}

/** The outbox recipients of the configured handlers (`events:`), in configuration order. */
export function configuredRecipients(
  events: Readonly<Record<string, { subscribe?: Subscription | undefined }>>,
): OutboxRecipient[] {
  return Object.entries(events).map(([name, handler]) => ({ name, subscription: handler.subscribe }));
}
