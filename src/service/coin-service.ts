/**
 * One coin inside the helper service: its metered backend and reachability probe, and two
 * singleton duties run through the coin's composition (./coin-runtime.ts):
 *
 * - `<coin>.chain`: the walletnotify/blocknotify listeners, the start-up scan, the block
 *   tracker and the periodic re-check (one ChainFollower);
 * - `<coin>.broadcaster`: the pending-sends broadcaster.
 *
 * Each duty runs only while this instance holds its leader lock; every acquisition starts a
 * fresh follower and fresh listeners over the same updater/tracker/re-checker.
 */

import type { ChainTip } from "../backends/backend.js";
import {
  BackendStatusMonitor,
  blockIntervalSeconds,
  DEFAULT_STUCK_AFTER_BLOCKS,
} from "../chain/backend-status.js";
import { formatAmount } from "../coins/amount.js";
import type { Database } from "../db/open.js";
import { errorMessage } from "../errors.js";
import type { EventSink } from "../events/outbox/outbox.js";
import { reconciliationView } from "../ledger/reconcile.js";
import type { Logger } from "../log.js";
import { BackendProbe } from "./backend-probe.js";
import type { CoinConfig, CoinRuntime } from "./coin-runtime.js";
import type { LeaderLockFactory } from "./leadership.js";
import type { MeteredBackend } from "./metered-backend.js";
import type { ServiceMetrics } from "./metrics.js";
import { SingletonDuty } from "./singleton-duty.js";
import type { CoinStatus } from "./status.js";
import type { SubsystemRegistry } from "./subsystems.js";

/** How often the dashboard's reconciliation asks the daemon (getbalances), at most. */
const RECONCILE_EVERY_MS = 10_000;

export interface CoinServiceOptions {
  name: string;
  coin: CoinConfig;
  runtime: CoinRuntime;
  backend: MeteredBackend;
  backendUrl: string;
  locks: LeaderLockFactory;
  subsystems: SubsystemRegistry;
  metrics: ServiceMetrics;
  logger: Logger;
  leaderRetryMs?: number;
  onFailure: (subsystem: string, error: unknown) => void;
  /** Where backendstatus events go (the outbox), and the state they change. */
  events: EventSink;
  database: Database;
}

export class CoinService {
  readonly name: string;
  readonly runtime: CoinRuntime;
  readonly backend: MeteredBackend;
  private readonly probe: BackendProbe;
  private readonly backendStatus: BackendStatusMonitor;
  private readonly chainDuty: SingletonDuty;
  private readonly broadcasterDuty: SingletonDuty;
  private lastWalletNotify: { txid: string; at: number } | null = null;
  private lastBlock: { hash: string; at: number } | null = null;
  private networkFailed = false;
  private reconciled: { at: number; view: CoinStatus["reconciliation"] } | undefined;

  constructor(private readonly options: CoinServiceOptions) {
    this.name = options.name;
    this.runtime = options.runtime;
    this.backend = options.backend;
    const walletName = options.coin.wallet_name ?? "default";
    this.backendStatus = new BackendStatusMonitor({
      coin: this.name,
      database: options.database,
      events: options.events,
      stuckAfterMs: (tip) => this.stuckAfterMs(tip),
      logger: options.logger,
    });
    const stuckAfterMs = this.stuckAfterMs();
    this.probe = new BackendProbe({
      name: `${this.name}.backend`,
      backend: options.backend,
      subsystems: options.subsystems,
      logger: options.logger,
      // Often enough to see a stuck tip within a quarter of the limit.
      healthyEveryMs: stuckAfterMs > 0 ? Math.min(15_000, Math.max(250, stuckAfterMs / 4)) : undefined,
      onResult: (observation) => {
        // One reporter per coin: the chain follower's leader (several instances share one outbox).
        if (!this.chainDuty.isLeader) return;
        this.backendStatus.observe(observation).catch((error: unknown) => {
          options.logger.warn(
            { err: error, coin: this.name },
            "could not record the daemon's status; next probe retries",
          );
        });
      },
      onTip: (tip) => {
        this.checkNetwork(tip);
        // The daemon answers: chain work backing off after an outage catches up now.
        this.runtime.follower.daemonReachable();
      },
    });
    this.chainDuty = new SingletonDuty({
      name: `${this.name}.chain`,
      lock: options.locks.create(`chain:${this.name}:${walletName}`),
      duty: { start: () => this.startChain(), stop: () => this.runtime.stopChain() },
      subsystems: options.subsystems,
      retryMs: options.leaderRetryMs,
      logger: options.logger,
      onFailure: (error) => options.onFailure(`${this.name}.chain`, error),
    });
    this.broadcasterDuty = new SingletonDuty({
      name: `${this.name}.broadcaster`,
      lock: options.locks.create(`broadcast:${this.name}:${walletName}`),
      duty: {
        start: async () => this.runtime.startBroadcaster(),
        stop: () => this.runtime.stopBroadcaster(),
      },
      subsystems: options.subsystems,
      retryMs: options.leaderRetryMs,
      logger: options.logger,
      onFailure: (error) => options.onFailure(`${this.name}.broadcaster`, error),
    });
  }

  async start(): Promise<void> {
    // Not awaited: a daemon that does not answer (a black-holed host waits for the RPC
    // timeout) must not hold up the rest of the service.
    void this.probe.start();
    await this.chainDuty.start();
    await this.broadcasterDuty.start();
  }

  async stop(): Promise<void> {
    this.probe.stop();
    await Promise.all([this.chainDuty.stop(), this.broadcasterDuty.stop()]);
  }

  /** How long a still tip may stand before the daemon counts as stuck (0 = never; regtest by default). */
  private stuckAfterMs(tip?: ChainTip): number {
    const { coin } = this.options;
    const regtest = (coin.network ?? (tip?.chain === "regtest" ? "regtest" : undefined)) === "regtest";
    const blocks = coin.stuck_after_blocks ?? (regtest ? 0 : DEFAULT_STUCK_AFTER_BLOCKS);
    const interval = coin.block_interval ?? blockIntervalSeconds(this.name);
    return blocks * interval * 1000;
  }

  /** The daemon runs another chain than configured: the service stops (exit 2) naming both. */
  private checkNetwork(tip: ChainTip): void {
    if (this.networkFailed) return;
    try {
      this.runtime.network.observe(tip);
    } catch (error) {
      this.networkFailed = true;
      this.options.onFailure(`${this.name}.network`, error);
    }
  }

  get isChainLeader(): boolean {
    return this.chainDuty.isLeader;
  }

  /** Resolves when the chain follower has no work queued or running (tests, the demo). */
  async idle(): Promise<void> {
    await this.runtime.follower.idle();
  }

  private startChain(): Promise<void> {
    const { metrics } = this.options;
    return this.runtime.startChain((role, value) => {
      metrics.notificationReceived(this.name, role);
      if (role === "walletnotify") this.lastWalletNotify = { txid: value, at: Date.now() };
      else this.lastBlock = { hash: value, at: Date.now() };
    });
  }

  /** Reflects the follower's own failures on the status page (it retries by itself). */
  refreshSubsystems(subsystems: SubsystemRegistry): void {
    this.refreshHotWallet(subsystems);
    const name = `${this.name}.chain`;
    const entry = subsystems.get(name);
    if (!this.chainDuty.isLeader || !entry) return;
    const status = this.runtime.follower.status();
    if (status.consecutiveFailures > 0 && status.lastError) {
      subsystems.set(
        name,
        "degraded",
        `${status.lastError.work} failed: ${status.lastError.message}; retrying`,
      );
    } else if (entry.state === "degraded") {
      subsystems.set(name, "running");
    }
    const backendName = `${this.name}.backend`;
    // A call failed since the probe last succeeded: report it now rather than at the next probe.
    if (this.backend.health.state === "unreachable" && subsystems.get(backendName)?.state === "running") {
      subsystems.set(
        backendName,
        "degraded",
        `${this.backend.health.lastError ?? "daemon unreachable"}; retrying`,
      );
    } else if (
      this.backend.health.state === "reachable" &&
      subsystems.get(backendName)?.state === "degraded"
    ) {
      subsystems.set(backendName, "running");
    }
  }

  /**
   * `<coin>.hotwallet`: degraded while the daemon's wallet cannot pay the pending sends (they
   * wait for a top-up), with the amount missing; running otherwise, below the threshold too
   * (payouts still go out; the hotwalletlow event tells the operator).
   */
  private refreshHotWallet(subsystems: SubsystemRegistry): void {
    const name = `${this.name}.hotwallet`;
    if (!this.broadcasterDuty.isLeader) {
      if (subsystems.get(name)) subsystems.set(name, "standby", "checked by the broadcaster's leader");
      return;
    }
    const hot = this.runtime.broadcaster.hotWallet();
    const coin = this.runtime.ledger.coin;
    const money = (units: bigint) => `${formatAmount(units, coin.decimals)} ${coin.name}`;
    if (hot?.reason === "shortfall") {
      subsystems.set(
        name,
        "degraded",
        `the daemon's wallet cannot pay the pending sends: pending ${money(hot.pending)}, spendable ${money(hot.balance)}, missing ${money(hot.missing)} (plus fees); top it up`,
      );
    } else if (hot?.reason === "threshold" && hot.threshold !== null) {
      subsystems.set(
        name,
        "running",
        `spendable ${money(hot.balance)} is below the threshold ${money(hot.threshold)}; missing ${money(hot.missing)}`,
      );
    } else if (hot) {
      subsystems.set(name, "running", `spendable ${money(hot.balance)}`);
    } else if (subsystems.get(name)?.state === "degraded") {
      subsystems.set(name, "running");
    }
  }

  /** Where the running listeners listen (`http://127.0.0.1:28882`, `pipe:/path`…), by role. */
  listenerAddresses(): Array<{ role: "walletnotify" | "blocknotify"; address: string }> {
    return this.runtime.listeners.map(({ role, listener }) => ({ role, address: listener.describe() }));
  }

  tipHeight(): number | undefined {
    return this.tip()?.height;
  }

  private tip(): { height: number; hash: string } | undefined {
    const fromTracker = this.runtime.follower.status().lastTip;
    const fromProbe = this.backend.lastTip;
    if (fromTracker && fromProbe) return fromTracker.height >= fromProbe.height ? fromTracker : fromProbe;
    return fromTracker ?? fromProbe;
  }

  /**
   * The hot wallet beside the ledger, for the dashboard: asked of the daemon at most every
   * RECONCILE_EVERY_MS however often the page refreshes; an unreachable daemon is shown as
   * its error.
   */
  async reconciliation(): Promise<CoinStatus["reconciliation"]> {
    const now = Date.now();
    if (this.reconciled && now - this.reconciled.at < RECONCILE_EVERY_MS) return this.reconciled.view;
    let view: CoinStatus["reconciliation"];
    try {
      view = reconciliationView(await this.runtime.ledger.reconcile(), this.runtime.ledger.coin.decimals);
    } catch (error) {
      view = { error: errorMessage(error) };
    }
    this.reconciled = { at: now, view };
    return view;
  }

  status(): Omit<CoinStatus, "reconciliation"> {
    const tip = this.tip();
    // Without blocknotify the tip is polled: record when we first saw each new tip.
    if (tip && this.lastBlock?.hash !== tip.hash && !this.options.coin.backend.blocknotify) {
      this.lastBlock = { hash: tip.hash, at: Date.now() };
    }
    return {
      coin: this.name,
      wallet: this.options.coin.wallet_name ?? "default",
      backend_url: this.options.backendUrl,
      backend: { ...this.backend.health },
      follower_leader: this.chainDuty.isLeader,
      broadcaster_leader: this.broadcasterDuty.isLeader,
      tip: tip ? { height: tip.height, hash: tip.hash } : null,
      last_walletnotify: this.lastWalletNotify,
      last_block: this.lastBlock,
    };
  }
}
