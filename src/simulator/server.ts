/**
 * The HTTP face of the simulator, behaving like bitcoind's httprpc.cpp: POST only, HTTP
 * basic auth (401 with an empty body otherwise), `/` and `/wallet/<name>` endpoints,
 * JSON-RPC 1.0 replies (`result`, `error`, `id`; HTTP 500 on error, 404 for an unknown
 * method, 400 for an invalid request) and 2.0 replies (errors in-band with HTTP 200,
 * notifications answered with 204), batches always HTTP 200.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parse } from "lossless-json";
import { errorMessage } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { maskUrl } from "../redact/url.js";
import { Chain } from "./chain.js";
import { RpcCode, RpcError, SimulatorError } from "./errors.js";
import { writeJson, writeParsed } from "./json.js";
import { type CallContext, callMethod } from "./methods.js";
import { CommandQueue, notificationListener } from "./notify.js";

export interface SimulatorOptions {
  /** TCP port; bitcoind's regtest default is 18443, use 0 for an ephemeral port. */
  port?: number;
  bind?: string;
  rpcUser?: string;
  rpcPassword?: string;
  /** -walletnotify command (%s txid, %w wallet, %b block hash, %h height). */
  walletNotify?: string;
  /** -blocknotify command (%s or %b block hash, %h height). */
  blockNotify?: string;
  /** Fee rate for wallet sends in sat/vB (bitcoind's regtest fallback fee: 20). */
  feeRate?: bigint;
  logger?: Logger;
}

export interface Simulator {
  /** RPC URL with credentials, ready for a JSON-RPC client: http://user:password@host:port/ */
  url: string;
  /** The same URL with the password replaced by `***`, for logs and terminals. */
  maskedUrl: string;
  host: string;
  port: number;
  rpcUser: string;
  rpcPassword: string;
  /** The in-memory chain, for in-process inspection. */
  chain: Chain;
  /** Resolves once every walletnotify/blocknotify command queued so far has run. */
  notificationsIdle(): Promise<void>;
  /** Stop serving; idempotent. */
  close(): Promise<void>;
  /** Resolves when the simulator has stopped (close() or the `stop` RPC). */
  stopped: Promise<void>;
}

export const DEFAULT_RPC_USER = "cryptoassets";
export const DEFAULT_RPC_PASSWORD = "cryptoassets";

type Version = "1.0" | "2.0";

interface ParsedRequest {
  version: Version;
  /** Raw JSON text of the id, or undefined when the request had none. */
  id: string | undefined;
  method: string;
  params: unknown;
}

interface RpcFailure {
  code: number;
  message: string;
}

function replyText(
  version: Version,
  id: string | undefined,
  result: string | null,
  error: RpcFailure | null,
) {
  const errorText = error ? writeJson({ code: error.code, message: error.message }) : "null";
  if (version === "2.0") {
    const body = error ? `"error":${errorText}` : `"result":${result ?? "null"}`;
    return `{"jsonrpc":"2.0",${body}${id === undefined ? "" : `,"id":${id}`}}`;
  }
  return `{"result":${error ? "null" : (result ?? "null")},"error":${errorText},"id":${id ?? "null"}}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** bitcoind's JSONRPCRequest::parse. */
function parseRequest(value: unknown): ParsedRequest {
  if (!isObject(value)) throw new RpcError(RpcCode.INVALID_REQUEST, "Invalid Request object");
  let version: Version = "1.0";
  const declared = value.jsonrpc;
  if (declared !== undefined && declared !== null) {
    if (typeof declared !== "string")
      throw new RpcError(RpcCode.INVALID_REQUEST, "jsonrpc field must be a string");
    if (declared === "2.0") version = "2.0";
    else if (declared !== "1.0")
      throw new RpcError(RpcCode.INVALID_REQUEST, "JSON-RPC version not supported");
  }
  const id = Object.hasOwn(value, "id") ? writeParsed(value.id) : undefined;
  const partial = { version, id };
  const method = value.method;
  if (method === undefined || method === null)
    throw Object.assign(new RpcError(RpcCode.INVALID_REQUEST, "Missing method"), partial);
  if (typeof method !== "string")
    throw Object.assign(new RpcError(RpcCode.INVALID_REQUEST, "Method must be a string"), partial);
  let params = value.params;
  if (params === undefined || params === null) params = [];
  if (!Array.isArray(params) && !isObject(params)) {
    throw Object.assign(new RpcError(RpcCode.INVALID_REQUEST, "Params must be an array or object"), partial);
  }
  return { version, id, method, params };
}

function toFailure(err: unknown): RpcFailure {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  return { code: RpcCode.MISC_ERROR, message: errorMessage(err) };
}

function httpStatusFor(code: number): number {
  if (code === RpcCode.INVALID_REQUEST) return 400;
  if (code === RpcCode.METHOD_NOT_FOUND) return 404;
  return 500;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Runs one parsed request: the method's result as JSON text, or it throws (RpcError or a bug). */
type Execute = (request: ParsedRequest, pathWallet: string | undefined) => string;

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(`${body}\n`);
}

function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end();
}

/**
 * The checks before the body: POST only, basic auth, `/` or `/wallet/<name>`. Answers and returns
 * false when one fails; otherwise the wallet named by the path (or undefined for `/`).
 */
function admit(
  req: IncomingMessage,
  res: ServerResponse,
  expectedAuth: string,
  logger: Logger,
): { pathWallet: string | undefined } | false {
  if (req.method !== "POST") {
    res.writeHead(405, { "Content-Type": "text/html; charset=ISO-8859-1" });
    res.end("JSONRPC server handles only POST requests");
    return false;
  }
  const match = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
  const given = match ? Buffer.from(match[1] as string, "base64").toString("utf8") : undefined;
  if (given === undefined || !sameSecret(given, expectedAuth)) {
    logger.warn({ remote: req.socket.remoteAddress }, "rejected RPC request with bad credentials");
    sendEmpty(res, 401, { "WWW-Authenticate": 'Basic realm="jsonrpc"', "Content-Length": "0" });
    return false;
  }
  const path = new URL(req.url ?? "/", "http://simulator").pathname;
  if (path.startsWith("/wallet/")) return { pathWallet: decodeURIComponent(path.slice("/wallet/".length)) };
  if (path === "/") return { pathWallet: undefined };
  sendEmpty(res, 404, { "Content-Length": "0" });
  return false;
}

/** A batch: always HTTP 200, one reply per request except 2.0 notifications. */
function answerBatch(res: ServerResponse, items: unknown[], run: (request: ParsedRequest) => string): void {
  const replies: string[] = [];
  for (const item of items) {
    let request: ParsedRequest | undefined;
    try {
      request = parseRequest(item);
      replies.push(replyText(request.version, request.id, run(request), null));
    } catch (err) {
      const partial = (request ?? err) as Partial<ParsedRequest>;
      const version = partial.version ?? "1.0";
      if (version === "2.0" && partial.id === undefined) continue;
      replies.push(replyText(version, partial.id, null, toFailure(err)));
    }
  }
  send(res, 200, `[${replies.join(",")}]`);
}

/** One request: 1.0 errors as HTTP statuses, 2.0 errors in-band, 2.0 notifications with 204. */
function answerOne(
  res: ServerResponse,
  parsed: Record<string, unknown>,
  run: (request: ParsedRequest) => string,
  logger: Logger,
): void {
  let request: ParsedRequest;
  try {
    request = parseRequest(parsed);
  } catch (err) {
    const partial = err as Partial<ParsedRequest>;
    const failure = toFailure(err);
    send(res, httpStatusFor(failure.code), replyText(partial.version ?? "1.0", partial.id, null, failure));
    return;
  }
  let result: string;
  try {
    result = run(request);
  } catch (err) {
    const failure = toFailure(err);
    if (!(err instanceof RpcError)) logger.error({ err, method: request.method }, "simulator method failed");
    if (request.version === "1.0")
      send(res, httpStatusFor(failure.code), replyText("1.0", request.id, null, failure));
    else if (request.id === undefined) sendEmpty(res, 204);
    else send(res, 200, replyText("2.0", request.id, null, failure));
    return;
  }
  if (request.version === "2.0" && request.id === undefined) sendEmpty(res, 204);
  else send(res, 200, replyText(request.version, request.id, result, null));
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  expectedAuth: string,
  execute: Execute,
  logger: Logger,
): Promise<void> {
  const admitted = admit(req, res, expectedAuth, logger);
  if (!admitted) return;
  const run = (request: ParsedRequest) => execute(request, admitted.pathWallet);
  const body = await readBody(req);
  let parsed: unknown;
  try {
    parsed = parse(body);
  } catch {
    send(res, 500, replyText("1.0", undefined, null, { code: RpcCode.PARSE_ERROR, message: "Parse error" }));
    return;
  }
  if (Array.isArray(parsed)) answerBatch(res, parsed, run);
  else if (isObject(parsed)) answerOne(res, parsed, run, logger);
  else {
    send(
      res,
      500,
      replyText("1.0", undefined, null, {
        code: RpcCode.PARSE_ERROR,
        message: "Top-level object parse error",
      }),
    );
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      reject(
        new SimulatorError(`simulate-bitcoind cannot listen on ${host}:${port}: ${err.message}`, {
          cause: err,
        }),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** Stops serving: idle keep-alive sockets go now; replies in flight (the `stop` reply) get a moment. */
function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 1000);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const logger = (options.logger ?? silentLogger).child({ module: "simulator" });
  const host = options.bind ?? "127.0.0.1";
  const rpcUser = options.rpcUser ?? DEFAULT_RPC_USER;
  const rpcPassword = options.rpcPassword ?? DEFAULT_RPC_PASSWORD;
  const expectedAuth = `${rpcUser}:${rpcPassword}`;
  const queue = new CommandQueue(logger);
  const chain = new Chain({
    feeRate: options.feeRate,
    listener: notificationListener(queue, {
      walletNotify: options.walletNotify,
      blockNotify: options.blockNotify,
    }),
  });
  const startedAt = Date.now();
  let closing: Promise<void> | undefined;
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });

  const execute: Execute = (request, pathWallet) => {
    const ctx: CallContext = {
      chain,
      pathWallet,
      startedAt,
      requestStop: () => setImmediate(() => void close()),
    };
    logger.debug({ method: request.method, wallet: pathWallet }, "rpc call");
    return writeJson(callMethod(request.method, request.params, ctx));
  };

  const server = createServer((req, res) => {
    handle(req, res, expectedAuth, execute, logger).catch((err: unknown) => {
      logger.error({ err }, "simulator request failed");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await listen(server, host, options.port ?? 18443);
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const credentials = `${encodeURIComponent(rpcUser)}:${encodeURIComponent(rpcPassword)}`;

  function close(): Promise<void> {
    closing ??= (async () => {
      await closeServer(server);
      await queue.stop();
      logger.info("simulate-bitcoind stopped");
      resolveStopped();
    })();
    return closing;
  }

  const url = `http://${credentials}@${urlHost}:${port}/`;
  const maskedUrl = maskUrl(url);
  logger.info({ url: maskedUrl }, "simulate-bitcoind listening");
  return {
    url,
    maskedUrl,
    host,
    port,
    rpcUser,
    rpcPassword,
    chain,
    notificationsIdle: () => queue.idle(),
    close,
    stopped,
  };
}
