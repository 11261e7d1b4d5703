/**
 * Recovery of interrupted broadcasts when the daemon's wallet is shared (issue 10, fault 2),
 * against whichever daemon the calling file starts (the simulator in
 * ./recovery.test.ts, real Bitcoin Core in test/real-node/money-faults.test.ts). Each ledger
 * is the production composition (CoinRuntime on its own SQLite file) with a faulty proxy in
 * front of the one wallet `ours`, so a test can lose sendmany's answer ("slow": the daemon
 * pays, the answer never comes) or keep the call from the daemon ("http500": nobody pays).
 *
 * Ids of network transactions restart in every database, so two ledgers funded the same way
 * open broadcasts with the same ids; a copied database (a restored backup, a staging copy)
 * even has the same ledger id. In none of these may recovery close a broadcast with the
 * other ledger's payment.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { LosslessNumber } from "lossless-json";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { parseAmount } from "../../src/coins/amount.js";
import { type Database, initializeDatabase, openDatabase } from "../../src/db/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { Outbox } from "../../src/events/outbox/outbox.js";
import { legacyBroadcastComment } from "../../src/ledger/broadcasts.js";
import { CoinRuntime } from "../../src/service/coin-runtime.js";
import { listInterruptedBroadcastRows } from "../../src/service/status-queries.js";
import { FaultyProxy } from "../chain/support/faulty-proxy.js";
import { captureLogs } from "../chain/support/logs.js";
import { runCli } from "../service/support.js";

export interface RecoveryDaemon {
  /** RPC URL with credentials; the daemon has wallets `ours` and `payer`, the payer with spendable coins. */
  url: string;
  /** Mines `n` blocks (to the payer). */
  mine(n: number): Promise<void>;
}

const sats = (amount: string) => parseAmount(amount, 8);
/** Generous: the CLI child and the daemon share two cores with the whole suite. */
const TEST_TIMEOUT_MS = 120_000;

interface Side {
  name: string;
  path: string;
  database: Database;
  runtime: CoinRuntime;
  proxy: FaultyProxy;
  logs: ReturnType<typeof captureLogs>["lines"];
}

export function recoveryScenarios(daemon: () => RecoveryDaemon): void {
  let dir: string;
  let payer: BitcoindRpcClient;
  let ours: BitcoindRpcClient;
  const sides: Side[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ca-recovery-"));
    payer = new BitcoindRpcClient({ url: daemon().url, wallet: "payer", timeoutMs: 60_000 });
    ours = new BitcoindRpcClient({ url: daemon().url, wallet: "ours", timeoutMs: 60_000 });
  });
  afterEach(async () => {
    for (const side of sides.splice(0)) {
      await side.runtime.close();
      await side.database.close();
      await side.proxy.close();
    }
  });
  afterAll(async () => {
    await payer.close();
    await ours.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A ledger on its own SQLite file (or a copy of another's: a restored backup) on the wallet `ours`. */
  async function openSide(name: string, copyOf?: Side): Promise<Side> {
    const path = join(dir, `${name}-${Date.now()}.db`);
    // A backup as SQLite makes one while the ledger runs (the file alone may lack its WAL).
    if (copyOf) await sql.raw(`VACUUM INTO '${path}'`).execute(copyOf.database.db);
    const database = await openDatabase(sqliteUrl(path));
    await initializeDatabase(database);
    const url = new URL(daemon().url);
    const proxy = await FaultyProxy.start(url.hostname, Number(url.port));
    proxy.slowMs = 2500;
    const { logger, lines } = captureLogs();
    const runtime = await CoinRuntime.open({
      name: "btc",
      coin: {
        network: "regtest",
        backend: {
          class: "bitcoind",
          url: proxy.url(decodeURIComponent(url.username), decodeURIComponent(url.password)),
          wallet: "ours",
          timeout: 1,
        },
      },
      service: { poll_period: 3600, recheck_period: 0, broadcast_period: 3600 },
      database,
      sink: new Outbox(database, ["test"]),
      logger,
    });
    const side = { name, path, database, runtime, proxy, logs: lines };
    sides.push(side);
    // The service checks the daemon's chain once, before its first broadcast.
    await runtime.network.ensure();
    return side;
  }

  /** An account of `side` credited with `amount` (network transaction 1 of a fresh ledger). */
  async function funded(side: Side, amount: string): Promise<number> {
    const account = await side.runtime.ledger.createAccount(`${side.name}-funds`);
    const { address } = await side.runtime.ledger.createReceivingAddress(account.id);
    await payer.call("sendtoaddress", [address, new LosslessNumber(amount)]);
    await daemon().mine(3);
    await side.runtime.tracker.tick();
    expect((await side.runtime.ledger.accountBalance(account.id)).confirmed).toBe(sats(amount));
    return account.id;
  }

  const external = async () => String(await payer.call("getnewaddress"));

  /** Broadcasts `side`'s pending sends with the proxy in `mode`; returns the outcome. */
  async function broadcastThrough(side: Side, mode: "pass" | "slow" | "http500") {
    side.proxy.mode = mode;
    try {
      return await side.runtime.broadcaster.broadcastPending();
    } finally {
      side.proxy.mode = "pass";
    }
  }

  async function interrupted(side: Side, mode: "slow" | "http500") {
    const outcome = await broadcastThrough(side, mode);
    if (outcome.status !== "interrupted")
      throw new Error(`expected an interrupted broadcast, got ${outcome.status}`);
    return outcome.networkTransactionId;
  }

  async function sent(side: Side) {
    const outcome = await broadcastThrough(side, "pass");
    if (outcome.status !== "broadcasted") throw new Error(`expected a broadcast, got ${outcome.status}`);
    return outcome;
  }

  async function row(side: Side, ntxId: number) {
    return side.database.db
      .selectFrom("ca_network_transaction")
      .selectAll()
      .where("id", "=", ntxId)
      .executeTakeFirstOrThrow();
  }

  /** The wallet's send entries to `address`, as the daemon lists them. */
  async function paymentsTo(address: string): Promise<string[]> {
    const entries = (await ours.call("listtransactions", ["*", 1000, 0, true])) as Array<
      Record<string, unknown>
    >;
    return entries.filter((e) => e.category === "send" && e.address === address).map((e) => String(e.txid));
  }

  /** Waits until the daemon's clock is past the second `txid` was received in (its times are whole seconds). */
  async function afterSecondOf(txid: string): Promise<void> {
    const tx = (await ours.call("gettransaction", [txid])) as { timereceived: unknown };
    const second = Number(String(tx.timereceived));
    while (Math.floor(Date.now() / 1000) <= second) await new Promise((r) => setTimeout(r, 100));
  }

  it(
    "two ledgers on one wallet, the same ntx id: B's paid broadcast is closed with B's payment, not A's",
    async () => {
      const a = await openSide("a");
      const b = await openSide("b");
      const [aFunds, bFunds] = [await funded(a, "1"), await funded(b, "1")];
      const [toA, toB] = [await external(), await external()];

      await a.runtime.ledger.send(aFunds, toA, "0.1");
      const aSent = await sent(a);
      await b.runtime.ledger.send(bFunds, toB, "0.2");
      const bId = await interrupted(b, "slow"); // the daemon pays, the answer is lost
      expect(bId).toBe(aSent.networkTransactionId);
      const [bPaid] = await paymentsTo(toB);
      expect(bPaid).toMatch(/^[0-9a-f]{64}$/);

      // Each ledger wrote its own comment: same broadcast id, different ledger ids.
      const [aRow, bRow] = [await row(a, aSent.networkTransactionId), await row(b, bId)];
      expect(aRow.comment).toMatch(new RegExp(`^cryptoassets:[0-9a-f]{16}:ntx:${bId}$`));
      expect(bRow.comment).toMatch(new RegExp(`^cryptoassets:[0-9a-f]{16}:ntx:${bId}$`));
      expect(bRow.comment).not.toBe(aRow.comment);
      const commented = (await ours.call("listtransactions", ["*", 1000, 0, true])) as Array<
        Record<string, unknown>
      >;
      expect(commented.find((e) => e.txid === bPaid)?.comment).toBe(bRow.comment);

      expect(await b.runtime.broadcaster.recoverInterrupted()).toBe(1);
      const closed = await row(b, bId);
      expect(closed).toMatchObject({ txid: bPaid, recovery_note: null });
      expect(closed.closed_at).not.toBeNull();
      expect(closed.fee).toBeGreaterThan(0n);
      expect(await b.runtime.broadcaster.listInterrupted()).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "two ledgers on one wallet, the same ntx id: B's unpaid broadcast is not closed with A's payment",
    async () => {
      const a = await openSide("a");
      const b = await openSide("b");
      const [aFunds, bFunds] = [await funded(a, "1"), await funded(b, "1")];
      const [toA, toB] = [await external(), await external()];

      await a.runtime.ledger.send(aFunds, toA, "0.1");
      const aSent = await sent(a);
      await b.runtime.ledger.send(bFunds, toB, "0.2");
      const bId = await interrupted(b, "http500"); // the daemon never saw it: nobody paid B's recipient
      expect(bId).toBe(aSent.networkTransactionId);

      expect(await b.runtime.broadcaster.recoverInterrupted()).toBe(0);
      expect((await b.runtime.broadcaster.listInterrupted()).map((ntx) => ntx.id)).toEqual([bId]);
      expect(await row(b, bId)).toMatchObject({ txid: null, closed_at: null });
      expect(await paymentsTo(toB)).toEqual([]);
      // B's send is still its account's money, waiting for the operator; A's broadcast untouched.
      expect((await b.runtime.ledger.accountBalance(bFunds)).confirmed).toBe(sats("0.8"));
      expect(await row(a, aSent.networkTransactionId)).toMatchObject({ txid: aSent.txid });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a restored copy of the ledger (same ledger id), other outputs: the payment carrying the comment is refused and reported",
    async () => {
      const a = await openSide("a");
      const funds = await funded(a, "1");
      const copy = await openSide("a-restored", a);
      expect(copy.runtime.ledger.ctx.ledgerId).toBe(a.runtime.ledger.ctx.ledgerId);
      const [toA, toCopy] = [await external(), await external()];

      await a.runtime.ledger.send(funds, toA, "0.1");
      const aSent = await sent(a);
      await copy.runtime.ledger.send(funds, toCopy, "0.15");
      const copyId = await interrupted(copy, "http500");
      expect(copyId).toBe(aSent.networkTransactionId);
      expect((await row(copy, copyId)).comment).toBe((await row(a, copyId)).comment);

      expect(await copy.runtime.broadcaster.recoverInterrupted()).toBe(0);
      const left = await row(copy, copyId);
      expect(left).toMatchObject({ txid: null, closed_at: null });
      expect(left.recovery_note).toContain(aSent.txid);
      expect(left.recovery_note).toContain(
        `it pays 0.10000000 to ${toA}; the broadcast pays 0.15000000 to ${toCopy}`,
      );
      const reports = copy.logs.filter((line) => line.level === 50 && Array.isArray(line.refused));
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ networkTransaction: copyId, refused: [{ txid: aSent.txid }] });
      expect(copy.runtime.broadcaster.stats().recoveryRefused).toBe(1);
      // Reported once, not every period.
      expect(await copy.runtime.broadcaster.recoverInterrupted()).toBe(0);
      expect(copy.logs.filter((line) => line.level === 50 && Array.isArray(line.refused))).toHaveLength(1);

      // The operator sees it on the status page and in `cryptoassets broadcasts list`.
      const [shown] = await listInterruptedBroadcastRows(copy.database);
      expect(shown).toMatchObject({ id: copyId, comment: left.comment, recovery_note: left.recovery_note });
      const config = join(dir, "operator.yaml");
      writeFileSync(
        config,
        `database: { url: "${sqliteUrl(copy.path)}" }\ncoins:\n  btc:\n    network: regtest\n    backend: { class: bitcoind, url: "${daemon().url}", wallet: ours }\n`,
      );
      const listed = runCli(["broadcasts", "list", config]);
      expect(await listed.exited, listed.output()).toBe(0);
      expect(listed.output()).toContain(
        `broadcast ${copyId}: ${aSent.txid} carries its comment but is not its payment: it pays 0.10000000 to ${toA}`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a restored copy of the ledger, the same outputs, paid before the broadcast opened: refused as older",
    async () => {
      const a = await openSide("a");
      const funds = await funded(a, "1");
      const to = await external();
      await a.runtime.ledger.send(funds, to, "0.1");
      // The backup holds the send still pending: restored, it goes out again with the same id.
      const copy = await openSide("a-restored", a);
      const aSent = await sent(a);
      await afterSecondOf(aSent.txid);
      const copyId = await interrupted(copy, "http500");
      expect(copyId).toBe(aSent.networkTransactionId);

      expect(await copy.runtime.broadcaster.recoverInterrupted()).toBe(0);
      const left = await row(copy, copyId);
      expect(left).toMatchObject({ txid: null, closed_at: null });
      expect(left.recovery_note).toContain(aSent.txid);
      expect(left.recovery_note).toMatch(/before the broadcast was opened/);
      expect(left.recovery_note).not.toMatch(/it pays/);
      expect(await paymentsTo(to)).toEqual([aSent.txid]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a broadcast opened before the upgrade (old comment) is recovered only when the payment has its outputs",
    async () => {
      const b = await openSide("b");
      const funds = await funded(b, "1");
      const [right, wrong] = [await external(), await external()];
      await b.runtime.ledger.send(funds, right, "0.1");
      const legacy = await interrupted(b, "http500");
      await b.runtime.ledger.send(funds, wrong, "0.2");
      const legacyWrong = await interrupted(b, "http500");
      // As migration 0002 leaves rows opened before it: no stored comment, the old one was sent.
      await b.database.db
        .updateTable("ca_network_transaction")
        .set({ comment: null })
        .where("id", "in", [legacy, legacyWrong])
        .execute();
      // The old broadcaster's sendmany for each; the second pays something else than its sends.
      const paid = String(
        await ours.call("sendmany", [
          "",
          { [right]: new LosslessNumber("0.1") },
          1,
          legacyBroadcastComment(legacy),
        ]),
      );
      const other = String(
        await ours.call("sendmany", [
          "",
          { [wrong]: new LosslessNumber("0.3") },
          1,
          legacyBroadcastComment(legacyWrong),
        ]),
      );

      expect(await b.runtime.broadcaster.recoverInterrupted()).toBe(1);
      expect(await row(b, legacy)).toMatchObject({ txid: paid, recovery_note: null });
      const left = await row(b, legacyWrong);
      expect(left).toMatchObject({ txid: null, closed_at: null });
      expect(left.recovery_note).toContain(other);
      expect(left.recovery_note).toContain(legacyBroadcastComment(legacyWrong));
      expect(left.recovery_note).toContain(
        `it pays 0.30000000 to ${wrong}; the broadcast pays 0.20000000 to ${wrong}`,
      );
    },
    TEST_TIMEOUT_MS,
  );
}
