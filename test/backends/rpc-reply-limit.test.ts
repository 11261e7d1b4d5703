/**
 * Fault 5 of issue 10: the RPC client read and parsed a whole reply, however large. It now
 * stops at the configured limit while the body streams in: a real HTTP server on loopback
 * streams a reply far larger than the limit and sees the client hang up after about the
 * limit; the error names the method, the limit and the config key.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { BackendError, RpcReplyTooLargeError } from "../../src/errors.js";
import { createBackend } from "../../src/service/coin-runtime.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";

const CHUNK = Buffer.alloc(64 * 1024, 0x20); // JSON whitespace
const TOTAL_CHUNKS = 800; // 50 MiB if nobody hangs up

interface StreamingServer {
  url: string;
  /** Bytes written before the client went away (or all of them). */
  written(): Promise<number>;
  close(): Promise<void>;
}

/** Answers every request with a ~50 MiB JSON-RPC reply, chunk by chunk (optionally announcing its length). */
async function streamingServer(announceLength: boolean): Promise<StreamingServer> {
  let resolveWritten: (bytes: number) => void = () => undefined;
  const written = new Promise<number>((resolve) => {
    resolveWritten = resolve;
  });
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const head = Buffer.from('{"result":"');
      const tail = Buffer.from('","error":null,"id":1}');
      const headers: Record<string, string | number> = { "Content-Type": "application/json" };
      if (announceLength) headers["Content-Length"] = head.length + CHUNK.length * TOTAL_CHUNKS + tail.length;
      res.writeHead(200, headers);
      res.write(head);
      let bytes = head.length;
      let sent = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        resolveWritten(bytes);
      };
      res.on("close", finish);
      const pump = () => {
        while (sent < TOTAL_CHUNKS && !res.destroyed) {
          sent++;
          bytes += CHUNK.length;
          if (!res.write(CHUNK)) {
            res.once("drain", pump);
            return;
          }
        }
        if (!res.destroyed) res.end(tail, finish);
      };
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://user:pw@127.0.0.1:${port}/`,
    written: () => written,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("the RPC reply size limit", () => {
  let server: StreamingServer | undefined;
  let client: BitcoindRpcClient | undefined;
  let sim: Simulator | undefined;
  afterEach(async () => {
    await client?.close();
    await server?.close();
    await sim?.close();
    client = server = sim = undefined;
  });

  it("stops reading a streamed reply at the limit, with an error naming method, limit and config key", async () => {
    server = await streamingServer(false);
    const limit = 1024 * 1024;
    client = new BitcoindRpcClient({
      url: server.url,
      maxReplyBytes: limit,
      maxReplyConfigKey: "coins.btc.backend.max_reply_mb",
    });
    const error = await client.call("listsinceblock", ["", 1, true, true]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RpcReplyTooLargeError);
    expect(error).toBeInstanceOf(BackendError);
    const tooLarge = error as RpcReplyTooLargeError;
    expect(tooLarge.code).toBe("CA_ERR_RPC_REPLY_TOO_LARGE");
    expect(tooLarge).toMatchObject({ method: "listsinceblock", limitBytes: limit });
    expect(tooLarge.message).toMatch(
      /^listsinceblock: the reply of bitcoind at http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\//,
    );
    expect(tooLarge.message).toContain("reply size limit of 1048576 bytes (1.00 MiB)");
    expect(tooLarge.message).toContain("coins.btc.backend.max_reply_mb");
    expect(tooLarge.message).not.toContain(":pw@");
    // The server saw the client hang up long before its 50 MiB were out.
    const written = await server.written();
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(written).toBeGreaterThan(limit);
  });

  it("refuses at once a reply whose announced length is over the limit", async () => {
    server = await streamingServer(true);
    client = new BitcoindRpcClient({ url: server.url, maxReplyBytes: 4096 });
    const error = await client.call("getblock", ["00"]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RpcReplyTooLargeError);
    expect((error as Error).message).toContain("backend.max_reply_mb");
    expect(await server.written()).toBeLessThan(16 * 1024 * 1024);
  });

  it("reads replies under the limit, and the limit set in MiB by the coin's backend config", async () => {
    sim = await startSimulator({ port: 0 });
    const small = createBackend("btc", { class: "bitcoind", url: sim.url, max_reply_mb: 0.0001 });
    const roomy = createBackend("btc", { class: "bitcoind", url: sim.url });
    try {
      expect((await roomy.getTip()).height).toBe(0);
      // getblockchaininfo is a few hundred bytes: over 0.0001 MiB (104 bytes).
      const error = await small.getTip().catch((err: unknown) => err);
      expect(error).toBeInstanceOf(RpcReplyTooLargeError);
      expect((error as RpcReplyTooLargeError).limitBytes).toBe(104);
      expect((error as Error).message).toContain("getblockchaininfo: ");
      expect((error as Error).message).toContain("Raise coins.btc.backend.max_reply_mb");
      // The client is still usable after a reply was cut off.
      const again = await small.getTip().catch((err: unknown) => err);
      expect(again).toBeInstanceOf(RpcReplyTooLargeError);
    } finally {
      await small.close();
      await roomy.close();
    }
  });
});
