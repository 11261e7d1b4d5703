/** The one shape every walletnotify / blocknotify transport (HTTP, named pipe, Redis) has. */

/**
 * Receives each valid notification value (lowercase 64-hex txid or block hash).
 * It must return quickly (typically `queue.push(value)`): transports do not wait for the
 * processing, so a returned promise is not awaited (only its rejection is logged).
 */
export type NotifyCallback = (value: string) => void | Promise<void>;

export interface NotifyListener {
  /** "http" | "pipe" | "redis" */
  readonly kind: string;
  /** Begins listening; resolves once notifications can be received. */
  start(): Promise<void>;
  /** Stops listening and releases sockets / file descriptors; safe to call twice. */
  close(): Promise<void>;
  /** Where it listens, for logs and the status page (never includes a password). */
  describe(): string;
}
