/**
 * Prometheus metrics of one helper service, on its own Registry (never prom-client's global
 * one: an application embedding the service keeps its own metrics apart, and two services
 * in one process — tests, the demo — do not collide).
 *
 * Counters are incremented where things happen; the gauges that describe state (open
 * network transactions, chain tip) are read at scrape time from the providers given.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface MetricsProviders {
  /** Events written to the outbox so far by this process. */
  eventsCreated(): number;
  /** Open (tracked) network transactions per coin; read from the database at scrape time. */
  openTransactions(): Promise<Map<string, number>>;
  /** Known chain tip height per coin. */
  tipHeights(): Map<string, number>;
}

export type NotificationKind = "walletnotify" | "blocknotify";
export type DeliveryOutcomeLabel = "delivered" | "retry" | "dead";

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly notifications: Counter<"coin" | "kind">;
  private readonly ledgerUpdates: Counter<"coin">;
  private readonly eventsCreated: Counter;
  private readonly deliveries: Counter<"handler" | "outcome">;
  private readonly latency: Histogram<"handler">;
  private readonly rpcCalls: Counter<"coin" | "method">;
  private readonly rpcErrors: Counter<"coin" | "method">;
  private providers: MetricsProviders | undefined;
  private eventsCreatedSeen = 0;

  constructor() {
    const registers = [this.registry];
    this.notifications = new Counter({
      name: "cryptoassets_notifications_received_total",
      help: "walletnotify / blocknotify values received from the daemon",
      labelNames: ["coin", "kind"],
      registers,
    });
    this.ledgerUpdates = new Counter({
      name: "cryptoassets_ledger_updates_total",
      help: "Committed chain-follower transactions that changed the ledger (and wrote events)",
      labelNames: ["coin"],
      registers,
    });
    const metrics = this;
    this.eventsCreated = new Counter({
      name: "cryptoassets_events_created_total",
      help: "Events written to the outbox by this process",
      registers,
      collect() {
        const total = metrics.providers?.eventsCreated() ?? 0;
        if (total > metrics.eventsCreatedSeen) this.inc(total - metrics.eventsCreatedSeen);
        metrics.eventsCreatedSeen = Math.max(total, metrics.eventsCreatedSeen);
      },
    });
    this.deliveries = new Counter({
      name: "cryptoassets_event_deliveries_total",
      help: "Delivery attempts per handler: delivered, failed and retried later (retry), failed for the last time (dead)",
      labelNames: ["handler", "outcome"],
      registers,
    });
    this.latency = new Histogram({
      name: "cryptoassets_event_delivery_latency_seconds",
      help: "From the event's commit to its successful delivery",
      labelNames: ["handler"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600],
      registers,
    });
    this.rpcCalls = new Counter({
      name: "cryptoassets_rpc_calls_total",
      help: "Backend (daemon JSON-RPC) calls per coin and method",
      labelNames: ["coin", "method"],
      registers,
    });
    this.rpcErrors = new Counter({
      name: "cryptoassets_rpc_errors_total",
      help: "Backend calls that failed, per coin and method",
      labelNames: ["coin", "method"],
      registers,
    });
    new Gauge({
      name: "cryptoassets_open_network_transactions",
      help: "Network transactions still tracked (confirmations below max_confirmation_count)",
      labelNames: ["coin"],
      registers,
      async collect() {
        const counts = (await metrics.providers?.openTransactions()) ?? new Map<string, number>();
        this.reset();
        for (const [coin, count] of counts) this.set({ coin }, count);
      },
    });
    new Gauge({
      name: "cryptoassets_chain_tip_height",
      help: "Height of the best block the service knows of",
      labelNames: ["coin"],
      registers,
      collect() {
        this.reset();
        for (const [coin, height] of metrics.providers?.tipHeights() ?? []) this.set({ coin }, height);
      },
    });
  }

  setProviders(providers: MetricsProviders): void {
    this.providers = providers;
  }

  notificationReceived(coin: string, kind: NotificationKind): void {
    this.notifications.inc({ coin, kind });
  }

  ledgerUpdated(coin: string): void {
    this.ledgerUpdates.inc({ coin });
  }

  deliveryOutcome(handler: string, outcome: DeliveryOutcomeLabel, latencySeconds?: number): void {
    this.deliveries.inc({ handler, outcome });
    if (outcome === "delivered" && latencySeconds !== undefined && latencySeconds >= 0) {
      this.latency.observe({ handler }, latencySeconds);
    }
  }

  rpcCall(coin: string, method: string, ok: boolean): void {
    this.rpcCalls.inc({ coin, method });
    if (!ok) this.rpcErrors.inc({ coin, method });
  }

  /** The exposition text for GET /metrics. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
