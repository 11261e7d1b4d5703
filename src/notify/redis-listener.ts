/**
 * walletnotify / blocknotify through Redis pub/sub:
 * `walletnotify=redis-cli publish bitcoind_walletnotify_pubsub %s` (the original's channel,
 * the default). The message is the value.
 *
 * node-redis reconnects by itself when the connection drops (Redis restart, CLIENT KILL,
 * network blip) using our backoff, and re-issues SUBSCRIBE for us once it is ready again.
 * Messages published while we are disconnected are lost (pub/sub does not queue); the
 * periodic full re-check and the start-up scan repair that.
 */
import { errorMessage, NotifyConfigError, NotifyListenerStartError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { deliverRawNotifyValue } from "./deliver.js";
import type { NotifyCallback, NotifyListener } from "./listener.js";

export interface RedisNotifyOptions {
  host?: string;
  port?: number;
  /** Redis 6 ACL user (with password); default the "default" user. */
  username?: string;
  password?: string;
  db?: number;
  channel?: string;
  /** How long start() waits for the first connection + SUBSCRIBE; default 10 s. */
  startTimeoutMs?: number;
  /** Cap of the exponential reconnect backoff; default 5 s. */
  maxReconnectDelayMs?: number;
}

export const DEFAULT_REDIS_NOTIFY_CHANNEL = "bitcoind_walletnotify_pubsub";
const MAX_MESSAGE_CHARS = 1024;

interface ClientSettings {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  db: number;
  name: string;
  connectTimeoutMs: number;
  maxReconnectDelayMs: number;
}

/** node-redis is imported by start(): a service without Redis never loads it. */
async function newClient(settings: ClientSettings) {
  const { createClient } = await import("redis");
  return createClient({
    socket: {
      host: settings.host,
      port: settings.port,
      connectTimeout: settings.connectTimeoutMs,
      // 100 ms, 200 ms, 400 ms … capped: quick after a blip, gentle during an outage.
      reconnectStrategy: (retries) =>
        Math.min(100 * 2 ** Math.min(retries, 16), settings.maxReconnectDelayMs),
    },
    ...(settings.username === undefined ? {} : { username: settings.username }),
    ...(settings.password === undefined ? {} : { password: settings.password }),
    database: settings.db,
    name: settings.name,
  });
}

type Client = Awaited<ReturnType<typeof newClient>>;

export class RedisNotifyListener implements NotifyListener {
  readonly kind = "redis";
  readonly #host: string;
  readonly #port: number;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  readonly #db: number;
  readonly #channel: string;
  readonly #startTimeoutMs: number;
  readonly #maxReconnectDelayMs: number;
  readonly #onValue: NotifyCallback;
  readonly #logger: Logger;
  #client: Client | undefined;
  #lastError: string | undefined;

  constructor(options: RedisNotifyOptions, onValue: NotifyCallback, logger: Logger = silentLogger) {
    this.#host = options.host ?? "127.0.0.1";
    this.#port = options.port ?? 6379;
    this.#username = options.username;
    this.#password = options.password;
    this.#db = options.db ?? 0;
    this.#channel = options.channel ?? DEFAULT_REDIS_NOTIFY_CHANNEL;
    this.#startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.#maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5_000;
    if (!Number.isInteger(this.#port) || this.#port < 1 || this.#port > 65535) {
      throw new NotifyConfigError(
        `redis notify listener: port must be an integer 1..65535, got ${this.#port}`,
      );
    }
    if (!Number.isInteger(this.#db) || this.#db < 0) {
      throw new NotifyConfigError(
        `redis notify listener: db must be a non-negative integer, got ${this.#db}`,
      );
    }
    if (this.#channel.length === 0) {
      throw new NotifyConfigError("redis notify listener: channel must not be empty");
    }
    this.#onValue = onValue;
    this.#logger = logger.child({ module: "notify.redis" });
  }

  /** Name the subscriber gives itself (CLIENT SETNAME), to find it in CLIENT LIST. */
  get clientName(): string {
    return `cryptoassets-notify:${this.#channel}`.replace(/[^A-Za-z0-9_:.-]/g, "_");
  }

  describe(): string {
    return `redis://${this.#host}:${this.#port}/${this.#db} channel ${this.#channel}`;
  }

  async start(): Promise<void> {
    if (this.#client !== undefined) {
      throw new NotifyConfigError(`redis notify listener ${this.describe()} is already started`);
    }
    const client = await newClient({
      host: this.#host,
      port: this.#port,
      username: this.#username,
      password: this.#password,
      db: this.#db,
      name: this.clientName,
      connectTimeoutMs: Math.min(this.#startTimeoutMs, 5_000),
      maxReconnectDelayMs: this.#maxReconnectDelayMs,
    });
    this.#watch(client);
    this.#client = client;

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new NotifyListenerStartError(
              `redis notify listener could not subscribe at ${this.describe()} within ${this.#startTimeoutMs} ms` +
                (this.#lastError === undefined ? "" : `: ${this.#lastError}`),
            ),
          ),
        this.#startTimeoutMs,
      );
    });
    try {
      await Promise.race([
        (async () => {
          await client.connect();
          await client.subscribe(this.#channel, (message) => this.#handleMessage(message));
        })(),
        timeout,
      ]);
    } catch (err) {
      this.#client = undefined;
      client.destroy();
      if (err instanceof NotifyListenerStartError) throw err;
      throw new NotifyListenerStartError(
        `redis notify listener could not subscribe at ${this.describe()}: ${errorMessage(err)}`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
    this.#logger.info({ redis: this.describe() }, "listening for notifications on Redis");
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    this.#client = undefined;
    if (client.isReady) {
      // Graceful: lets queued commands finish before the socket closes.
      await client.close().catch(() => client.destroy());
    } else {
      // Mid-reconnect there is nothing to flush; stop the retry loop at once.
      client.destroy();
    }
    this.#logger.info({ redis: this.describe() }, "stopped listening on Redis");
  }

  #watch(client: Client): void {
    // An 'error' listener is mandatory: without one an EventEmitter error crashes the process.
    client.on("error", (err: unknown) => {
      const message = errorMessage(err);
      if (message !== this.#lastError) {
        this.#logger.warn({ redis: this.describe(), err }, "Redis notify connection error");
      }
      this.#lastError = message;
    });
    client.on("reconnecting", () => this.#logger.info({ redis: this.describe() }, "reconnecting to Redis"));
    client.on("ready", () => {
      this.#lastError = undefined;
      this.#logger.info({ redis: this.describe() }, "connected to Redis");
    });
    client.on("end", () => this.#logger.info({ redis: this.describe() }, "Redis connection closed"));
  }

  #handleMessage(message: string): void {
    if (message.length > MAX_MESSAGE_CHARS) {
      this.#logger.warn({ chars: message.length }, "skipped an over-long Redis notify message");
      return;
    }
    deliverRawNotifyValue(this.#onValue, message, this.#logger, "skipped an invalid Redis notify message");
  }
}
