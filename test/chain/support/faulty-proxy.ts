/**
 * A real HTTP proxy on 127.0.0.1 in front of the simulator that can misbehave like a real
 * network or daemon does: be down (connection refused), be slow (forward the request, hold
 * the reply beyond the client's timeout), answer HTTP 500 with an HTML page, or 401, answer
 * HTTP 200 with a body that is not JSON at all (`garbage`: a reply cut off mid-document), or
 * HTTP 200 with a well-formed JSON-RPC reply whose `result` has the wrong shape
 * (`wrong-shape`). It does not imitate the daemon: in "pass" and "slow" modes every request
 * reaches the simulator; the other fault modes answer without forwarding.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultMode = "pass" | "slow" | "http500" | "http401" | "garbage" | "wrong-shape";

/** What `garbage` answers by default: a daemon reply cut off in the middle. */
export const TRUNCATED_JSON_BODY = '{"result":{"txid":"4f1c0a9e","confirmations":3,"details":[{"categ';

export class FaultyProxy {
  mode: FaultMode = "pass";
  /** How long "slow" holds each reply. */
  slowMs = 1500;
  /** The body `garbage` answers with (HTTP 200, application/json). */
  garbageBody = TRUNCATED_JSON_BODY;
  /**
   * Called with each forwarded request body and the daemon's reply body; the reply is held
   * until the promise it returns settles (a test holds the answer to one call, e.g.
   * `sendmany`, while it kills the caller). Returning undefined: reply at once.
   */
  holdReply: ((requestBody: string, replyBody: string) => Promise<unknown> | undefined) | undefined;
  /** Requests that reached the simulator. */
  forwarded = 0;
  readonly #forwardedByMethod = new Map<string, number>();
  /** Requests answered by a fault mode instead of the simulator. */
  faulted = 0;
  #server: Server;
  #port = 0;
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.#server = this.#create();
  }

  /**
   * `listenPort` 0 (default) picks an ephemeral port. Pass a fixed one (from freePort())
   * when the proxy goes down() and up() while other processes run: an ephemeral port could
   * be taken by someone else's outgoing connection in between.
   */
  static async start(targetHost: string, targetPort: number, listenPort = 0): Promise<FaultyProxy> {
    const proxy = new FaultyProxy(targetHost, targetPort);
    await proxy.#listen(listenPort);
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** The proxy's URL with the given credentials (passed through to the simulator). */
  url(user: string, password: string): string {
    return `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.#port}/`;
  }

  /** Stop listening and drop every connection: clients get ECONNREFUSED. */
  async down(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Listen again on the same port. */
  async up(): Promise<void> {
    this.#server = this.#create();
    await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.down();
  }

  /** JSON-RPC calls of `method` forwarded to the daemon so far (each call of a batch counts). */
  forwardedCalls(method: string): number {
    return this.#forwardedByMethod.get(method) ?? 0;
  }

  #countMethods(body: Buffer): void {
    try {
      const parsed: unknown = JSON.parse(body.toString("utf8"));
      for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
        const method = String((call as { method?: unknown })?.method);
        this.#forwardedByMethod.set(method, (this.#forwardedByMethod.get(method) ?? 0) + 1);
      }
    } catch {
      // not JSON: the daemon will say so
    }
  }

  #create(): Server {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    return server;
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (this.mode === "garbage") {
      this.faulted++;
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(this.garbageBody);
      return;
    }
    if (this.mode === "wrong-shape") {
      this.faulted++;
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(wrongShapeReply(body)));
      return;
    }
    if (this.mode === "http500") {
      this.faulted++;
      res.writeHead(500, { "Content-Type": "text/html" });
      res.end("<html><body><h1>500 Internal Server Error</h1></body></html>");
      return;
    }
    if (this.mode === "http401") {
      this.faulted++;
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="jsonrpc"', "Content-Length": "0" });
      res.end();
      return;
    }
    const slow = this.mode === "slow";
    this.forwarded++;
    this.#countMethods(body);
    const upstream = await new Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer }>(
      (resolve, reject) => {
        const forward = request(
          {
            host: this.targetHost,
            port: this.targetPort,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, connection: "close" },
          },
          (reply) => {
            const parts: Buffer[] = [];
            reply.on("data", (part: Buffer) => parts.push(part));
            reply.on("end", () =>
              resolve({
                status: reply.statusCode ?? 502,
                headers: reply.headers,
                body: Buffer.concat(parts),
              }),
            );
            reply.on("error", reject);
          },
        );
        forward.on("error", reject);
        forward.end(body);
      },
    ).catch(() => undefined);
    if (slow) await new Promise((resolve) => setTimeout(resolve, this.slowMs));
    if (upstream) await this.holdReply?.(body.toString("utf8"), upstream.body.toString("utf8"));
    if (res.destroyed || res.writableEnded) return;
    if (!upstream) {
      res.writeHead(502);
      res.end();
      return;
    }
    res.writeHead(upstream.status, {
      "Content-Type": String(upstream.headers["content-type"] ?? "application/json"),
    });
    res.end(upstream.body);
  }
}

/**
 * A JSON-RPC reply (or batch of replies) that is valid JSON with the right ids and no error,
 * but whose `result` is an object with none of the fields any method returns.
 */
function wrongShapeReply(requestBody: Buffer): unknown {
  const reply = (id: unknown) => ({ result: { unexpected: true }, error: null, id: id ?? null });
  try {
    const request: unknown = JSON.parse(requestBody.toString("utf8"));
    if (Array.isArray(request)) return request.map((call) => reply((call as { id?: unknown })?.id));
    return reply((request as { id?: unknown })?.id);
  } catch {
    return reply(null);
  }
}
