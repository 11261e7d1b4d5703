/**
 * Recovery of interrupted broadcasts on a shared daemon wallet (issue 10, fault 2) on the
 * simulator: ./recovery-scenarios.ts, which test/real-node/money-faults.test.ts runs on real
 * Bitcoin Core. Here also: the ledger id migration 0002 gives an existing database.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Kysely, Migrator } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { initializeDatabase, openDatabase } from "../../src/db/index.js";
import { migrations } from "../../src/db/migrations/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { commentOf, Ledger } from "../../src/ledger/index.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { recoveryScenarios } from "./recovery-scenarios.js";

let sim: Simulator;
let payer: BitcoindRpcClient;
let payerAddress: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  const root = new BitcoindRpcClient({ url: sim.url });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  await root.close();
  payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
  payerAddress = String(await payer.call("getnewaddress"));
  await payer.call("generatetoaddress", [101, payerAddress]);
});
afterAll(async () => {
  await payer?.close();
  await sim?.close();
});

describe("recovering interrupted broadcasts on a wallet shared by several ledgers (simulator)", () => {
  recoveryScenarios(() => ({
    url: sim.url,
    mine: async (n) => {
      await payer.call("generatetoaddress", [n, payerAddress]);
      await sim.notificationsIdle();
    },
  }));
});

describe("the ledger id", () => {
  it("a database from before migration 0005 gets one; its open broadcasts keep the old comment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-ledger-id-"));
    const database = await openDatabase(sqliteUrl(join(dir, "old.db")));
    try {
      const migrator = new Migrator({
        db: database.db as unknown as Kysely<unknown>,
        provider: { getMigrations: async () => migrations(database.engine) },
        migrationTableName: "ca_migration",
        migrationLockTableName: "ca_migration_lock",
      });
      expect((await migrator.migrateTo("0004_send_failures")).error).toBeUndefined();
      const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
      await db
        .insertInto("ca_wallet")
        .values({ id: 1, coin: "btc", name: "default", created_at: 1 })
        .execute();
      const old = {
        wallet_id: 1,
        txid: null,
        transaction_type: "broadcast",
        confirmations: -1,
        tracked: 1,
        opened_at: 1,
        created_at: 1,
        updated_at: 1,
      };
      await db
        .insertInto("ca_network_transaction")
        .values({ id: 7, ...old })
        .execute();

      // 0005 and whatever came after it.
      expect((await initializeDatabase(database)).applied).toContain("0005_broadcast_identity");
      const ids = await database.db.selectFrom("ca_ledger").select("ledger_id").execute();
      expect(ids).toHaveLength(1);
      expect(ids[0]?.ledger_id).toMatch(/^[0-9a-f]{16}$/);
      const row = await database.db
        .selectFrom("ca_network_transaction")
        .selectAll()
        .where("id", "=", 7)
        .executeTakeFirstOrThrow();
      expect(row.comment).toBeNull();
      expect(commentOf(row)).toBe("cryptoassets:ntx:7");
      const ledger = await Ledger.open({ database, coin: "btc", network: "regtest" });
      expect(ledger.ctx.ledgerId).toBe(ids[0]?.ledger_id);
      // Idempotent: the id stays.
      expect((await initializeDatabase(database)).applied).toEqual([]);
      expect(await database.db.selectFrom("ca_ledger").select("ledger_id").execute()).toEqual(ids);
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every new database has its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-ledger-id-"));
    const ids: string[] = [];
    try {
      for (const name of ["one", "two"]) {
        const database = await openDatabase(sqliteUrl(join(dir, `${name}.db`)));
        await initializeDatabase(database);
        ids.push((await Ledger.open({ database, coin: "btc", network: "regtest" })).ctx.ledgerId);
        await database.close();
      }
      expect(ids[0]).not.toBe(ids[1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
