/**
 * The part of the parsed configuration (src/config) the helper service reads, as a
 * structural type: the full `CryptoassetsConfig` is assignable to it, and tests or
 * embedding applications can pass a plain object with just these keys.
 */
import type { DatabaseSettings } from "../db/open.js";
import type { EventHandlerConfig } from "../events/handlers/factory.js";
import type { ChainServiceConfig, CoinConfig } from "./coin-runtime.js";

export interface StatusServerConfig {
  ip?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Enables POST /events/… admin actions (Bearer token). */
  admin_token?: string;
  /** Host header names answered besides loopback and the bound address. */
  allowed_hosts?: readonly string[];
  /** Enables GET /events, the pull feed (Bearer token; the admin token works too). */
  read_token?: string;
  /** false: no status server at all. */
  enabled?: boolean;
}

export interface DispatcherConfig {
  concurrency?: number;
  /** Seconds between attempts. */
  retry_schedule?: readonly number[];
  /** Seconds; the safety poll when no wake-up arrives. */
  poll_interval?: number;
  /** Delivered events older than this many days are purged (default 30). */
  retention_days?: number;
}

export interface HelperServiceSettings extends ChainServiceConfig {
  /** Seconds the service may take to stop on SIGTERM/SIGINT (default 10). */
  shutdown_grace_period?: number;
  dispatcher?: DispatcherConfig;
}

export interface HelperServiceConfig {
  database: DatabaseSettings;
  coins: Record<string, CoinConfig>;
  events?: Record<string, EventHandlerConfig>;
  "status-server"?: StatusServerConfig;
  service?: HelperServiceSettings;
}
