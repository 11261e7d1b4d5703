/** reconcile and import-balance against the simulator (the same scenario runs on Bitcoin Core in test/real-node). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindBackend } from "../../src/backends/bitcoind/backend.js";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { initializeDatabase, openDatabase, sqliteUrl } from "../../src/db/index.js";
import { bookBalanceImport, Ledger, openBroadcast, reconcile } from "../../src/ledger/index.js";
import { type Regtest, startRegtestInProcess } from "../service/regtest.js";
import { type ReconcileDaemon, reconcileScenario } from "./reconcile-scenario.js";

describe("cryptoassets wallet reconcile / import-balance on the simulator", () => {
  let dir: string;
  let regtest: Regtest;
  let daemon: ReconcileDaemon;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-reconcile-"));
    regtest = await startRegtestInProcess();
    daemon = { ...regtest, ours: new BitcoindRpcClient({ url: regtest.url, wallet: "ours" }) };
  });
  afterAll(async () => {
    await daemon?.ours.close();
    await regtest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to import while a broadcast is interrupted (its sends may or may not be paid)", async () => {
    const database = await openDatabase(sqliteUrl(join(dir, "interrupted.db")));
    const backend = new BitcoindBackend({ url: regtest.url, wallet: "ours" });
    try {
      await initializeDatabase(database);
      const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
      const account = await ledger.createAccount("treasury");
      const payee = regtest.payerAddress;
      await ledger.run((trx, ctx) => bookBalanceImport(trx, ctx, account.id, 100_000n));
      const send = await ledger.send(account.id, payee, 50_000n);
      await ledger.run((trx, ctx) => openBroadcast(trx, ctx, [send]));
      await expect(ledger.importBalance("treasury")).rejects.toThrow(
        /^import-balance refused: 1 interrupted broadcast\(s\) of 0\.00050000 btc: the daemon may have paid them or not; resolve them first \(cryptoassets broadcasts list\)$/,
      );
      expect((await ledger.reconcile()).ledger).toMatchObject({
        interruptedSends: 50_000n,
        interruptedBroadcasts: 1,
      });
    } finally {
      await backend.close();
      await database.close();
    }
  });

  it("books the wallet's unaccounted balance once, stays balanced through a deposit and a send, and refuses when short", async () => {
    await reconcileScenario(daemon, dir);
  }, 120_000);
});

describe("reconcile: the two views", () => {
  const block = { hash: "b".repeat(64), height: 200 };
  const ledger = {
    credited: 1000n,
    incomingConfirmed: 0n,
    incomingMempool: 0n,
    pendingSends: 0n,
    interruptedSends: 0n,
    interruptedBroadcasts: 0,
    lastBlock: block,
  };
  const daemon = (trusted: bigint, untrustedPending: bigint) => ({
    trusted,
    untrustedPending,
    immature: 0n,
    lastProcessedBlock: block,
  });

  it("an outsider's mempool payment the service has not recorded yet is not importable", () => {
    expect(reconcile(daemon(1000n, 70n), ledger, block)).toMatchObject({
      unaccounted: 70n,
      unaccountedConfirmed: 0n,
      importable: 0n,
      status: "balanced",
    });
  });

  it("our own unconfirmed payment to an address of this wallet (trusted at once in Core) is not importable", () => {
    // 300 moved from one account to a deposit of another, seen in the mempool; fee 10.
    const moved = { ...ledger, credited: 690n, incomingMempool: 300n };
    expect(reconcile(daemon(990n, 0n), moved, block)).toMatchObject({
      unaccounted: 0n,
      unaccountedConfirmed: 300n,
      importable: 0n,
      status: "balanced",
    });
  });

  it("less in the daemon than the ledger owes, in either view, is short", () => {
    expect(reconcile(daemon(900n, 100n), ledger, block)).toMatchObject({
      difference: -100n,
      status: "short",
    });
    expect(reconcile(daemon(1200n, 0n), ledger, { ...block, hash: "c".repeat(64) })).toMatchObject({
      importable: 200n,
      status: "unaccounted",
      ledgerAtDaemonBlock: false,
    });
  });
});
