/**
 * Hostile input for the HTTP walletnotify listener, bounded: thousands of random bodies,
 * paths, content types and oversized requests interleaved with real notifications. Nothing
 * crashes, nothing answers 5xx, only the real txids reach the callback, memory stays flat.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HttpNotifyListener } from "../../src/notify/index.js";

let listener: HttpNotifyListener;
const received: string[] = [];

beforeAll(async () => {
  listener = new HttpNotifyListener({ ip: "127.0.0.1", port: 0 }, (value) => {
    received.push(value);
  });
  await listener.start();
});
afterAll(async () => listener?.close());

function send(method: string, path: string, body: Buffer, contentType?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: listener.port,
        method,
        path,
        // A fresh connection per request: the server may close one after a 4xx, and a
        // client reusing it would report its own race, not the listener's behaviour.
        agent: false,
        headers: contentType ? { "content-type": contentType } : {},
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    // The server may answer early (413, 400) and close before reading the whole body; the
    // client then sees a reset or a parse error on the rest. Counted, not a listener failure.
    req.on("error", () => resolve(-1));
    req.end(body);
  });
}

let seed = 7;
const random = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};

it("survives 3,000 hostile requests and still accepts real notifications", async () => {
  const contentTypes = [
    undefined,
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json",
    "image/png",
  ];
  const realTxids: string[] = [];
  const statuses = new Map<number, number>();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 3000; i++) {
    let status: number;
    if (i % 100 === 0) {
      const txid = randomBytes(32).toString("hex");
      realTxids.push(txid);
      status = await send("POST", "/", Buffer.from(`txid=${txid}`), "application/x-www-form-urlencoded");
      expect(status).toBe(200);
    } else {
      const size = i % 500 === 1 ? 200_000 : random(2048);
      // Hex of any length but 32 bytes: a 64-hex value would be a valid notification.
      const notTxidHex = () => randomBytes([0, 1, 16, 31, 33, 40, 64][random(7)] as number).toString("hex");
      const body = random(3) === 0 ? Buffer.from(`txid=${notTxidHex()}`) : randomBytes(size);
      const path = random(4) === 0 ? `/${notTxidHex()}` : random(2) ? "/" : "/%zz%00";
      const method = ["POST", "GET", "PUT"][random(3)] as string;
      status = await send(method, path, body, contentTypes[random(contentTypes.length)]);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  // Only 2xx and 4xx answers, or a connection the server cut after rejecting a request early
  // (413 before the body was read): never a server error.
  for (const status of statuses.keys()) expect(status === -1 || (status >= 200 && status < 500)).toBe(true);
  expect(received).toEqual(realTxids);
  const growthMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  expect(growthMiB).toBeLessThan(64);
  console.log(
    `[figures] http listener fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}, heap +${growthMiB.toFixed(1)} MiB`,
  );
}, 120_000);
