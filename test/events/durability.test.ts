/**
 * Durability across a hard kill: a real child process commits a change with its event and
 * starts delivering it; it is SIGKILLed mid-delivery. A dispatcher started afterwards (here,
 * in the test process) delivers the same event — same event_id — once the lease expires.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, expect, it } from "vitest";
import { openDatabase } from "../../src/db/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { Dispatcher } from "../../src/events/dispatcher.js";
import { HttpEventHandler } from "../../src/events/handlers/index.js";
import { waitFor } from "../support/wait.js";

/** The built modules the child imports (the outbox and dispatcher are internal, not in dist/index.js). */
const dist = (module: string) =>
  JSON.stringify(pathToFileURL(join(import.meta.dirname, "../../dist", module)).href);
const dir = mkdtempSync(join(tmpdir(), "ca-durable-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("an event committed before a SIGKILL is delivered after restart", async () => {
  const bodies: string[] = [];
  let hang = true;
  let firstArrived: () => void = () => {};
  const arrived = new Promise<void>((resolve) => {
    firstArrived = resolve;
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      bodies.push(body);
      if (hang) {
        firstArrived(); // never answered: the child dies while waiting
        return;
      }
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const dbUrl = sqliteUrl(join(dir, "ledger.db"));

  const child = join(dir, "child.mjs");
  writeFileSync(
    child,
    `import { initializeDatabase, openDatabase, runSerializable } from ${dist("db/index.js")};
import { Dispatcher } from ${dist("events/dispatcher.js")};
import { HttpEventHandler } from ${dist("events/handlers/index.js")};
import { Outbox } from ${dist("events/outbox/index.js")};
const ca = { initializeDatabase, openDatabase, runSerializable, Dispatcher, HttpEventHandler, Outbox };
const database = await ca.openDatabase(${JSON.stringify(dbUrl)});
await ca.initializeDatabase(database);
const outbox = new ca.Outbox(database, ["app"]);
await ca.runSerializable(database, (trx) => outbox.writeTxUpdates(trx, [{
  coin_name: "btc", transaction: 1, network_transaction: 1, transaction_type: "deposit",
  txid: "${"cd".repeat(32)}", account: 1, address: "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm",
  amount: "1.50000000", credited: false, confirmations: 0 }]));
const handler = new ca.HttpEventHandler("app", { url: ${JSON.stringify(url)}, timeout: 1 });
const dispatcher = new ca.Dispatcher({ database, handlers: [handler], leaseMarginMs: 500, pollIntervalMs: 100 });
await dispatcher.start();
console.log("committed");
setInterval(() => {}, 1000);
`,
  );
  const proc = spawn(process.execPath, [child], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve(signal ?? code)));
  await arrived;
  proc.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");

  hang = false;
  const database = await openDatabase(dbUrl);
  const handler = new HttpEventHandler("app", { url, timeout: 1 });
  const dispatcher = new Dispatcher({
    database,
    handlers: [handler],
    pollIntervalMs: 100,
    leaseMarginMs: 500,
  });
  await dispatcher.start();
  try {
    await waitFor(
      "the event to be redelivered after the crash",
      () => (dispatcher.counters.get("app")?.delivered ?? 0) >= 1,
      10_000,
      50,
    );
  } finally {
    await dispatcher.stop();
    await handler.close();
    await database.close();
    server.close();
  }
  expect(bodies.length).toBeGreaterThanOrEqual(2);
  const ids = bodies.map((b) => new URLSearchParams(b).get("event_id"));
  expect(new Set(ids).size).toBe(1); // the redelivery carries the same event_id
  expect(JSON.parse(new URLSearchParams(bodies.at(-1)).get("data") ?? "{}")).toMatchObject({
    amount: "1.50000000",
    confirmations: 0,
  });
});
