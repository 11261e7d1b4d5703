/**
 * Everything that follows one coin, built from its configuration: backend, ledger, chain
 * lock, transaction updater, block tracker, re-check, poll, broadcaster, follower and the
 * walletnotify/blocknotify listeners. The helper service starts it; `scan-received` only
 * scans with it. Nothing is started (no socket, no timer) until start().
 */
import type { Backend } from "../backends/backend.js";
import { BitcoindBackend } from "../backends/bitcoind/backend.js";
import { NullBackend } from "../backends/null.js";
import { Broadcaster } from "../broadcast/broadcaster.js";
import type { NetworkName } from "../coins/registry.js";
import type { Database } from "../db/open.js";
import { Ledger } from "../ledger/ledger.js";
import { type Logger, silentLogger } from "../log.js";
import type { NotifyListener } from "../notify/listener.js";
import { ChainFollower, type ConfirmationStrategy } from "./follower.js";
import { createNotifyListener, type NotifySpec } from "./listeners.js";
import { ChainLock } from "./lock.js";
import { OpenTransactionRechecker } from "./recheck.js";
import { type ScanProgress, type ScanResult, scanReceived } from "./scan.js";
import type { TxUpdateSink } from "./sink.js";
import { BlockConfirmationTracker } from "./tracker.js";
import { TransactionUpdater } from "./updater.js";

/** `coins.<name>.backend` (canonical class names; the config loader maps the original's aliases). */
export type CoinBackendConfig =
  | {
      class: "bitcoind";
      url: string;
      wallet?: string;
      /** Seconds per RPC call (default 15). */
      timeout?: number;
      walletnotify?: NotifySpec;
      blocknotify?: NotifySpec;
    }
  | { class: "null"; walletnotify?: NotifySpec; blocknotify?: NotifySpec };

/** `coins.<name>`: the keys the chain follower uses. */
export interface CoinConfig {
  backend: CoinBackendConfig;
  network?: NetworkName;
  max_confirmation_count?: number;
  credit_threshold?: number;
  wallet_name?: string;
}

/** `service`: the periods (seconds) and strategy of chain following and broadcasting. */
export interface ChainServiceConfig {
  broadcast_period?: number;
  confirmation_strategy?: ConfirmationStrategy;
  poll_period?: number;
  recheck_period?: number;
  /** Most walletnotify txids committed in one database transaction (default 32; 1 = none batched). */
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

export interface CoinRuntime {
  readonly name: string;
  readonly backend: Backend;
  readonly ledger: Ledger;
  readonly lock: ChainLock;
  readonly updater: TransactionUpdater;
  readonly tracker: BlockConfirmationTracker;
  /** Batched re-check of open transactions. */
  readonly rechecker: OpenTransactionRechecker;
  /** Per-transaction poll (confirmation_strategy: poll). */
  readonly poller: OpenTransactionRechecker;
  readonly broadcaster: Broadcaster;
  readonly follower: ChainFollower;
  /** walletnotify (and blocknotify) listeners, created but not started. */
  readonly listeners: readonly NotifyListener[];
  /** Catch up on every wallet transaction since the last processed block. */
  scan(onProgress?: (progress: ScanProgress) => void): Promise<ScanResult>;
  /** Listeners, start-up scan, follower timers, broadcaster timer. */
  start(): Promise<void>;
  /** Stops listeners, follower and broadcaster; in-flight work finishes first. */
  stop(): Promise<void>;
  /** stop() and release the backend's connections. */
  close(): Promise<void>;
}

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
    logger,
  });
}

export async function createCoinRuntime(options: CoinRuntimeOptions): Promise<CoinRuntime> {
  const logger = (options.logger ?? silentLogger).child({ coin: options.name });
  const service = options.service ?? {};
  const backend = options.backend ?? createBackend(options.name, options.coin.backend, logger);
  const ledger = await Ledger.open({
    database: options.database,
    coin: options.name,
    network: options.coin.network,
    walletName: options.coin.wallet_name,
    creditThreshold: options.coin.credit_threshold,
    maxConfirmations: options.coin.max_confirmation_count,
    backend,
    logger,
  });
  const lock = new ChainLock();
  const worker = { ledger, backend, sink: options.sink, lock, logger };
  const updater = new TransactionUpdater({ ...worker, maxBatch: service.update_batch_size });
  const tracker = new BlockConfirmationTracker(worker);
  const rechecker = new OpenTransactionRechecker({ ...worker, mode: "batched" });
  const poller = new OpenTransactionRechecker({ ...worker, mode: "per-transaction" });
  const broadcaster = new Broadcaster(worker);
  const blocknotify = options.coin.backend.blocknotify;
  const follower = new ChainFollower({
    updater,
    tracker,
    rechecker,
    poller,
    strategy: service.confirmation_strategy,
    pollPeriodMs: (service.poll_period ?? 10) * 1000,
    recheckPeriodMs: (service.recheck_period ?? 600) * 1000,
    pollTip: blocknotify === undefined,
    logger,
  });
  const listeners: NotifyListener[] = [];
  const walletnotify = options.coin.backend.walletnotify;
  if (walletnotify)
    listeners.push(createNotifyListener(walletnotify, (txid) => void follower.walletNotify(txid), logger));
  if (blocknotify)
    listeners.push(createNotifyListener(blocknotify, (hash) => void follower.blockNotify(hash), logger));

  let started: NotifyListener[] = [];
  const stop = async () => {
    await Promise.allSettled(started.map((listener) => listener.close()));
    started = [];
    await follower.stop();
    await broadcaster.stop();
  };
  return {
    name: options.name,
    backend,
    ledger,
    lock,
    updater,
    tracker,
    rechecker,
    poller,
    broadcaster,
    follower,
    listeners,
    scan: (onProgress) => scanReceived(tracker, { onProgress }),
    async start() {
      // Listeners first: a txid notified during the start-up scan is queued, not lost.
      for (const listener of listeners) {
        await listener.start();
        started.push(listener);
      }
      await follower.start();
      broadcaster.start((service.broadcast_period ?? 30) * 1000);
    },
    stop,
    async close() {
      await stop();
      await backend.close();
    },
  };
}
