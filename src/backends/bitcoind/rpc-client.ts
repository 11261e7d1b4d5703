/**
 * A JSON-RPC client for Bitcoin Core and bitcoind-compatible daemons.
 *
 * Wire format: JSON-RPC 1.0 style bodies (`{"jsonrpc":"1.0","id":1,"method":…,"params":[…]}`),
 * the way bitcoin-cli talks. Bitcoin Core then answers an RPC error with HTTP 500 (404 for an
 * unknown method) and a JSON body carrying `error`, so the body, not the status, decides
 * between a daemon error and a transport failure. A batch (array body) is always HTTP 200
 * with one reply per call, matched back by id.
 *
 * Responses are parsed exactly (./exact-json.ts): every JSON number comes back as a
 * LosslessNumber holding the daemon's exact text ("1.50000000"), so no amount ever passes
 * through a float. Callers convert numbers with the helpers in ./values.ts.
 *
 * Connections are kept alive (one TCP handshake for many calls). Idle pooled sockets are
 * closed after a few seconds, before bitcoind's own -rpcservertimeout (30 s) would close
 * them under us.
 */
import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { stringify } from "lossless-json";
import { BackendError, type RpcError, RpcReplyTooLargeError, RpcTransportError } from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import { cleanExternalText } from "../../redact/external-text.js";
import { rpcErrorFor } from "../rpc-errors.js";
import { parseExactJson } from "./exact-json.js";
import { parseRpcUrl, type RpcEndpoint } from "./url.js";

export const DEFAULT_RPC_TIMEOUT_MS = 15_000;
/**
 * Largest reply read (16 MiB). Parsing costs ~15× the reply in memory (a 43 MB listsinceblock
 * took +689 MB RSS), and the product's own requests stay far below this: the first scan pages.
 */
export const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;

export interface BitcoindRpcClientOptions {
  /** `http://user:password@host:port/`, optionally with `/wallet/<name>`. */
  url: string;
  /** Wallet name for multiwallet daemons; replaces any `/wallet/<name>` of the URL. */
  wallet?: string;
  /** Per-call timeout in milliseconds (default 15 000). */
  timeoutMs?: number;
  /** How long an idle pooled connection is kept (default 5 000 ms). */
  idleSocketTimeoutMs?: number;
  /** Largest reply body read, in bytes (default DEFAULT_MAX_REPLY_BYTES); a larger one fails. */
  maxReplyBytes?: number;
  /** The config key that sets maxReplyBytes, named in the error (default "backend.max_reply_mb"). */
  maxReplyConfigKey?: string;
  logger?: Logger;
}

export interface RpcCallOptions {
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
  /** Abort the call early (shutdown). */
  signal?: AbortSignal;
}

export interface RpcCall {
  method: string;
  params?: readonly unknown[];
}

/** One call of a batch: its result, or the daemon's error for that call alone. */
export type BatchOutcome = { ok: true; result: unknown } | { ok: false; error: RpcError };

export interface RpcStats {
  /** HTTP round trips (a batch is one). */
  requests: number;
  /** Method invocations by name; each call of a batch counts once. */
  calls: Record<string, number>;
}

/**
 * Methods that change nothing in the daemon. Only these are re-sent when a pooled keep-alive
 * socket turns out to have been closed by the daemon: re-sending `sendmany` could pay twice.
 */
const READ_ONLY_METHODS = new Set([
  "getbalance",
  "getbalances",
  "getbestblockhash",
  "getblock",
  "getblockchaininfo",
  "getblockcount",
  "getblockhash",
  "getblockheader",
  "getaddressinfo",
  "getnetworkinfo",
  "getrawmempool",
  "gettransaction",
  "getwalletinfo",
  "listsinceblock",
  "listtransactions",
  "listwallets",
  "uptime",
  "validateaddress",
]);

interface HttpReply {
  status: number;
  text: string;
}

interface ParsedReply {
  result?: unknown;
  error?: unknown;
  id?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short, quoted excerpt of a body for error messages. */
function excerpt(text: string): string {
  // Whatever answered (the daemon, a proxy) wrote it: no controls (JSON.stringify keeps C1's CSI).
  return JSON.stringify(cleanExternalText(text, { maxChars: 121 }));
}

/** Ids come back as the LosslessNumber we sent; compare as text. */
function idKey(id: unknown): string {
  return String(id);
}

export class BitcoindRpcClient {
  /** The daemon's URL with the password masked: safe for logs and messages. */
  readonly url: string;
  private readonly endpoint: RpcEndpoint;
  private readonly timeoutMs: number;
  private readonly maxReplyBytes: number;
  private readonly maxReplyConfigKey: string;
  private readonly agent: HttpAgent;
  private readonly logger: Logger;
  private nextId = 1;
  private closed = false;
  private requests = 0;
  private readonly calls = new Map<string, number>();

  constructor(options: BitcoindRpcClientOptions) {
    this.endpoint = parseRpcUrl(options.url, options.wallet);
    this.url = this.endpoint.masked;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new BackendError(`RPC timeout must be positive, got ${this.timeoutMs}`);
    this.maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    this.maxReplyConfigKey = options.maxReplyConfigKey ?? "backend.max_reply_mb";
    if (!(this.maxReplyBytes >= 1)) {
      throw new BackendError(`RPC reply size limit must be at least 1 byte, got ${this.maxReplyBytes}`);
    }
    const agentOptions = { keepAlive: true, timeout: options.idleSocketTimeoutMs ?? 5_000 };
    this.agent =
      this.endpoint.url.protocol === "https:" ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.logger = (options.logger ?? silentLogger).child({ module: "backends.bitcoind.rpc", url: this.url });
  }

  /** Call one method; resolves to its `result` (numbers as LosslessNumber), rejects with RpcError or RpcTransportError. */
  async call(
    method: string,
    params: readonly unknown[] = [],
    options: RpcCallOptions = {},
  ): Promise<unknown> {
    const id = this.nextId++;
    const body = stringify({ jsonrpc: "1.0", id, method, params }) as string;
    const reply = await this.send(body, [method], options);
    const parsed = this.parseBody(reply, method);
    if (!isObject(parsed)) {
      throw this.invalid(reply, `${method}: expected a JSON-RPC reply object, got ${excerpt(reply.text)}`);
    }
    return this.outcome(parsed, method, reply);
  }

  /**
   * Send several calls in one HTTP request. Resolves to one outcome per call, in the order
   * given; a daemon error of one call does not fail the others. Transport failures reject.
   */
  async batch(calls: readonly RpcCall[], options: RpcCallOptions = {}): Promise<BatchOutcome[]> {
    if (calls.length === 0) return [];
    const ids = calls.map(() => this.nextId++);
    const bodies = calls.map((call, index) => ({
      jsonrpc: "1.0",
      id: ids[index],
      method: call.method,
      params: call.params ?? [],
    }));
    const methods = calls.map((call) => call.method);
    const reply = await this.send(stringify(bodies) as string, methods, options);
    const what = `batch of ${calls.length} (${[...new Set(methods)].join(", ")})`;
    const parsed = this.parseBody(reply, what);
    if (isObject(parsed)) {
      // The daemon rejected the batch as a whole (e.g. a parse error): one error for all.
      this.outcome(parsed, what, reply);
      throw this.invalid(reply, `${what}: expected an array of replies, got ${excerpt(reply.text)}`);
    }
    if (!Array.isArray(parsed)) {
      throw this.invalid(reply, `${what}: expected an array of replies, got ${excerpt(reply.text)}`);
    }
    const byId = new Map<string, ParsedReply>();
    for (const item of parsed) {
      if (isObject(item)) byId.set(idKey(item.id), item);
    }
    return calls.map((call, index) => {
      const item = byId.get(idKey(ids[index]));
      if (!item) throw this.invalid(reply, `${what}: no reply for call ${index} (${call.method})`);
      try {
        return { ok: true, result: this.outcome(item, call.method, reply) };
      } catch (err) {
        if (err instanceof RpcTransportError) throw err;
        return { ok: false, error: err as RpcError };
      }
    });
  }

  /** Counters since creation (or the last reset): HTTP requests and calls per method. */
  stats(): RpcStats {
    return { requests: this.requests, calls: Object.fromEntries(this.calls) };
  }

  resetStats(): void {
    this.requests = 0;
    this.calls.clear();
  }

  /** Close pooled connections; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
  }

  /** `result` of a reply object, or the typed error its `error` member describes. */
  private outcome(reply: ParsedReply, method: string, http: HttpReply): unknown {
    const error = reply.error;
    if (error !== null && error !== undefined) {
      if (isObject(error) && error.code !== undefined) {
        const code = Number(String(error.code));
        const message = typeof error.message === "string" ? error.message : JSON.stringify(error.message);
        throw rpcErrorFor(code, message, method);
      }
      throw this.invalid(http, `${method}: malformed JSON-RPC error ${excerpt(stringify(error) ?? "")}`);
    }
    if (http.status !== 200) {
      throw new RpcTransportError(
        "http-status",
        `${method}: bitcoind at ${this.url} answered HTTP ${http.status} without a JSON-RPC error: ${excerpt(http.text)}`,
        this.url,
        http.status,
      );
    }
    if (!("result" in reply))
      throw this.invalid(http, `${method}: reply has no result: ${excerpt(http.text)}`);
    return reply.result;
  }

  /** JSON text of the body, or a transport error that says what came instead. */
  private parseBody(reply: HttpReply, what: string): unknown {
    if (reply.status === 401) {
      throw new RpcTransportError(
        "unauthorized",
        `${what}: bitcoind at ${this.url} rejected the credentials (HTTP 401): check the RPC user and password`,
        this.url,
        401,
      );
    }
    try {
      return parseExactJson(reply.text);
    } catch {
      if (reply.status !== 200) {
        throw new RpcTransportError(
          "http-status",
          `${what}: bitcoind at ${this.url} answered HTTP ${reply.status} with a body that is not JSON: ${excerpt(reply.text)}`,
          this.url,
          reply.status,
        );
      }
      throw this.invalid(
        reply,
        `${what}: bitcoind at ${this.url} sent a body that is not JSON: ${excerpt(reply.text)}`,
      );
    }
  }

  private invalid(reply: HttpReply, message: string): RpcTransportError {
    return new RpcTransportError("invalid-response", message, this.url, reply.status);
  }

  private async send(body: string, methods: readonly string[], options: RpcCallOptions): Promise<HttpReply> {
    const what = methods.length === 1 ? (methods[0] as string) : `batch of ${methods.length}`;
    if (this.closed) throw new BackendError(`${what}: the RPC client for ${this.url} is closed`);
    for (const method of methods) this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const started = Date.now();
    const retryable = methods.every((method) => READ_ONLY_METHODS.has(method));
    for (let attempt = 1; ; attempt++) {
      this.requests++;
      try {
        const reply = await this.post(body, what, timeoutMs, options.signal);
        this.logger.debug({ method: what, status: reply.status, ms: Date.now() - started }, "rpc call");
        return reply;
      } catch (err) {
        if (err instanceof RpcReplyTooLargeError) {
          this.logger.warn({ method: what, limit: this.maxReplyBytes, err }, "rpc reply too large");
          throw err;
        }
        const failure = err as NodeJS.ErrnoException & { reusedSocket?: boolean; timedOut?: boolean };
        // A pooled socket the daemon closed while idle fails at once; a fresh one will not.
        const staleSocket =
          failure.reusedSocket === true &&
          (failure.code === "ECONNRESET" || failure.code === "EPIPE" || failure.message === "socket hang up");
        if (staleSocket && retryable && attempt === 1) continue;
        const error = this.transportError(failure, what, timeoutMs, options.signal);
        this.logger.warn({ method: what, failure: error.failure, err: error }, "rpc call failed");
        throw error;
      }
    }
  }

  private transportError(
    err: NodeJS.ErrnoException & { timedOut?: boolean },
    what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): RpcTransportError {
    if (err.timedOut) {
      return new RpcTransportError(
        "timeout",
        `${what}: bitcoind at ${this.url} did not answer within ${timeoutMs} ms (timed out)`,
        this.url,
        undefined,
        { cause: err },
      );
    }
    if (signal?.aborted) {
      return new RpcTransportError(
        "network",
        `${what}: request to ${this.url} was aborted`,
        this.url,
        undefined,
        {
          cause: err,
        },
      );
    }
    if (err.code === "ECONNREFUSED") {
      return new RpcTransportError(
        "refused",
        `${what}: cannot connect to bitcoind at ${this.url}: connection refused (is the daemon running, is the RPC port right?)`,
        this.url,
        undefined,
        { cause: err },
      );
    }
    return new RpcTransportError(
      "network",
      `${what}: request to bitcoind at ${this.url} failed: ${err.code ? `${err.code} ` : ""}${err.message}`,
      this.url,
    );
  }

  private post(
    body: string,
    what: string,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<HttpReply> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "Content-Length": String(Buffer.byteLength(body)),
    };
    if (this.endpoint.authorization) headers.Authorization = this.endpoint.authorization;
    const send = this.endpoint.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<HttpReply>((resolve, reject) => {
      let req: ClientRequest | undefined;
      const fail = (err: Error) => {
        Object.assign(err, { reusedSocket: req?.reusedSocket === true, timedOut: timeout.aborted });
        reject(err);
      };
      req = send(
        this.endpoint.url,
        { method: "POST", agent: this.agent, headers, signal },
        (res: IncomingMessage) => {
          // The limit holds while streaming: a reply announced or grown past it is cut off
          // at once, never buffered whole.
          const tooLarge = () => {
            reject(new RpcReplyTooLargeError(what, this.maxReplyBytes, this.maxReplyConfigKey, this.url));
            res.destroy();
            req?.destroy();
          };
          if (Number(res.headers["content-length"] ?? 0) > this.maxReplyBytes) return tooLarge();
          const chunks: Buffer[] = [];
          let received = 0;
          res.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (received > this.maxReplyBytes) tooLarge();
            else chunks.push(chunk);
          });
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", fail);
          res.on("aborted", () => fail(new Error("response aborted")));
        },
      );
      req.on("error", fail);
      req.end(body);
    });
  }
}
