/**
 * BitcoindRpcClient over real HTTP on loopback: Bitcoin Core's error codes (recorded replies
 * 37–44), batches, keep-alive, and every way a request can fail without a JSON-RPC answer —
 * with the password masked in every message and log line.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { BitcoindRpcClient, maskUrl, parseRpcUrl } from "../../src/backends/bitcoind/index.js";
import {
  InsufficientFundsError,
  InvalidAddressOrKeyError,
  InvalidParameterError,
  MethodNotFoundError,
  type RpcError,
  RpcTransportError,
  TransactionNotFoundError,
  WalletNotFoundError,
  WalletNotSpecifiedError,
} from "../../src/errors.js";
import { closeServer, listen, loadRecording, startFixedServer, startReplayServer } from "./replay-server.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(url: string, options: { timeoutMs?: number; wallet?: string } = {}): BitcoindRpcClient {
  const c = new BitcoindRpcClient({ url, ...options });
  cleanups.push(() => c.close());
  return c;
}

async function replay(numbers: number[], options?: { user?: string; password?: string }) {
  const server = await startReplayServer(
    numbers.map((n) => loadRecording(n)),
    options,
  );
  cleanups.push(() => server.close());
  return server;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const result = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(result instanceof Error)) throw new Error("expected the call to fail");
  return result;
}

/** A port nothing listens on: bind an ephemeral one, then release it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("Bitcoin Core error replies map to typed errors", () => {
  it("37: unknown txid → TransactionNotFoundError -5 (HTTP 500 with a JSON error)", async () => {
    const server = await replay([37]);
    const err = await failure(
      client(`${server.base}/wallet/ours`).call("gettransaction", [
        "89741a71cd611375e8e0e4e8f398ad79d57e690de39a293cd0b1bc7464c2025d",
      ]),
    );
    expect(err).toBeInstanceOf(TransactionNotFoundError);
    expect((err as RpcError).rpcCode).toBe(-5);
    expect((err as RpcError).method).toBe("gettransaction");
  });

  it("38: coinbase of another wallet → TransactionNotFoundError", async () => {
    const server = await replay([38]);
    const err = await failure(
      client(`${server.base}/wallet/ours`).call("gettransaction", [
        "90cfe166de76d5a8180a33bb063cd8f99adb6d4fe190bd0c2ff445b630a94148",
      ]),
    );
    expect(err).toBeInstanceOf(TransactionNotFoundError);
  });

  it("39: malformed txid → InvalidParameterError -8 with the daemon's message", async () => {
    const server = await replay([39]);
    const err = await failure(client(`${server.base}/wallet/ours`).call("gettransaction", ["nothex"]));
    expect(err).toBeInstanceOf(InvalidParameterError);
    expect((err as RpcError).rpcCode).toBe(-8);
    expect(err.message).toContain("txid must be of length 64 (not 6, for 'nothex')");
  });

  it("40: bad address → InvalidAddressOrKeyError -5, not a missing transaction", async () => {
    const server = await replay([40]);
    const err = await failure(
      client(`${server.base}/wallet/ours`).call("sendtoaddress", ["notanaddress", 1]),
    );
    expect(err).toBeInstanceOf(InvalidAddressOrKeyError);
    expect(err).not.toBeInstanceOf(TransactionNotFoundError);
    expect((err as RpcError).rpcMessage).toBe("Invalid Bitcoin address: notanaddress");
  });

  it("41: insufficient funds → InsufficientFundsError -6", async () => {
    const server = await replay([41]);
    const err = await failure(
      client(`${server.base}/wallet/ours`).call("sendtoaddress", [
        "bcrt1qndamp9rzqwtdy8ywmlwlmwfwnatupju3acu94j",
        100000,
      ]),
    );
    expect(err).toBeInstanceOf(InsufficientFundsError);
    expect((err as RpcError).rpcCode).toBe(-6);
  });

  it("42: unknown wallet → WalletNotFoundError -18 (wallet given as an option)", async () => {
    const server = await replay([42]);
    const err = await failure(client(server.base, { wallet: "nosuchwallet" }).call("getbalance"));
    expect(server.requests[0]?.path).toBe("/wallet/nosuchwallet");
    expect(err).toBeInstanceOf(WalletNotFoundError);
    expect((err as RpcError).rpcCode).toBe(-18);
  });

  it("43: no wallet in the path with two loaded → WalletNotSpecifiedError -19", async () => {
    const server = await replay([43]);
    const err = await failure(client(`${server.base}/`).call("getnewaddress"));
    expect(err).toBeInstanceOf(WalletNotSpecifiedError);
    expect(err.message).toContain("/wallet/<walletname>");
  });

  it("44: unknown method → MethodNotFoundError -32601 (HTTP 404 with a JSON error)", async () => {
    const server = await replay([44]);
    const err = await failure(client(`${server.base}/`).call("nosuchmethod"));
    expect(err).toBeInstanceOf(MethodNotFoundError);
    expect((err as RpcError).rpcCode).toBe(-32601);
  });
});

describe("batch requests", () => {
  it("one HTTP request; results and per-call errors matched back by id, in call order", async () => {
    const server = await replay([45, 37, 10, 46]);
    const c = client(`${server.base}/wallet/ours`);
    const outcomes = await c.batch([
      { method: "listwallets" },
      {
        method: "gettransaction",
        params: ["89741a71cd611375e8e0e4e8f398ad79d57e690de39a293cd0b1bc7464c2025d"],
      },
      { method: "getblockcount" },
    ]);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.batch).toBe(true);
    const ids = (JSON.parse(server.requests[0]?.body ?? "[]") as Array<{ id: number }>).map(
      (call) => call.id,
    );
    expect(new Set(ids).size).toBe(3);
    expect(outcomes[0]).toEqual({ ok: true, result: ["payer", "ours"] });
    expect(outcomes[1]?.ok).toBe(false);
    expect(outcomes[1]?.ok === false && outcomes[1].error).toBeInstanceOf(TransactionNotFoundError);
    expect(outcomes[2]?.ok === true && String(outcomes[2].result)).toBe("101");
    expect(c.stats()).toEqual({
      requests: 1,
      calls: { listwallets: 1, gettransaction: 1, getblockcount: 1 },
    });
  });

  it("an empty batch sends nothing", async () => {
    const server = await replay([]);
    expect(await client(server.base).batch([])).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });
});

describe("connections", () => {
  it("keeps the connection alive across calls", async () => {
    const server = await replay([9, 10]);
    const c = client(server.base);
    for (let i = 0; i < 5; i++) {
      expect(await c.call(i % 2 ? "getbestblockhash" : "getblockcount")).toBeDefined();
    }
    expect(server.requests).toHaveLength(5);
    expect(server.connections()).toBe(1);
    expect(c.stats().requests).toBe(5);
  });

  it("re-sends a read-only call once when the daemon closed the pooled socket, never a send", async () => {
    // Like bitcoind after -rpcservertimeout: the second request on a kept-alive socket finds it closed.
    const perSocket = new Map<Socket, number>();
    const sockets = new Set<Socket>();
    let answered = 0;
    const server = createHttpServer((req, res) => {
      const count = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, count);
      if (count > 1) {
        req.socket.destroy();
        return;
      }
      req.resume();
      req.on("end", () => {
        answered++;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end('{"result":101,"error":null,"id":1}');
      });
    });
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    const port = await listen(server);
    cleanups.push(() => closeServer(server, sockets));
    const c = client(`http://rpcuser:s3cret-pw@127.0.0.1:${port}/`);
    await c.call("getblockcount");
    expect(String(await c.call("getblockcount"))).toBe("101");
    expect(answered).toBe(2);
    expect(c.stats().requests).toBe(3);
    const err = await failure(c.call("sendmany", ["", {}]));
    expect((err as RpcTransportError).failure).toBe("network");
    expect(answered).toBe(2);
  });

  it("a slow answer outlasting the idle-socket timeout still arrives", async () => {
    const slow = createHttpServer((req, res) => {
      req.resume();
      req.on("end", () =>
        setTimeout(() => {
          res.writeHead(200, { "Content-Type": "application/json" });
          res.end('{"result":7,"error":null,"id":1}');
        }, 400),
      );
    });
    const port = await listen(slow);
    cleanups.push(() => closeServer(slow));
    const c = new BitcoindRpcClient({ url: `http://u:p@127.0.0.1:${port}/`, idleSocketTimeoutMs: 100 });
    cleanups.push(() => c.close());
    expect(String(await c.call("getblockcount"))).toBe("7");
  });

  it("a closed client refuses further calls", async () => {
    const server = await replay([10]);
    const c = client(server.base);
    await c.close();
    await expect(c.call("getblockcount")).rejects.toThrow(/closed/);
    expect(server.requests).toHaveLength(0);
  });
});

describe("transport failures", () => {
  it("HTTP 401 with a wrong password says the credentials are wrong, password masked", async () => {
    const server = await replay([10]);
    const wrong = `http://rpcuser:wrong-Pa55@127.0.0.1:${server.port}/`;
    const err = await failure(client(wrong).call("getblockcount"));
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as RpcTransportError).failure).toBe("unauthorized");
    expect((err as RpcTransportError).status).toBe(401);
    expect(err.message).toMatch(/credentials/);
    expect(err.message).toContain(`http://rpcuser:***@127.0.0.1:${server.port}/`);
    expect(err.message).not.toContain("wrong-Pa55");
    expect((err as RpcTransportError).url).not.toContain("wrong-Pa55");
  });

  it("times out against a daemon that never answers", async () => {
    const hanging = await startFixedServer(null);
    cleanups.push(() => hanging.close());
    const started = Date.now();
    const err = await failure(client(hanging.url, { timeoutMs: 200 }).call("getblockcount"));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as RpcTransportError).failure).toBe("timeout");
    expect(err.message).toContain("200 ms");
    expect(err.message).not.toContain("s3cret-pw");
  });

  it("a per-call timeout overrides the client's", async () => {
    const hanging = await startFixedServer(null);
    cleanups.push(() => hanging.close());
    const err = await failure(client(hanging.url).call("getblockcount", [], { timeoutMs: 100 }));
    expect((err as RpcTransportError).failure).toBe("timeout");
    expect(err.message).toContain("100 ms");
  });

  it("connection refused names the masked URL", async () => {
    const port = await closedPort();
    const err = await failure(
      client(`http://rpcuser:s3cret-pw@127.0.0.1:${port}/wallet/ours`).call("getblockcount"),
    );
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as RpcTransportError).failure).toBe("refused");
    expect(err.message).toContain(`http://rpcuser:***@127.0.0.1:${port}/wallet/ours`);
    expect(err.message).not.toContain("s3cret-pw");
  });

  it("a garbage body with HTTP 200 is an invalid response", async () => {
    const garbage = await startFixedServer({ status: 200, body: "<html>proxy says hello</html>" });
    cleanups.push(() => garbage.close());
    const err = await failure(client(garbage.url).call("getblockcount"));
    expect((err as RpcTransportError).failure).toBe("invalid-response");
    expect(err.message).toContain("not JSON");
    expect(err.message).toContain("proxy says hello");
  });

  it("HTTP 500 without a JSON body is an HTTP status failure", async () => {
    const broken = await startFixedServer({ status: 500, body: "Internal Server Error" });
    cleanups.push(() => broken.close());
    const err = await failure(client(broken.url).call("getblockcount"));
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as RpcTransportError).failure).toBe("http-status");
    expect((err as RpcTransportError).status).toBe(500);
    expect(err.message).toContain("HTTP 500");
  });

  it("HTTP 503 with JSON but no error member is an HTTP status failure", async () => {
    const busy = await startFixedServer({
      status: 503,
      body: '{"result":null,"error":null,"id":1}',
      contentType: "application/json",
    });
    cleanups.push(() => busy.close());
    const err = await failure(client(busy.url).call("getblockcount"));
    expect((err as RpcTransportError).failure).toBe("http-status");
    expect((err as RpcTransportError).status).toBe(503);
  });

  it("never logs the password", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const logger = pino({ level: "debug" }, sink);
    const server = await replay([10]);
    const good = new BitcoindRpcClient({ url: server.base, logger });
    const bad = new BitcoindRpcClient({ url: `http://rpcuser:wrong-Pa55@127.0.0.1:${server.port}/`, logger });
    cleanups.push(
      () => good.close(),
      () => bad.close(),
    );
    await good.call("getblockcount");
    await failure(bad.call("getblockcount"));
    const text = lines.join("");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(text).toContain("rpcuser:***@");
    expect(text).not.toContain("s3cret-pw");
    expect(text).not.toContain("wrong-Pa55");
  });
});

describe("RPC URLs", () => {
  it("masks the password and moves credentials into the Authorization header", () => {
    const endpoint = parseRpcUrl("http://alice:p%40ss@127.0.0.1:18443/wallet/ours");
    expect(endpoint.masked).toBe("http://alice:***@127.0.0.1:18443/wallet/ours");
    expect(endpoint.url.toString()).toBe("http://127.0.0.1:18443/wallet/ours");
    expect(endpoint.authorization).toBe(`Basic ${Buffer.from("alice:p@ss").toString("base64")}`);
  });

  it("a wallet option replaces the URL's wallet path and is encoded", () => {
    expect(parseRpcUrl("http://u:p@host:1/wallet/old", "my wallet").url.pathname).toBe("/wallet/my%20wallet");
    expect(parseRpcUrl("http://u:p@host:1").url.pathname).toBe("/");
  });

  it("rejects URLs that are not http(s), without echoing the password", () => {
    expect(() => parseRpcUrl("ftp://u:hunter22@host/")).toThrow(/http/);
    expect(() => parseRpcUrl("ftp://u:hunter22@host/")).not.toThrow(/hunter22/);
    expect(() => parseRpcUrl("not a url")).toThrow(/not a valid URL/);
  });

  it("maskUrl masks only the password", () => {
    expect(maskUrl("http://user:pw@host:8332/")).toBe("http://user:***@host:8332/");
    expect(maskUrl("http://host:8332/")).toBe("http://host:8332/");
  });

  it("refuses a non-positive timeout", () => {
    expect(() => new BitcoindRpcClient({ url: "http://u:p@127.0.0.1:1/", timeoutMs: 0 })).toThrow(/timeout/);
  });
});
