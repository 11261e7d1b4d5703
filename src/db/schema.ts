/**
 * The database schema as one TypeScript interface that every query is checked against.
 * Tables are prefixed `ca_` because they live in the application's own database
 * (and `transaction` is an SQL keyword).
 *
 * Runtime types are the same on every engine (see ./normalize-plugin.ts): money columns are
 * `bigint` base units, ids/counters/heights are `number`, timestamps are Unix
 * milliseconds as `number` (BIGINT in the database — engine-neutral, no time-zone traps).
 */
import type { ColumnType, Generated } from "kysely";

/** Unix milliseconds. */
export type Millis = number;
/** Base units (satoshis); BIGINT in the database. */
export type Money = ColumnType<bigint, bigint, bigint>;

export interface WalletTable {
  id: Generated<number>;
  coin: string;
  name: string;
  created_at: Millis;
}

export type AccountKind = "user" | "network_fee";

export interface AccountTable {
  id: Generated<number>;
  wallet_id: number;
  name: string;
  kind: AccountKind;
  /** Credited funds minus sends and transfers out; never negative for user accounts. */
  balance: Money;
  created_at: Millis;
}

export interface AddressTable {
  id: Generated<number>;
  wallet_id: number;
  /** Null for external addresses we send to. */
  account_id: number | null;
  address: string;
  label: string | null;
  /** Credited deposits to this address. */
  balance: Money;
  archived_at: Millis | null;
  created_at: Millis;
}

export type NetworkTransactionType = "deposit" | "broadcast";

export interface NetworkTransactionTable {
  id: Generated<number>;
  wallet_id: number;
  /** Null for a broadcast that was opened but has no txid yet. */
  txid: string | null;
  transaction_type: NetworkTransactionType;
  /** -1 until seen, or while conflicted/dropped; 0 in mempool; n when mined. */
  confirmations: number;
  block_hash: string | null;
  block_height: number | null;
  /** Tip height when the transaction was first seen conflicted (stops tracking later). */
  conflicted_at_height: number | null;
  /** 1 while confirmations still change what we report; 0 once final. */
  tracked: number;
  fee: ColumnType<bigint | null, bigint | null, bigint | null>;
  opened_at: Millis | null;
  closed_at: Millis | null;
  /** A broadcast's sendmany comment; null for deposits and broadcasts opened before migration 0005. */
  comment: ColumnType<string | null, string | null | undefined, string | null>;
  /** Why recovery left this interrupted broadcast to the operator; null when it did not. */
  recovery_note: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Millis;
  updated_at: Millis;
}

/** balance_import: the daemon's unaccounted balance booked on an account (the original's walletimport). */
export type TransactionKind = "deposit" | "broadcast" | "internal" | "network_fee" | "balance_import";
export type TransactionState =
  | "incoming" // deposit seen, not yet credited
  | "credited" // deposit credited
  | "processed" // deposit the application marked as handled
  | "pending" // send waiting for the broadcaster
  | "broadcasted" // send handed to the daemon
  | "failed" // send the daemon refused for a reason of its own; its amount went back to the account
  | "done"; // internal transfer / fee / balance import booked

export interface TransactionTable {
  id: Generated<number>;
  wallet_id: number;
  type: TransactionKind;
  state: TransactionState;
  /** Always positive. */
  amount: Money;
  sending_account_id: number | null;
  receiving_account_id: number | null;
  address_id: number | null;
  network_transaction_id: number | null;
  label: string | null;
  credited_at: Millis | null;
  processed_at: Millis | null;
  created_at: Millis;
  updated_at: Millis;
  /** Why a `failed` send failed: the daemon's refusal, verbatim. */
  failure: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ChainStateTable {
  wallet_id: number;
  last_block_hash: string | null;
  last_block_height: number | null;
  updated_at: Millis;
}

/** The hot wallet's last reported state: `hotwalletlow` fires on a change, once. */
export interface HotWalletTable {
  wallet_id: number;
  state: "ok" | "low";
  changed_at: Millis;
}

export interface EventTable {
  id: Generated<number>;
  /** UUIDv7, sortable, unique; the idempotency key receivers see. */
  event_id: string;
  event_name: string;
  ordering_key: string;
  /** JSON text of the event data. */
  payload: string;
  created_at: Millis;
  /** Commit-ordered position in the pull feed; null until sequenced (src/events/feed.ts). */
  feed_seq: ColumnType<number | null, never, number | null>;
}

/** Per coin: the daemon's last reported state (backendstatus events fire on changes only). */
export interface BackendStatusTable {
  coin: string;
  status: "up" | "unreachable" | "stuck";
  /** When the status last changed. */
  changed_at: Millis;
  tip_hash: string | null;
  tip_height: number | null;
  tip_changed_at: Millis | null;
  updated_at: Millis;
}

/** One row (id 1): the last feed_seq handed out. */
export interface EventFeedTable {
  id: number;
  last_seq: number;
}

export type DeliveryState = "pending" | "delivered" | "dead";

export interface DeliveryTable {
  id: Generated<number>;
  event_row_id: number;
  handler: string;
  ordering_key: string;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: Millis;
  claimed_by: string | null;
  claimed_until: Millis | null;
  last_error: string | null;
  last_status: number | null;
  delivered_at: Millis | null;
  created_at: Millis;
}

export interface DeliveryAttemptTable {
  id: Generated<number>;
  delivery_id: number;
  attempted_at: Millis;
  outcome: "delivered" | "failed";
  http_status: number | null;
  exit_code: number | null;
  error: string | null;
  duration_ms: number;
}

/** One row: this database's identity, in every broadcast's comment (migration 0005). */
export interface LedgerIdentityTable {
  ledger_id: string;
  created_at: Millis;
}

export interface Schema {
  ca_ledger: LedgerIdentityTable;
  ca_wallet: WalletTable;
  ca_account: AccountTable;
  ca_address: AddressTable;
  ca_hot_wallet: HotWalletTable;
  ca_network_transaction: NetworkTransactionTable;
  ca_transaction: TransactionTable;
  ca_chain_state: ChainStateTable;
  ca_event: EventTable;
  ca_event_feed: EventFeedTable;
  ca_backend_status: BackendStatusTable;
  ca_delivery: DeliveryTable;
  ca_delivery_attempt: DeliveryAttemptTable;
}
