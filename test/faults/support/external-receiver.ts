/**
 * A webhook receiver on 127.0.0.1 that misbehaves on demand, the way an application behind
 * a load balancer does during an incident:
 *
 * - `down()`: nothing listens on its port (connection refused) until `up()`;
 * - `slow`: reads the event, answers only after `slowMs` (beyond the handler's timeout);
 * - `http500`: answers HTTP 500 with an HTML error page;
 * - `cut`: closes the connection in the middle of its response, alternately inside the
 *   status/header block (`cut-headers`: no status ever arrives) and after a complete
 *   `200 OK` header block with half of the declared body (`cut-body`);
 * - `ok`: parses the original's form body and answers 200.
 *
 * Every request whose body parsed is recorded as an arrival, with what the receiver did.
 * The port is fixed (below the ephemeral range) so down()/up() come back on the same URL.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import { parseWebhookBody } from "../../../src/events/receiver.js";
import type { CryptoassetsEvent, TxUpdateData } from "../../../src/events/types.js";
import { freePort } from "../../support/ports.js";

export type ReceiverMode = "ok" | "slow" | "http500" | "cut";
export type ArrivalOutcome = "ok" | "slow" | "http500" | "cut-headers" | "cut-body";

export interface Arrival {
  event: CryptoassetsEvent<"txupdate">;
  data: TxUpdateData;
  outcome: ArrivalOutcome;
  at: number;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

export class FaultyReceiver {
  mode: ReceiverMode = "ok";
  /** How long `slow` holds each answer. */
  slowMs = 2000;
  readonly arrivals: Arrival[] = [];
  /** Requests refused at the door while down are invisible here; these are the rest. */
  requests = 0;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #cuts = 0;

  private constructor(readonly port: number) {}

  static async start(): Promise<FaultyReceiver> {
    const receiver = new FaultyReceiver(await freePort());
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/cryptoassets`;
  }

  get isDown(): boolean {
    return this.#server === undefined;
  }

  /** Stops listening and drops every open connection: deliveries get ECONNREFUSED. */
  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    server.closeAllConnections();
    await closed;
  }

  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer((request, response) => {
      this.requests++;
      readBody(request)
        .then((body) => {
          const event = parseWebhookBody(
            body,
            request.headers["content-type"],
          ) as CryptoassetsEvent<"txupdate">;
          this.#answer(event, request, response);
        })
        .catch(() => {
          if (!response.headersSent) response.writeHead(400).end("bad request");
        });
    });
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
  }

  async close(): Promise<void> {
    await this.down();
  }

  /** Arrivals of one transaction's events (by our transaction id), in arrival order. */
  arrivalsOf(transactionId: number): Arrival[] {
    return this.arrivals.filter((arrival) => arrival.data.transaction === transactionId);
  }

  /** Event ids in order of their FIRST arrival (any outcome), duplicates removed. */
  firstArrivalOrder(filter: (arrival: Arrival) => boolean = () => true): string[] {
    const seen = new Set<string>();
    const order: string[] = [];
    for (const arrival of this.arrivals) {
      if (!filter(arrival) || seen.has(arrival.event.event_id)) continue;
      seen.add(arrival.event.event_id);
      order.push(arrival.event.event_id);
    }
    return order;
  }

  /** Event ids the receiver answered with a 2xx status line (ok, and cut-body's 200). */
  acceptedIds(): Set<string> {
    return new Set(
      this.arrivals
        .filter((arrival) => arrival.outcome === "ok" || arrival.outcome === "cut-body")
        .map((arrival) => arrival.event.event_id),
    );
  }

  count(outcome: ArrivalOutcome, since = 0): number {
    return this.arrivals.filter((arrival) => arrival.outcome === outcome && arrival.at >= since).length;
  }

  #answer(
    event: CryptoassetsEvent<"txupdate">,
    request: IncomingMessage,
    response: import("node:http").ServerResponse,
  ): void {
    const record = (outcome: ArrivalOutcome) =>
      this.arrivals.push({ event, data: event.data as TxUpdateData, outcome, at: Date.now() });
    switch (this.mode) {
      case "ok":
        record("ok");
        response.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
        return;
      case "http500":
        record("http500");
        response
          .writeHead(500, { "Content-Type": "text/html" })
          .end("<html><body><h1>500 Internal Server Error</h1></body></html>");
        return;
      case "slow": {
        record("slow");
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          if (!response.destroyed) response.writeHead(200, { "Content-Type": "text/plain" }).end("late ok");
        }, this.slowMs);
        this.#timers.add(timer);
        return;
      }
      case "cut": {
        const socket = request.socket;
        const cutHeaders = this.#cuts++ % 2 === 0;
        record(cutHeaders ? "cut-headers" : "cut-body");
        // Raw bytes on the socket, then a hard close: what a crashing upstream leaves behind.
        socket.write(
          cutHeaders
            ? "HTTP/1.1 200 OK\r\nContent-Type: text/pl"
            : "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\naccepted, writing the rest of the bo",
          () => socket.destroy(),
        );
        return;
      }
    }
  }
}
