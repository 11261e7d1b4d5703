/**
 * A real HTTP server on 127.0.0.1 that answers JSON-RPC requests with responses recorded
 * from a real Bitcoin Core (../shared/bitcoind/NN-*.json beside the checkout): same status, same body text
 * (amounts as `1.50000000`), only the `id` replaced by the caller's. It checks basic auth as
 * bitcoind does (401, empty body) and records every request so tests can inspect the wire.
 *
 * A request is answered by a recording with the same method and params (numbers compared
 * by value, so 0.25 matches 0.25000000) and the same URL path. Node-level methods recorded
 * on `/` match any path, as bitcoind serves them on `/wallet/<name>` too. When several
 * recordings match, they are served in the order given; the last one repeats.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join, resolve } from "node:path";
import { isLosslessNumber, parse, stringify } from "lossless-json";

export const RECORDINGS_DIR =
  process.env.BITCOIND_SAMPLES ?? resolve(import.meta.dirname, "../../../shared/bitcoind");

export interface Recording {
  /** File prefix ("37"), or a label for a derived recording. */
  name: string;
  path: string;
  method: string;
  params: unknown[];
  status: number;
  raw: string;
}

export interface ReceivedRequest {
  path: string;
  authorization: string | undefined;
  body: string;
  /** Method names in the body, in order (one for a single call). */
  methods: string[];
  batch: boolean;
}

/** Methods that act on a wallet: their recorded path (`/wallet/ours`) must match exactly. */
const WALLET_METHODS = new Set([
  "getnewaddress",
  "getaddressinfo",
  "gettransaction",
  "listsinceblock",
  "listtransactions",
  "getbalance",
  "getbalances",
  "sendmany",
  "sendtoaddress",
]);

interface FileShape {
  request: { path: string; method: string; params: unknown[] };
  http_status: number;
  raw_response: string;
}

/** Load a recording by its file prefix, e.g. loadRecording(12) reads 12-gettransaction.json. */
export function loadRecording(prefix: number): Recording {
  const name = String(prefix).padStart(2, "0");
  const file = readdirSync(RECORDINGS_DIR).find(
    (entry) => entry.startsWith(`${name}-`) && entry.endsWith(".json"),
  );
  if (!file) throw new Error(`no recording ${name}-*.json in ${RECORDINGS_DIR}`);
  // lossless parse: the recorded params keep their exact numbers.
  const data = parse(readFileSync(join(RECORDINGS_DIR, file), "utf8")) as FileShape;
  return {
    name,
    path: data.request.path,
    method: data.request.method,
    params: data.request.params,
    status: Number(String(data.http_status)),
    raw: data.raw_response,
  };
}

/** Numbers by value: "0.25000000" and "0.25" are the same amount. */
function canonical(value: unknown): unknown {
  if (isLosslessNumber(value) || typeof value === "number" || typeof value === "bigint") {
    const text = String(value);
    return { "#": text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text };
  }
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, canonical(item)]));
  }
  return value;
}

function sameParams(a: unknown, b: unknown): boolean {
  return stringify(canonical(a)) === stringify(canonical(b));
}

/** The recorded reply text with the caller's id in place of the recorded `"id":"s"`. */
function withId(raw: string, id: unknown): string {
  return raw.trim().replace(/"id":"s"}$/, `"id":${stringify(id) ?? "null"}}`);
}

export interface ReplayServer {
  /** `http://user:password@127.0.0.1:port` (no trailing path). */
  base: string;
  port: number;
  requests: ReceivedRequest[];
  /** TCP connections accepted so far (keep-alive reuses them). */
  connections(): number;
  close(): Promise<void>;
}

export interface ReplayOptions {
  user?: string;
  password?: string;
}

export async function startReplayServer(
  recordings: Recording[],
  options: ReplayOptions = {},
): Promise<ReplayServer> {
  const user = options.user ?? "rpcuser";
  const password = options.password ?? "s3cret-pw";
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const requests: ReceivedRequest[] = [];
  const served = new Map<Recording, number>();
  let connections = 0;

  const answer = (path: string, call: Record<string, unknown>): { status: number; text: string } => {
    const method = String(call.method);
    const params = (call.params ?? []) as unknown[];
    const candidates = recordings.filter(
      (rec) =>
        rec.method === method &&
        sameParams(rec.params, params) &&
        (rec.path === path || (rec.path === "/" && !WALLET_METHODS.has(method))),
    );
    const unserved = candidates.find((rec) => !served.has(rec));
    const recording = unserved ?? candidates[candidates.length - 1];
    if (!recording) {
      const message = `replay: no recording of ${method} ${stringify(params)} at ${path}`;
      return {
        status: 500,
        text: `{"result":null,"error":{"code":-32603,"message":${JSON.stringify(message)}},"id":${stringify(call.id)}}`,
      };
    }
    served.set(recording, (served.get(recording) ?? 0) + 1);
    return { status: recording.status, text: withId(recording.raw, call.id) };
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const path = req.url ?? "/";
    const parsed = parse(body) as Record<string, unknown> | Record<string, unknown>[];
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    requests.push({
      path,
      authorization: req.headers.authorization,
      body,
      methods: calls.map((call) => String(call.method)),
      batch: Array.isArray(parsed),
    });
    if (req.headers.authorization !== expected) {
      // bitcoind: 401, WWW-Authenticate, empty body.
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="jsonrpc"', "Content-Length": "0" });
      res.end();
      return;
    }
    if (Array.isArray(parsed)) {
      const replies = calls.map((call) => answer(path, call).text);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(`[${replies.join(",")}]\n`);
      return;
    }
    const reply = answer(path, parsed);
    res.writeHead(reply.status, { "Content-Type": "application/json" });
    res.end(`${reply.text}\n`);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    base: `http://${user}:${password}@127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    close: () => closeServer(server, sockets),
  };
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

export function closeServer(server: Server, sockets?: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if (sockets) for (const socket of sockets) socket.destroy();
    server.closeAllConnections();
  });
}

/** A server that answers every request with a fixed status and body, or never (`null`). */
export async function startFixedServer(
  reply: { status: number; body: string; contentType?: string } | null,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    if (reply === null) return; // hold the request open: a daemon that hangs
    req.on("end", () => {
      res.writeHead(reply.status, { "Content-Type": reply.contentType ?? "text/plain" });
      res.end(reply.body);
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await listen(server);
  return { url: `http://rpcuser:s3cret-pw@127.0.0.1:${port}/`, close: () => closeServer(server, sockets) };
}
