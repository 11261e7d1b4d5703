/**
 * The service's defaults, written once, in the units of the configuration file (seconds,
 * days). The schema applies them to what a file leaves out; the runtime falls back to the
 * same values when code passes a plain object without them.
 */
export const SERVICE_DEFAULTS = {
  /** Seconds between broadcasts of pending sends. */
  broadcast_period: 30,
  /** Seconds between tip polls without blocknotify, and between polls of the poll strategy. */
  poll_period: 10,
  /** Seconds between full re-checks of open transactions (0 disables them). */
  recheck_period: 600,
  /** Seconds: a failed chain run is retried after poll_period, doubling up to this. */
  retry_backoff_cap: 60,
  /** Seconds to finish in-flight work on SIGTERM. */
  shutdown_grace_period: 10,
  /**
   * Most walletnotify txids committed in one database transaction (group commit; 1 = each
   * alone). A batch takes whatever waits, up to this: under a backlog the statements per
   * deposit fall (a batch's writes are set-based), at the price of a longer transaction.
   * Bounds a transaction's length and what a serialization retry redoes.
   */
  update_batch_size: 256,
} as const;

export const DISPATCHER_DEFAULTS = {
  /** Concurrent deliveries per handler. */
  concurrency: 8,
  /** Delivered events older than this many days are purged. */
  retention_days: 30,
  /** Seconds between safety polls of the outbox. */
  poll_interval: 5,
} as const;

/**
 * Seconds an event handler's delivery may take before it counts as a failed attempt, per
 * class (the broker classes share one: redis-stream, amqp, nats).
 */
export const HANDLER_TIMEOUTS = {
  http: 10,
  script: 60,
  /** In-process and in-code function handlers: the promise is abandoned, not cancelled. */
  function: 60,
  broker: 10,
} as const;
