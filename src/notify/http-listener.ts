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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
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
  #server: Server | undefined;
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
    const server = this.#buildServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.#requestedPort, this.#ip, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      server.close();
      throw new NotifyListenerStartError(
        `http notify listener could not listen on ${this.#ip}:${this.#requestedPort}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    this.#boundPort = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#logger.info({ url: this.describe() }, "listening for notifications over HTTP");
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    // close() also ends idle keep-alive connections; a request in progress is answered first.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.#logger.info({ url: this.describe() }, "stopped listening for notifications over HTTP");
  }

  /**
   * node:http without a framework: a notification is one tiny request, and the listener's
   * cost per request is part of every deposit's (issue 14: fastify's routing, hooks and
   * reply machinery were a third of it).
   */
  #buildServer(): Server {
    const server = createServer(
      {
        // A notification is tiny and local: a client that dribbles bytes is broken or hostile.
        requestTimeout: 10_000,
        // Longer than any pause between notifications of a keep-alive sender.
        keepAliveTimeout: 72_000,
      },
      (request, response) => this.#handle(request, response),
    );
    server.setTimeout(10_000);
    return server;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const route = routeOf(request.method ?? "", request.url ?? "");
    switch (route.kind) {
      case "usage":
        answer(response, 200, `${USAGE}\n`);
        break;
      case "status":
        this.#reject(request, response, route.status, route.reason);
        break;
      case "value":
        this.#accept(request, response, route.value);
        break;
      case "body":
        this.#readBody(request, response, (body) => {
          let raw: string;
          try {
            raw = extractFromBody(body, request.headers["content-type"]);
          } catch (err) {
            this.#rejectError(request, response, err);
            return;
          }
          this.#accept(request, response, raw);
        });
    }
  }

  /** Calls `then` with the body as text; answers 413 past bodyLimit instead. */
  #readBody(request: IncomingMessage, response: ServerResponse, then: (body: string) => void): void {
    const tooLarge = () =>
      this.#reject(request, response, 413, `notification body exceeds ${this.#bodyLimit} bytes`, true);
    if (Number(request.headers["content-length"] ?? 0) > this.#bodyLimit) {
      tooLarge();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= this.#bodyLimit) chunks.push(chunk);
      else if (!response.headersSent) tooLarge();
    });
    request.on("end", () => {
      if (size <= this.#bodyLimit) then(Buffer.concat(chunks, size).toString("utf8"));
    });
    // A client that goes away mid-body: nothing to answer.
    request.on("error", () => undefined);
  }

  #accept(request: IncomingMessage, response: ServerResponse, raw: string): void {
    let value: string;
    try {
      value = normalizeNotifyValue(raw);
    } catch (err) {
      this.#rejectError(request, response, err);
      return;
    }
    if (!deliverNotifyValue(this.#onValue, value, this.#logger)) {
      answer(response, 500, "notification could not be queued\n");
      return;
    }
    this.#logger.debug({ value }, "notification received");
    answer(response, 200, "OK\n");
  }

  #rejectError(request: IncomingMessage, response: ServerResponse, err: unknown): void {
    if (err instanceof InvalidNotifyValueError) {
      this.#reject(request, response, 400, err.message, false, err);
      return;
    }
    this.#logger.error({ err, url: truncate(request.url ?? "") }, "notification request failed");
    answer(response, 500, "notification request failed\n");
  }

  /** A 4xx with its reason; logged except for 404 (a probe or a typo, not a notification). */
  #reject(
    request: IncomingMessage,
    response: ServerResponse,
    status: number,
    reason: string,
    close = false,
    err?: unknown,
  ): void {
    if (status !== 404) {
      this.#logger.warn(
        { status, ...(err ? { err } : {}), reason, url: truncate(request.url ?? "") },
        "rejected notification",
      );
    }
    // The rest of an oversized body is not read: the connection cannot carry another request.
    if (close) response.setHeader("connection", "close");
    answer(response, status, `${reason}\n`);
  }
}

type Route =
  | { kind: "usage" }
  | { kind: "body" }
  | { kind: "value"; value: string }
  | { kind: "status"; status: number; reason: string };

/** Longest value accepted in the path (a hash is 64 characters). */
const MAX_PATH_VALUE = 100;

/** GET / (usage), POST / (the value in the body), GET or POST /<value>; anything else 404. */
function routeOf(method: string, url: string): Route {
  const query = url.indexOf("?");
  const path = query >= 0 ? url.slice(0, query) : url;
  const get = method === "GET" || method === "HEAD";
  const notFound = (): Route => ({
    kind: "status",
    status: 404,
    reason: `no route ${method} ${truncate(url)}: ${USAGE}`,
  });
  if (!get && method !== "POST") return notFound();
  if (path === "/") return get ? { kind: "usage" } : { kind: "body" };
  const segment = path.slice(1);
  if (!path.startsWith("/") || segment.includes("/")) return notFound();
  if (segment.length > MAX_PATH_VALUE) return { kind: "status", status: 414, reason: "URI too long" };
  try {
    return { kind: "value", value: decodeURIComponent(segment) };
  } catch {
    return {
      kind: "status",
      status: 400,
      reason: `path ${JSON.stringify(truncate(segment))} is not valid percent-encoding`,
    };
  }
}

function answer(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
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
