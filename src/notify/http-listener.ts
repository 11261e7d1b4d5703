/**
 * walletnotify / blocknotify over HTTP, compatible with the original's
 * `walletnotify=curl --data "txid=%s" http://127.0.0.1:28882`.
 *
 * Accepted requests (all answer `200 OK` as soon as the value is queued, before processing):
 * - `POST /` form body `txid=<hex>` (also `blockhash=<hex>` or `hash=<hex>` for blocknotify);
 * - `POST /` with the bare hex as the whole body (text/plain or no content type);
 * - `POST /` JSON `{"txid": "<hex>"}` (same field names);
 * - `POST /<hex>` or `GET /<hex>`: the value in the path, for tools that cannot send a body.
 * Anything else: 400 with a message naming what is wrong; bodies over `bodyLimit` get 413.
 * `GET /` answers a one-line usage text (handy as a liveness probe).
 */
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import {
  errorMessage,
  InvalidNotifyValueError,
  NotifyConfigError,
  NotifyListenerStartError,
} from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { deliverNotifyValue } from "./deliver.js";
import type { NotifyCallback, NotifyListener } from "./listener.js";
import { normalizeNotifyValue } from "./value.js";

export interface HttpNotifyOptions {
  /** Interface to bind; default 127.0.0.1 (bitcoind runs curl on the same host). */
  ip?: string;
  /** Default 28882, as in the original; 0 picks a free port (read it back with `port`). */
  port?: number;
  /** Largest accepted body in bytes; default 4096 (a form body with a txid is ~70 bytes). */
  bodyLimit?: number;
}

export const DEFAULT_HTTP_NOTIFY_IP = "127.0.0.1";
export const DEFAULT_HTTP_NOTIFY_PORT = 28882;
export const DEFAULT_HTTP_NOTIFY_BODY_LIMIT = 4096;

/** Form / JSON field names that may carry the value, in the order we look for them. */
const VALUE_FIELDS = ["txid", "blockhash", "hash"] as const;

const USAGE =
  'POST a txid or block hash: curl --data "txid=<64 hex>" or a bare hex body, or POST/GET /<64 hex>';

export class HttpNotifyListener implements NotifyListener {
  readonly kind = "http";
  readonly #ip: string;
  readonly #requestedPort: number;
  readonly #bodyLimit: number;
  readonly #onValue: NotifyCallback;
  readonly #logger: Logger;
  #server: FastifyInstance | undefined;
  #boundPort: number | undefined;

  constructor(options: HttpNotifyOptions, onValue: NotifyCallback, logger: Logger = silentLogger) {
    this.#ip = options.ip ?? DEFAULT_HTTP_NOTIFY_IP;
    this.#requestedPort = options.port ?? DEFAULT_HTTP_NOTIFY_PORT;
    this.#bodyLimit = options.bodyLimit ?? DEFAULT_HTTP_NOTIFY_BODY_LIMIT;
    if (!Number.isInteger(this.#requestedPort) || this.#requestedPort < 0 || this.#requestedPort > 65535) {
      throw new NotifyConfigError(
        `http notify listener: port must be an integer 0..65535, got ${this.#requestedPort}`,
      );
    }
    if (!Number.isInteger(this.#bodyLimit) || this.#bodyLimit < 128) {
      throw new NotifyConfigError(
        `http notify listener: bodyLimit must be an integer >= 128, got ${this.#bodyLimit}`,
      );
    }
    this.#onValue = onValue;
    this.#logger = logger.child({ module: "notify.http" });
  }

  /** The port actually bound (differs from the option when it was 0). Throws before start(). */
  get port(): number {
    if (this.#boundPort === undefined) {
      throw new NotifyConfigError("http notify listener: port is known only after start()");
    }
    return this.#boundPort;
  }

  describe(): string {
    return `http://${this.#ip}:${this.#boundPort ?? this.#requestedPort}`;
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) {
      throw new NotifyConfigError(`http notify listener ${this.describe()} is already started`);
    }
    const server = await this.#buildServer();
    try {
      await server.listen({ host: this.#ip, port: this.#requestedPort });
    } catch (err) {
      await server.close().catch(() => undefined);
      throw new NotifyListenerStartError(
        `http notify listener could not listen on ${this.#ip}:${this.#requestedPort}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    const address = server.server.address();
    this.#boundPort = typeof address === "object" && address !== null ? address.port : this.#requestedPort;
    this.#server = server;
    this.#logger.info({ url: this.describe() }, "listening for notifications over HTTP");
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    await server.close();
    this.#logger.info({ url: this.describe() }, "stopped listening for notifications over HTTP");
  }

  async #buildServer(): Promise<FastifyInstance> {
    // Imported here: a service whose notifications come another way never loads fastify.
    const { default: Fastify } = await import("fastify");
    const server = Fastify({
      logger: false,
      bodyLimit: this.#bodyLimit,
      // A notification is tiny and local: a client that dribbles bytes is broken or hostile.
      connectionTimeout: 10_000,
      requestTimeout: 10_000,
    });

    // Every body arrives as a string whatever its content type: curl --data sends
    // application/x-www-form-urlencoded, a bare `echo | curl -T-` may send none at all.
    server.removeAllContentTypeParsers();
    server.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => {
      done(null, body);
    });

    server.get("/", async (_request, reply) => reply.type("text/plain").send(`${USAGE}\n`));
    server.post("/", async (request, reply) => {
      const raw = extractFromBody(request.body, request.headers["content-type"]);
      return this.#accept(raw, reply);
    });
    const fromPath = async (request: { params: unknown }, reply: FastifyReply) => {
      const params = request.params as { value?: string };
      return this.#accept(params.value ?? "", reply);
    };
    server.get("/:value", fromPath);
    server.post("/:value", fromPath);

    server.setNotFoundHandler(async (request, reply) =>
      reply
        .code(404)
        .type("text/plain")
        .send(`no route ${request.method} ${truncate(request.url)}: ${USAGE}\n`),
    );
    server.setErrorHandler(async (error: FastifyError, request, reply) => {
      const status = errorStatus(error);
      const message =
        error.code === "FST_ERR_CTP_BODY_TOO_LARGE"
          ? `notification body exceeds ${this.#bodyLimit} bytes`
          : error.message;
      if (status >= 500) {
        this.#logger.error({ err: error, url: truncate(request.url) }, "notification request failed");
      } else {
        this.#logger.warn(
          { status, err: error, reason: message, url: truncate(request.url) },
          "rejected notification",
        );
      }
      return reply.code(status).type("text/plain").send(`${message}\n`);
    });
    return server;
  }

  async #accept(raw: string, reply: FastifyReply): Promise<FastifyReply> {
    const value = normalizeNotifyValue(raw); // throws InvalidNotifyValueError → 400
    if (!deliverNotifyValue(this.#onValue, value, this.#logger)) {
      return reply.code(500).type("text/plain").send("notification could not be queued\n");
    }
    this.#logger.debug({ value }, "notification received");
    return reply.type("text/plain").send("OK\n");
  }
}

function errorStatus(error: FastifyError): number {
  if (error instanceof InvalidNotifyValueError) return 400;
  const status = error.statusCode;
  return typeof status === "number" && status >= 400 && status <= 599 ? status : 500;
}

/** Finds the value in a form, JSON or bare body; throws InvalidNotifyValueError when there is none. */
function extractFromBody(body: unknown, contentType: string | undefined): string {
  const text = typeof body === "string" ? body.trim() : "";
  if (text.length === 0) {
    throw new InvalidNotifyValueError(`request has no body: ${USAGE}`);
  }
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json" || text.startsWith("{")) {
    return extractFromJson(text);
  }
  // A hash never contains "=", so any "=" means a form body whatever the declared type.
  if (type === "application/x-www-form-urlencoded" || text.includes("=")) {
    const form = new URLSearchParams(text);
    for (const field of VALUE_FIELDS) {
      const value = form.get(field);
      if (value !== null) return value;
    }
    throw new InvalidNotifyValueError(`form body has none of the fields ${VALUE_FIELDS.join(", ")}`);
  }
  return text;
}

function extractFromJson(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidNotifyValueError("JSON body is not valid JSON");
  }
  if (typeof parsed === "object" && parsed !== null) {
    const record = parsed as Record<string, unknown>;
    for (const field of VALUE_FIELDS) {
      const value = record[field];
      if (typeof value === "string") return value;
    }
  }
  throw new InvalidNotifyValueError(`JSON body has none of the string fields ${VALUE_FIELDS.join(", ")}`);
}

function truncate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
