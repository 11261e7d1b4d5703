/**
 * `cryptoassets helper-service` end to end, every part real and in its own process: the
 * simulator (`simulate-bitcoind` child, notifying through curl), the helper service child
 * reading a YAML file, and a webhook receiver in this test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindBackend } from "../../src/backends/bitcoind/backend.js";
import { type Database, openDatabase } from "../../src/db/open.js";
import { sqliteUrl } from "../../src/db/url.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { waitFor } from "../support/wait.js";
import { writeConfigFile } from "./config-file.js";
import { type Regtest, startRegtestChild } from "./regtest.js";
import {
  type CliProcess,
  freePort,
  getJson,
  killChild,
  runCli,
  startTestReceiver,
  type TestReceiver,
} from "./support.js";

describe("cryptoassets helper-service (child processes)", () => {
  let dir: string;
  let regtest: Regtest;
  let receiver: TestReceiver;
  let walletnotifyPort: number;
  let blocknotifyPort: number;
  const children: CliProcess[] = [];
  const databases: Database[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-service-cli-"));
    walletnotifyPort = await freePort();
    blocknotifyPort = await freePort();
    regtest = await startRegtestChild({ walletnotify: walletnotifyPort, blocknotify: blocknotifyPort });
    receiver = await startTestReceiver();
  });

  afterAll(async () => {
    await Promise.allSettled(children.map((child) => killChild(child)));
    await Promise.allSettled(databases.map((database) => database.close()));
    await receiver?.close();
    await regtest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("credits a deposit, delivers confirmations 0..15 in order, and exits 0 on SIGTERM", async () => {
    const statusPort = await freePort();
    const databaseUrl = sqliteUrl(join(dir, "service.db"));
    const configPath = writeConfigFile(dir, {
      databaseUrl,
      rpcUrl: regtest.url,
      statusPort,
      receiverUrl: receiver.url,
      walletnotifyPort,
      blocknotifyPort,
    });
    const service = runCli(["helper-service", configPath]);
    children.push(service);
    const status = `http://127.0.0.1:${statusPort}`;
    await waitFor("a healthy service", async () =>
      (await fetch(`${status}/health`)).status === 200 ? true : undefined,
    );

    // The application side: the same database, its own ledger handle.
    const database = await openDatabase(databaseUrl);
    databases.push(database);
    const backend = new BitcoindBackend({ url: regtest.url, wallet: "ours" });
    const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
    const account = await ledger.createAccount("alice");
    const { address } = await ledger.createReceivingAddress(account.id);
    const txid = await regtest.pay(address, "0.25");

    const confirmationsOf = () => receiver.eventsFor(address).map((event) => event.data.confirmations);
    // The simulator runs notify commands one at a time: the 101 funding blocks' curls come
    // first, which on a loaded machine takes tens of seconds.
    await waitFor("the mempool event", () => (confirmationsOf().includes(0) ? true : undefined), 60_000);
    for (let height = 1; height <= 15; height++) {
      await regtest.mine(1);
      await waitFor(`confirmation ${height}`, () => (confirmationsOf().includes(height) ? true : undefined));
    }

    const events = receiver.eventsFor(address);
    expect(events.map((event) => event.data.confirmations)).toEqual([...Array(16).keys()]);
    expect(events.every((event) => event.data.txid === txid && event.data.amount === "0.25000000")).toBe(
      true,
    );
    expect(events.map((event) => event.data.credited)).toEqual([...Array(16).keys()].map((n) => n >= 3));
    expect(events.map((event) => event.event_id)).toEqual([...events.map((event) => event.event_id)].sort());
    expect((await ledger.accountBalance(account.id)).confirmed).toBe(25_000_000n);

    const snapshot = await getJson<{
      open_transactions: unknown[];
      coins: Array<{ tip: { height: number } }>;
    }>(`${status}/status.json`);
    expect(snapshot.body.open_transactions).toEqual([]); // final at 15: no longer tracked
    expect(snapshot.body.coins[0]?.tip.height).toBe(101 + 15);
    await backend.close();

    const started = Date.now();
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000 + 2000);
    expect(service.output()).toMatch(/helper service stopped/);
    await expect(fetch(`${status}/health`)).rejects.toThrow();
  }, 90_000);

  it("exits 2 and says why when a subsystem dies (its status port is taken)", async () => {
    const blocker: Server = createServer((_req, res) => res.end("taken"));
    const statusPort = await freePort();
    await new Promise<void>((resolve) => blocker.listen(statusPort, "127.0.0.1", resolve));
    try {
      const configPath = writeConfigFile(
        dir,
        {
          databaseUrl: sqliteUrl(join(dir, "taken.db")),
          rpcUrl: regtest.url,
          statusPort,
          receiverUrl: receiver.url,
        },
        "taken.yaml",
      );
      const service = runCli(["helper-service", configPath]);
      children.push(service);
      expect(await service.exited).toBe(2);
      expect(service.output()).toMatch(/subsystem status-server failed: status server could not listen/);
      expect(service.output()).not.toContain("cryptoassets:cryptoassets@");
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 30_000);
});
