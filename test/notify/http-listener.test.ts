import { execFile } from "node:child_process";
import { connect } from "node:net";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { NotifyConfigError, NotifyListenerStartError } from "../../src/errors.js";
import { CoalescingQueue } from "../../src/notify/coalescing-queue.js";
import { HttpNotifyListener } from "../../src/notify/http-listener.js";
import { waitFor } from "../support/wait.js";
import { captureLogs, deferred, randomHash } from "./helpers.js";

const execFileAsync = promisify(execFile);

const listeners: HttpNotifyListener[] = [];

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

async function startListener(onValue: (value: string) => void = () => {}) {
  const logs = captureLogs();
  const listener = new HttpNotifyListener({ port: 0 }, onValue, logs.logger);
  listeners.push(listener);
  await listener.start();
  return { listener, logs, url: `http://127.0.0.1:${listener.port}` };
}

/** The real curl binary, as bitcoind's walletnotify runs it; returns status and body. */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await execFileAsync("curl", ["-s", "-w", "\n%{http_code}", ...args]);
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut).replace(/\n$/, "") };
}

/** Sends raw bytes over TCP and returns whatever the server answers before closing. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      answer += chunk;
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.on("connect", () => socket.end(bytes));
  });
}

describe("HttpNotifyListener", () => {
  it('accepts the original `curl --data "txid=%s"` walletnotify command', async () => {
    const values: string[] = [];
    const { url, listener } = await startListener((value) => values.push(value));
    const txid = randomHash();
    const answer = await curl(["--data", `txid=${txid}`, url]);
    expect(answer).toEqual({ status: 200, body: "OK" });
    expect(values).toEqual([txid]);
    expect(listener.describe()).toBe(url);
  });

  it("accepts blockhash= and hash= forms, a bare body with or without content type, JSON, and the path", async () => {
    const values: string[] = [];
    const { url } = await startListener((value) => values.push(value));
    const hashes = Array.from({ length: 8 }, () => randomHash());
    const [h0, h1, h2, h3, h4, h5, h6, h7] = hashes as [string, ...string[]];

    expect((await curl(["--data", `blockhash=${h0}`, url])).status).toBe(200);
    expect((await curl(["--data", `hash=${h1}&wallet=main`, url])).status).toBe(200);
    const plain = await fetch(url, {
      method: "POST",
      body: `${h2}\n`,
      headers: { "content-type": "text/plain" },
    });
    expect(plain.status).toBe(200);
    // `-H "Content-Type:"` makes curl send no content type at all.
    expect((await curl(["--data-binary", h3 as string, "-H", "Content-Type:", url])).status).toBe(200);
    const json = await fetch(url, {
      method: "POST",
      body: JSON.stringify({ txid: h4 }),
      headers: { "content-type": "application/json" },
    });
    expect(json.status).toBe(200);
    expect((await curl(["-X", "POST", `${url}/${h5}`])).status).toBe(200);
    expect((await fetch(`${url}/${h6}`)).status).toBe(200);
    // Uppercase hex is the same hash: delivered lowercased.
    expect((await curl(["--data", `txid=${(h7 as string).toUpperCase()}`, url])).status).toBe(200);

    expect(values).toEqual(hashes);
  });

  it("answers 400 naming the problem for values that are not 64 hex characters, and keeps working", async () => {
    const values: string[] = [];
    const { url } = await startListener((value) => values.push(value));
    const cases: [string[], RegExp][] = [
      [["--data", "txid=nothex"], /"nothex" is not a txid or block hash: expected 64 hex characters/],
      [["--data", `txid=${"a".repeat(63)}`], /expected 64 hex characters, got 63/],
      [["--data", "wallet=main"], /form body has none of the fields txid, blockhash, hash/],
      [["-X", "POST", url], /request has no body/],
      [["--data-binary", "{not json", "-H", "Content-Type: application/json"], /JSON body is not valid JSON/],
      [["--data-binary", '{"txid": 5}', "-H", "Content-Type: application/json"], /none of the string fields/],
      [["-X", "POST", `${url}/zz${"0".repeat(62)}`], /not a txid or block hash/],
    ];
    for (const [args, message] of cases) {
      const answer = await curl([...args, url]);
      expect(answer.status, args.join(" ")).toBe(400);
      expect(answer.body).toMatch(message);
    }
    const binary = await fetch(url, {
      method: "POST",
      body: new Uint8Array([0, 255, 1, 0xc3, 0x28, 10, 13, 0]),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(binary.status).toBe(400);
    expect(await binary.text()).toMatch(/is not a txid or block hash/);
    expect((await fetch(`${url}/some/deep/path`)).status).toBe(404);
    expect((await fetch(`${url}/${"f".repeat(500)}`)).status).toBe(414);
    expect(values).toEqual([]);

    const txid = randomHash();
    expect((await curl(["--data", `txid=${txid}`, url])).status).toBe(200);
    expect(values).toEqual([txid]);
  });

  it("refuses an oversized body with 413 and survives raw garbage on the socket", async () => {
    const values: string[] = [];
    const { url, listener, logs } = await startListener((value) => values.push(value));
    const big = await fetch(url, { method: "POST", body: `txid=${"a".repeat(5000)}` });
    expect(big.status).toBe(413);
    expect(await big.text()).toContain("notification body exceeds 4096 bytes");

    const garbage = await rawRequest(listener.port, "\u0016\u0003\u0001 this is not HTTP at all\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    const hugeHeader = await rawRequest(listener.port, `POST / HTTP/1.1\r\nX: ${"y".repeat(70_000)}\r\n\r\n`);
    expect(hugeHeader).toMatch(/^HTTP\/1\.1 431/);

    const txid = randomHash();
    expect((await curl(["--data", `txid=${txid}`, url])).status).toBe(200);
    expect(values).toEqual([txid]);
    expect(logs.lines.some((line) => line.msg === "rejected notification" && line.status === 413)).toBe(true);
  });

  it("answers 200 before the work runs: the queue does the processing", async () => {
    const gate = deferred();
    const processed: string[] = [];
    const queue = new CoalescingQueue<string>(async (txid) => {
      await gate.promise;
      processed.push(txid);
    });
    const { url } = await startListener((txid) => {
      queue.push(txid);
    });
    const txid = randomHash();
    const answer = await curl(["--data", `txid=${txid}`, url]);
    expect(answer.status).toBe(200);
    expect(processed).toEqual([]);
    expect(queue.stats().running).toBe(1);
    gate.resolve();
    await queue.drain();
    expect(processed).toEqual([txid]);
  });

  it("answers 500 when the callback throws and logs a rejected promise, staying up", async () => {
    let mode: "throw" | "reject" | "ok" = "throw";
    const values: string[] = [];
    const { url, logs } = await startListener((value) => {
      if (mode === "throw") throw new Error("queue is closed");
      if (mode === "reject") return Promise.reject(new Error("async failure")) as unknown as undefined;
      values.push(value);
    });
    const first = await curl(["--data", `txid=${randomHash()}`, url]);
    expect(first).toEqual({ status: 500, body: "notification could not be queued" });
    mode = "reject";
    expect((await curl(["--data", `txid=${randomHash()}`, url])).status).toBe(200);
    await waitFor(
      "the rejected callback promise to be logged",
      () => logs.text().includes("async failure"),
      5_000,
      10,
    );
    mode = "ok";
    const txid = randomHash();
    expect((await curl(["--data", `txid=${txid}`, url])).status).toBe(200);
    expect(values).toEqual([txid]);
  });

  it("serves GET / as a usage line, reports a taken port, validates options, and stops on close", async () => {
    const { url, listener } = await startListener();
    const usage = await fetch(url);
    expect(usage.status).toBe(200);
    expect(await usage.text()).toContain('curl --data "txid=<64 hex>"');

    const clash = new HttpNotifyListener({ port: listener.port }, () => {});
    await expect(clash.start()).rejects.toThrow(NotifyListenerStartError);
    await expect(clash.start()).rejects.toThrow(`127.0.0.1:${listener.port}`);

    expect(() => new HttpNotifyListener({ port: 70000 }, () => {})).toThrow(NotifyConfigError);
    expect(() => new HttpNotifyListener({ port: -1 }, () => {})).toThrow(
      /port must be an integer 0\.\.65535/,
    );
    expect(new HttpNotifyListener({}, () => {}).describe()).toBe("http://127.0.0.1:28882");
    await expect(listener.start()).rejects.toThrow(/already started/);

    await listener.close();
    await expect(fetch(url)).rejects.toThrow();
    await listener.close(); // twice is harmless
  });
});
