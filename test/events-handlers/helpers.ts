/** A sample event and a real loopback HTTP receiver that records every request it gets. */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { CryptoassetsEvent, TxUpdateData } from "../../src/events/types.js";
import type { Logger } from "../../src/log.js";

export function sampleEvent(overrides: Partial<TxUpdateData> = {}): CryptoassetsEvent<"txupdate"> {
  return {
    event_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    event_name: "txupdate",
    created_at: "2024-07-01T12:00:00.000Z",
    data: {
      coin_name: "btc",
      transaction: 42,
      network_transaction: 7,
      transaction_type: "deposit",
      txid: "b6f6991d03df0e2e04dafffcd6bc418aac66049e2cd74b80f14ac86db1e3f0da",
      account: 3,
      address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
      amount: "0.50000000",
      credited: false,
      confirmations: 0,
      ...overrides,
    },
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Which TCP connection carried it (1 = first). */
  connection: number;
}

export interface TestReceiver {
  url: string;
  requests: RecordedRequest[];
  connections: () => number;
  /** Connections that have been closed (by either side). */
  closedConnections: () => number;
  close(): Promise<void>;
}

/** `respond` decides the answer; by default 200 "ok". */
export async function startReceiver(
  respond: (request: RecordedRequest, response: ServerResponse) => void = (_, response) => response.end("ok"),
): Promise<TestReceiver> {
  const requests: RecordedRequest[] = [];
  let connections = 0;
  let closedConnections = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const connection = (req.socket as unknown as { testId: number }).testId;
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        connection,
      };
      requests.push(recorded);
      respond(recorded, res);
    });
  });
  server.on("connection", (socket) => {
    connections++;
    (socket as unknown as { testId: number }).testId = connections;
    socket.on("close", () => closedConnections++);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/cryptoassets`,
    requests,
    connections: () => connections,
    closedConnections: () => closedConnections,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** A real pino logger writing JSON lines into an array, to assert on what was logged. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}
