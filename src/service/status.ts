/**
 * The status snapshot: what /status.json returns and the dashboard renders. Built from the
 * in-memory state of the service plus a few bounded read queries. It contains no secret:
 * URLs are masked where they are recorded, and tokens/passwords are never put here.
 */
import type { Database } from "../db/open.js";
import type { EventRow, HandlerQueueCounts, ProblemDeliveryRow } from "../events/outbox/queries.js";
import type { ReconciliationView } from "../ledger/reconcile.js";
import type { BackendHealth } from "./metered-backend.js";
import type { InterruptedBroadcastRow, OpenTransactionRow } from "./status-queries.js";
import type { SubsystemStatus } from "./subsystems.js";

export interface CoinStatus {
  coin: string;
  wallet: string;
  /** Masked daemon URL. */
  backend_url: string;
  backend: BackendHealth;
  /** This instance holds the chain follower lock of the coin. */
  follower_leader: boolean;
  broadcaster_leader: boolean;
  tip: { height: number; hash: string } | null;
  last_walletnotify: { txid: string; at: number } | null;
  last_block: { hash: string; at: number } | null;
  /** The daemon's wallet (hot wallet) beside what the ledger owes; `error` when the daemon could not be asked. */
  reconciliation: ReconciliationView | { error: string } | null;
}

export interface ServiceInfo {
  instance_id: string;
  version: string;
  pid: number;
  started_at: number;
  uptime_seconds: number;
  state: "starting" | "running" | "stopping" | "stopped";
  database: { engine: string; url: string };
  /** "postgres-advisory" when several instances may share the database, else "single-instance". */
  leadership: string;
  admin_actions: boolean;
}

export interface StatusSnapshot {
  generated_at: number;
  service: ServiceInfo;
  health: { ok: boolean; problems: string[] };
  subsystems: SubsystemStatus[];
  coins: CoinStatus[];
  open_transactions: OpenTransactionRow[];
  interrupted_broadcasts: InterruptedBroadcastRow[];
  events: {
    created_by_this_process: number;
    /** `failing` is the former name of `failed`, kept in /status.json for its readers. */
    handlers: Array<HandlerQueueCounts & { failing: number }>;
    /** When `handlers[].delivered` was counted: it is recounted only now and then (service/delivered-counts.ts). */
    delivered_counted_at: number;
    recent: EventRow[];
    failed: ProblemDeliveryRow[];
    /** The same list as `failed`, under its former name. */
    failing: ProblemDeliveryRow[];
    dead: ProblemDeliveryRow[];
  };
}

/** What the status server needs from the service. */
export interface StatusSource {
  snapshot(): Promise<StatusSnapshot>;
  health(): { ok: boolean; problems: string[] };
  metricsText(): Promise<string>;
  readonly metricsContentType: string;
  redeliverEvent(eventId: string): Promise<number>;
  redeliverDead(): Promise<number>;
  /** Wakes GET /events long polls when this process commits events; returns an unsubscribe. */
  onEventsCommitted?(listener: () => void): () => void;
  /** For the read-only table pages (./status-tables.ts). */
  readonly database: Database;
}
