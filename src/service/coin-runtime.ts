/**
 * The one composition of everything that follows one coin, built from its configuration:
 * backend, ledger, chain lock, transaction updater, block tracker, re-check, poll,
 * broadcaster, and — while the chain duty runs — a chain follower with its
 * walletnotify/blocknotify listeners. The helper service (./coin-service.ts) runs its two
 * duties through startChain()/stopChain() and startBroadcaster()/stopBroadcaster();
 * `scan-received` only scans with it; the chain tests start() it. Nothing is started (no
 * socket, no timer) until then.
 */
import type { Backend } from "../backends/backend.js";
import { BitcoindBackend } from "../backends/bitcoind/backend.js";
import { NullBackend } from "../backends/null.js";
import { Broadcaster } from "../broadcast/broadcaster.js";
import { ChainFollower, type ConfirmationStrategy } from "../chain/follower.js";
import { ChainLock } from "../chain/lock.js";
import { NetworkCheck } from "../chain/network.js";
import { OpenTransactionRechecker } from "../chain/recheck.js";
import { type ScanProgress, type ScanResult, scanReceived } from "../chain/scan.js";
import type { TxUpdateSink } from "../chain/sink.js";
import { BlockConfirmationTracker } from "../chain/tracker.js";
import { TransactionUpdater } from "../chain/updater.js";
import { parseAmount } from "../coins/amount.js";
import type { NetworkName } from "../coins/registry.js";
import { SERVICE_DEFAULTS } from "../config/defaults.js";
import type { NotifyConfig } from "../config/schema.js";
import type { Database } from "../db/open.js";
import { Ledger } from "../ledger/ledger.js";
import { type Logger, silentLogger } from "../log.js";
import { createNotifyListener } from "../notify/create-listener.js";
import type { NotifyListener } from "../notify/listener.js";
import { maskUrl } from "../redact/url.js";

/** `coins.<name>.backend` (canonical class names; the config loader maps the original's aliases). */
export type CoinBackendConfig =
  | {
      class: "bitcoind";
      url: string;
      wallet?: string;
      /** Seconds per RPC call (default 15). */
      timeout?: number;
      /** MiB: the largest reply read (default 16). */
      max_reply_mb?: number;
      /** listtransactions entries per page of a full scan (default 1000; 0 = unpaged). */
      scan_page_size?: number;
      walletnotify?: NotifyConfig;
      blocknotify?: NotifyConfig;
    }
  | { class: "null"; walletnotify?: NotifyConfig; blocknotify?: NotifyConfig };

/** `coins.<name>`: the keys the chain follower uses. */
export interface CoinConfig {
  backend: CoinBackendConfig;
  /** Unset: taken from the daemon's getblockchaininfo.chain. */
  network?: NetworkName;
  max_confirmation_count?: number;
  credit_threshold?: number;
  wallet_name?: string;
  /** Smallest send, in coin units (decimal string); default per coin. */
  dust_limit?: string;
  /** Seconds between blocks: the unit of stuck_after_blocks (src/chain/backend-status.ts). */
  block_interval?: number;
  /** backendstatus "stuck" after the tip stands still this many block intervals; 0 = never. */
  stuck_after_blocks?: number;
  /** Coin units (decimal string): below this spendable balance the hot wallet is low. */
  hot_wallet_threshold?: string;
}

/** `service`: the periods (seconds) and strategy of chain following and broadcasting. */
export interface ChainServiceConfig {
  broadcast_period?: number;
  confirmation_strategy?: ConfirmationStrategy;
  poll_period?: number;
  recheck_period?: number;
  /** Seconds: the longest delay between retries of failed chain work (default 60). */
  retry_backoff_cap?: number;
  /** Most walletnotify txids committed in one database transaction (1 = none batched). */
  update_batch_size?: number;
}

export interface CoinRuntimeOptions {
  /** Coin acronym (the key under `coins:`), e.g. "btc". */
  name: string;
  coin: CoinConfig;
  service?: ChainServiceConfig;
  database: Database;
  /** The outbox (or anything that writes txupdate events in the caller's transaction). */
  sink: TxUpdateSink;
  logger?: Logger;
  /** Use this backend instead of building one from `coin.backend`. */
  backend?: Backend;
}

export type NotifyRole = "walletnotify" | "blocknotify";

/** Called for every value a listener delivers, before the follower queues it (metrics, status). */
export type NotifyObserver = (role: NotifyRole, value: string) => void;

export function createBackend(
  name: string,
  config: CoinBackendConfig,
  logger: Logger = silentLogger,
): Backend {
  if (config.class === "null") return new NullBackend({ coin: name });
  return new BitcoindBackend({
    url: config.url,
    coin: name,
    wallet: config.wallet,
    timeoutMs: config.timeout === undefined ? undefined : config.timeout * 1000,
    maxReplyBytes: config.max_reply_mb === undefined ? undefined : Math.floor(config.max_reply_mb * 1048576),
    maxReplyConfigKey: `coins.${name}.backend.max_reply_mb`,
    logger,
  });
}

/** How messages name a coin's daemon: its URL with the password masked. */
export function describeDaemon(config: CoinBackendConfig): string {
  return config.class === "bitcoind" ? maskUrl(config.url) : "the null backend";
}

export class CoinRuntime {
  readonly name: string;
  readonly backend: Backend;
  readonly ledger: Ledger;
  /** The configured network checked against the daemon's chain (or taken from it). */
  readonly network: NetworkCheck;
  readonly lock: ChainLock;
  readonly updater: TransactionUpdater;
  readonly tracker: BlockConfirmationTracker;
  /** Batched re-check of open transactions. */
  readonly rechecker: OpenTransactionRechecker;
  /** Per-transaction poll (confirmation_strategy: poll). */
  readonly poller: OpenTransactionRechecker;
  readonly broadcaster: Broadcaster;
  readonly #coin: CoinConfig;
  readonly #service: ChainServiceConfig;
  readonly #logger: Logger;
  #follower: ChainFollower;
  /** The follower was started or stopped: a ChainFollower cannot be restarted, the next run gets a new one. */
  #followerUsed = false;
  #listeners: Array<{ role: NotifyRole; listener: NotifyListener }> = [];

  static async open(options: CoinRuntimeOptions): Promise<CoinRuntime> {
    const logger = (options.logger ?? silentLogger).child({ coin: options.name });
    const backend = options.backend ?? createBackend(options.name, options.coin.backend, logger);
    const ledger = await Ledger.open({
      database: options.database,
      coin: options.name,
      network: options.coin.network ?? null,
      walletName: options.coin.wallet_name,
      creditThreshold: options.coin.credit_threshold,
      maxConfirmations: options.coin.max_confirmation_count,
      dustLimit: options.coin.dust_limit,
      backend,
      logger,
    });
    return new CoinRuntime(options, backend, ledger, logger);
  }

  private constructor(options: CoinRuntimeOptions, backend: Backend, ledger: Ledger, logger: Logger) {
    this.name = options.name;
    this.#coin = options.coin;
    this.#service = options.service ?? {};
    this.#logger = logger;
    this.backend = backend;
    this.ledger = ledger;
    this.network = new NetworkCheck({
      ledger,
      backend,
      configured: options.coin.network,
      daemon: describeDaemon(options.coin.backend),
      logger,
    });
    this.lock = new ChainLock();
    const worker = { ledger, backend, sink: options.sink, lock: this.lock, logger };
    this.updater = new TransactionUpdater({ ...worker, maxBatch: this.#service.update_batch_size });
    this.tracker = new BlockConfirmationTracker({
      ...worker,
      scanPageSize:
        options.coin.backend.class === "bitcoind" ? options.coin.backend.scan_page_size : undefined,
    });
    this.rechecker = new OpenTransactionRechecker({ ...worker, mode: "batched" });
    this.poller = new OpenTransactionRechecker({ ...worker, mode: "per-transaction" });
    const threshold = options.coin.hot_wallet_threshold;
    this.broadcaster = new Broadcaster({
      ...worker,
      network: this.network,
      hotWalletThreshold:
        threshold === undefined
          ? undefined
          : parseAmount(threshold, ledger.coin.decimals, `coins.${this.name}.hot_wallet_threshold`),
    });
    this.#follower = this.#newFollower();
  }

  /** The follower of the current (or last, or next) chain run. */
  get follower(): ChainFollower {
    return this.#follower;
  }

  /** The running walletnotify/blocknotify listeners, by role. */
  get listeners(): ReadonlyArray<{ role: NotifyRole; listener: NotifyListener }> {
    return this.#listeners;
  }

  /** Catch up on every wallet transaction since the last processed block. */
  scan(onProgress?: (progress: ScanProgress) => void): Promise<ScanResult> {
    return scanReceived(this.tracker, { onProgress });
  }

  /**
   * The chain duty: listeners first (a txid notified during the start-up scan is queued,
   * not lost), then the follower's start-up scan and timers. A listener that cannot start
   * undoes what started and throws.
   */
  async startChain(observe?: NotifyObserver): Promise<void> {
    if (this.#followerUsed) this.#follower = this.#newFollower();
    this.#followerUsed = true;
    const follower = this.#follower;
    const forward: Record<NotifyRole, (value: string) => void> = {
      walletnotify: (txid) => follower.walletNotify(txid),
      blocknotify: (hash) => follower.blockNotify(hash),
    };
    try {
      for (const role of ["walletnotify", "blocknotify"] as const) {
        const config = this.#coin.backend[role];
        if (!config) continue;
        const listener = createNotifyListener(
          config,
          (value) => {
            observe?.(role, value);
            forward[role](value);
          },
          this.#logger,
        );
        await listener.start();
        this.#listeners.push({ role, listener });
      }
    } catch (error) {
      await this.stopChain();
      throw error;
    }
    await follower.start();
  }

  /** Closes the listeners and stops the follower; work in flight finishes first. */
  async stopChain(): Promise<void> {
    const listeners = this.#listeners;
    this.#listeners = [];
    await Promise.allSettled(listeners.map(({ listener }) => listener.close()));
    this.#followerUsed = true;
    await this.#follower.stop();
  }

  /** The broadcaster duty: one pass now and one every `service.broadcast_period`. */
  startBroadcaster(): void {
    this.broadcaster.start((this.#service.broadcast_period ?? SERVICE_DEFAULTS.broadcast_period) * 1000);
  }

  /** Stops the broadcaster's timer; a broadcast in progress finishes first. */
  stopBroadcaster(): Promise<void> {
    return this.broadcaster.stop();
  }

  /** Both duties, unconditionally (no leader lock): what a single process without the service runs. */
  async start(): Promise<void> {
    await this.startChain();
    this.startBroadcaster();
  }

  /** Stops both duties; in-flight work finishes first. */
  async stop(): Promise<void> {
    await this.stopChain();
    await this.stopBroadcaster();
  }

  /** stop() and release the backend's connections. */
  async close(): Promise<void> {
    await this.stop();
    await this.backend.close();
  }

  #newFollower(): ChainFollower {
    return new ChainFollower({
      updater: this.updater,
      tracker: this.tracker,
      rechecker: this.rechecker,
      poller: this.poller,
      strategy: this.#service.confirmation_strategy,
      pollPeriodMs: (this.#service.poll_period ?? SERVICE_DEFAULTS.poll_period) * 1000,
      recheckPeriodMs: (this.#service.recheck_period ?? SERVICE_DEFAULTS.recheck_period) * 1000,
      maxRetryDelayMs: (this.#service.retry_backoff_cap ?? SERVICE_DEFAULTS.retry_backoff_cap) * 1000,
      pollTip: this.#coin.backend.blocknotify === undefined,
      logger: this.#logger,
    });
  }
}
