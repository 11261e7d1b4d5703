/**
 * `redis-stream`: each event is appended to a Redis stream with `XADD <stream> [MAXLEN ~ n] *`
 * and the fields `event_id`, `event_name`, `data` (JSON text) and `created_at`. The delivery
 * counts once Redis answered with the entry id. Consumers read with a consumer group
 * (XREADGROUP/XACK) and dedupe on `event_id` (at-least-once: an attempt that timed out may
 * have been appended).
 *
 * Durability is Redis's: with `appendonly yes` and `appendfsync always` an acknowledged entry
 * survives a crash; with the defaults up to a second of entries can be lost in one.
 */
import type { ErrorReply } from "redis";
import type { CryptoassetsEvent } from "../types.js";
import { BrokerEventHandler, type BrokerHandlerOptions } from "./broker-connection.js";

export interface RedisStreamEventHandlerOptions extends BrokerHandlerOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** The stream's key. */
  stream: string;
  /** Trim the stream to about this many entries (`MAXLEN ~`); default: never trimmed. */
  maxlen?: number;
}

/** node-redis is imported by the first connection: a service without Redis never loads it. */
async function newClient(url: string, name: string, timeoutMs: number) {
  const { createClient } = await import("redis");
  return createClient({
    url,
    name,
    // No reconnecting and no offline queue: a command on a broken connection fails at once
    // (a failed attempt, retried by the dispatcher) and the next delivery connects again.
    socket: { connectTimeout: timeoutMs, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
}
type Client = Awaited<ReturnType<typeof newClient>>;

export class RedisStreamEventHandler extends BrokerEventHandler<Client> {
  readonly kind = "redis-stream" as const;
  readonly #url: string;
  readonly #stream: string;
  readonly #maxlen: number | undefined;
  /** node-redis's class of error replies, known once a connection was opened. */
  #errorReply: typeof ErrorReply | undefined;

  constructor(name: string, options: RedisStreamEventHandlerOptions) {
    super(name, options, "events.redis-stream");
    this.#url = options.url;
    this.#stream = options.stream;
    this.#maxlen = options.maxlen;
  }

  protected async open(): Promise<Client> {
    const client = await newClient(this.#url, `cryptoassets-${this.name}`, this.timeoutMs);
    this.#errorReply ??= (await import("redis")).ErrorReply;
    client.on("error", (error: unknown) => {
      this.logger.warn(
        { err: this.loggable(error), url: this.shownUrl },
        "Redis connection failed; reconnecting at the next delivery",
      );
      this.connection.discard(client);
    });
    try {
      await client.connect();
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  }

  protected async shut(client: Client): Promise<void> {
    if (client.isOpen) await client.close().catch(() => client.destroy());
  }

  protected describe(): string {
    return `XADD to ${this.#stream} on ${this.shownUrl}`;
  }

  /** Redis answered with an error (a key of another type, …): the connection itself is fine. */
  protected override keepsConnection(error: unknown): boolean {
    return this.#errorReply !== undefined && error instanceof this.#errorReply;
  }

  protected async publish(client: Client, event: CryptoassetsEvent): Promise<string> {
    const entryId = await client.xAdd(
      this.#stream,
      "*",
      {
        event_id: event.event_id,
        event_name: event.event_name,
        data: JSON.stringify(event.data),
        created_at: event.created_at,
      },
      this.#maxlen === undefined
        ? undefined
        : { TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: this.#maxlen } },
    );
    return `stream entry ${entryId}`;
  }
}
