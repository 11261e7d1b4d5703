/**
 * Issue 10, fault 1 ("one bad send stalls every payout") as scenarios shared by the
 * simulator suite (test/broadcast/isolation.test.ts) and real Bitcoin Core
 * (test/real-node/send-isolation.test.ts): the daemon's real refusals are what the
 * broadcaster's isolation is proven on.
 *
 * Each scenario gets its own daemon wallet and SQLite ledger, composes the coin runtime the
 * helper service uses, and drives the broadcaster's periods by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { address as btcAddress } from "bitcoinjs-lib";
import { LosslessNumber } from "lossless-json";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { formatAmount, parseAmount } from "../../src/coins/index.js";
import { loadConfigFile } from "../../src/config/load.js";
import { initializeDatabase } from "../../src/db/initialize.js";
import { type Database, openDatabase } from "../../src/db/open.js";
import { sqliteUrl } from "../../src/db/url.js";
import { InsufficientFundsError } from "../../src/errors.js";
import { Outbox } from "../../src/events/outbox/outbox.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { CoinRuntime } from "../../src/service/coin-runtime.js";
import { startHelperService } from "../../src/service/helper-service.js";
import { getJson } from "../service/support.js";
import { waitFor } from "../support/wait.js";

export interface IsolationDaemon {
  /** RPC URL with credentials, no wallet path. */
  url: string;
  /** A funded wallet of somebody else: pays us, and gives external addresses. */
  payer: BitcoindRpcClient;
  /** Mines `blocks` (to the payer). */
  mine(blocks: number): Promise<void>;
}

const sats = (text: string) => parseAmount(text, 8);

/** Every event of the outbox, in order. */
async function outboxEvents(world: World) {
  const rows = await world.runtime.ledger.database.db
    .selectFrom("ca_event")
    .select(["event_name", "payload", "ordering_key"])
    .orderBy("id")
    .execute();
  return rows.map((row) => ({
    name: row.event_name,
    key: row.ordering_key,
    data: JSON.parse(row.payload) as Record<string, unknown>,
  }));
}

interface World {
  runtime: CoinRuntime;
  database: Database;
  /** The daemon wallet's name. */
  wallet: string;
  ours: BitcoindRpcClient;
  account: number;
  close(): Promise<void>;
}

export function isolationScenarios(daemon: () => IsolationDaemon): void {
  let dir: string;
  let world: World | undefined;
  let wallets = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ca-isolation-"));
  });
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A fresh daemon wallet and ledger; `funds` paid to an account and confirmed. */
  async function open(
    funds: string,
    coin: { dust_limit?: string; hot_wallet_threshold?: string } = {},
  ): Promise<World> {
    const { url, payer, mine } = daemon();
    const wallet = `isolation-${++wallets}`;
    const root = new BitcoindRpcClient({ url });
    await root.call("createwallet", [wallet]);
    await root.close();
    const database = await openDatabase(sqliteUrl(join(dir, `${wallet}.db`)));
    await initializeDatabase(database);
    const runtime = await CoinRuntime.open({
      name: "btc",
      coin: {
        network: "regtest",
        credit_threshold: 1,
        ...coin,
        backend: { class: "bitcoind", url, wallet, timeout: 60 },
      },
      service: { broadcast_period: 3600, poll_period: 3600, recheck_period: 0 },
      database,
      sink: new Outbox(database, ["app"]),
    });
    const ours = new BitcoindRpcClient({ url, wallet, timeoutMs: 60_000 });
    const account = (await runtime.ledger.createAccount("payouts")).id;
    const { address } = await runtime.ledger.createReceivingAddress(account);
    await payer.call("sendtoaddress", [address, new LosslessNumber(funds)]);
    await mine(1);
    await runtime.tracker.tick();
    expect((await runtime.ledger.accountBalance(account)).confirmed).toBe(sats(funds));
    world = {
      runtime,
      ours,
      account,
      database,
      wallet,
      close: async () => {
        await runtime.close();
        await ours.close();
        await database.close();
      },
    };
    return world;
  }

  /** What the daemon's wallet paid to each address (send entries). */
  async function paid(w: World): Promise<Map<string, bigint>> {
    const list = (await w.ours.call("listtransactions", ["*", 1000, 0, true])) as Array<{
      category: string;
      address?: string;
      amount: unknown;
    }>;
    const out = new Map<string, bigint>();
    for (const entry of list) {
      if (entry.category !== "send" || !entry.address) continue;
      out.set(entry.address, (out.get(entry.address) ?? 0n) - sats(String(entry.amount)));
    }
    return out;
  }

  it("a dust send and an address the daemon rejects fail alone; the other sends go out the same period", async () => {
    const { payer } = daemon();
    // The operator lowered dust_limit below what the daemon accepts (or the sends predate it).
    const w = await open("1.0", { dust_limit: "0.00000001" });
    const ledger = w.runtime.ledger;
    const good1 = String(await payer.call("getnewaddress"));
    const good2 = String(await payer.call("getnewaddress"));
    const dustTo = String(await payer.call("getnewaddress"));
    // A testnet address recorded while the configuration said testnet (issue 10, fault 3):
    // valid for the ledger that took it, refused by a regtest daemon.
    const { data, version } = btcAddress.fromBech32(String(await payer.call("getnewaddress")));
    const testnetAddress = btcAddress.toBech32(data, version, "tb");
    const onTestnet = await Ledger.open({ database: ledger.database, coin: "btc", network: "testnet" });

    const s1 = await ledger.send(w.account, good1, "0.1");
    const dust = await ledger.send(w.account, dustTo, "0.00000100");
    const bad = await onTestnet.send(w.account, testnetAddress, "0.05");
    const s2 = await ledger.send(w.account, good2, "0.2");
    expect((await ledger.accountBalance(w.account)).confirmed).toBe(sats("0.649999"));

    const outcome = await w.runtime.broadcaster.broadcastPending();
    if (outcome.status !== "isolated") throw new Error(`expected isolation, got ${JSON.stringify(outcome)}`);
    expect(outcome.broadcasts.flatMap((b) => b.sendIds).sort()).toEqual([s1, s2].sort());
    expect(outcome.failed).toEqual([
      { sendId: dust, reason: "Transaction amount too small" },
      { sendId: bad, reason: `Invalid Bitcoin address: ${testnetAddress}` },
    ]);
    expect(outcome.held).toEqual([]);
    expect(outcome.interrupted).toBeUndefined();

    // Paid by the daemon: the good ones, each once; nothing to the culprits.
    expect(await paid(w)).toEqual(
      new Map([
        [good1, sats("0.1")],
        [good2, sats("0.2")],
      ]),
    );
    // The culprits: failed with the daemon's reason, their amounts back on the account.
    expect(await ledger.getTransaction(dust)).toMatchObject({
      state: "failed",
      failure: "Transaction amount too small",
    });
    expect(await ledger.getTransaction(bad)).toMatchObject({
      state: "failed",
      failure: `Invalid Bitcoin address: ${testnetAddress}`,
    });
    expect((await ledger.getTransaction(s1)).state).toBe("broadcasted");
    expect((await ledger.getTransaction(s2)).state).toBe("broadcasted");
    expect((await ledger.accountBalance(w.account)).confirmed).toBe(sats("0.7"));
    expect((await ledger.recomputeBalances()).every((check) => check.difference === 0n)).toBe(true);
    // The ledger still equals the daemon's wallet: fees booked, failed sends not spent.
    expect((await ledger.walletBalance()).confirmed).toBe(sats(String(await w.ours.call("getbalance"))));

    // One sendfailed each, ordered with the send's own events, fields as documented.
    const failedEvents = (await outboxEvents(w)).filter((event) => event.name === "sendfailed");
    expect(failedEvents).toEqual([
      {
        name: "sendfailed",
        key: `btc:transaction:${dust}`,
        data: {
          coin_name: "btc",
          transaction: dust,
          transaction_type: "broadcast",
          account: w.account,
          address: dustTo,
          amount: "0.00000100",
          reason: "Transaction amount too small",
        },
      },
      {
        name: "sendfailed",
        key: `btc:transaction:${bad}`,
        data: {
          coin_name: "btc",
          transaction: bad,
          transaction_type: "broadcast",
          account: w.account,
          address: testnetAddress,
          amount: "0.05000000",
          reason: `Invalid Bitcoin address: ${testnetAddress}`,
        },
      },
    ]);
    expect(w.runtime.broadcaster.stats()).toMatchObject({ failedSends: 2, isolations: 1 });

    // Nothing left to retry: the next period is idle, and a new send goes out at once.
    expect(await w.runtime.broadcaster.broadcastPending()).toEqual({ status: "idle" });
    const s3 = await ledger.send(w.account, good1, "0.05");
    const next = await w.runtime.broadcaster.broadcastPending();
    expect(next.status === "broadcasted" && next.sendIds).toEqual([s3]);
  });

  it("a batch of sends that are all fine goes out as one sendmany, as before", async () => {
    const { payer } = daemon();
    const w = await open("1.0");
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await w.runtime.ledger.send(w.account, String(await payer.call("getnewaddress")), "0.1"));
    }
    const outcome = await w.runtime.broadcaster.broadcastPending();
    expect(outcome.status === "broadcasted" && outcome.sendIds).toEqual(ids);
    expect(w.runtime.broadcaster.stats()).toMatchObject({ released: 0, isolations: 0, broadcasts: 1 });
  });

  /** The daemon's coins leave behind the ledger's back (somebody spent from the wallet). */
  async function drain(w: World, keep: string): Promise<void> {
    const { payer, mine } = daemon();
    const balance = sats(String(await w.ours.call("getbalance")));
    const away = formatAmount(balance - sats(keep), 8);
    const to = String(await payer.call("getnewaddress"));
    await w.ours.call("sendtoaddress", [to, new LosslessNumber(away), "", "", true]);
    await mine(1);
    await w.runtime.tracker.tick();
  }

  /** The operator tops the daemon's wallet up (an address the ledger does not know: no deposit). */
  async function topUp(w: World, amount: string): Promise<void> {
    const { payer, mine } = daemon();
    await payer.call("sendtoaddress", [
      String(await w.ours.call("getnewaddress")),
      new LosslessNumber(amount),
    ]);
    await mine(1);
    await w.runtime.tracker.tick();
  }

  const hotWalletEvents = async (w: World) =>
    (await outboxEvents(w)).filter((event) => event.name === "hotwalletlow");

  it("a shortfall keeps the sends pending and fires hotwalletlow once, not every period, nor after a restart; a top-up recovers it", async () => {
    const { payer } = daemon();
    const w = await open("1.0");
    await drain(w, "0.1");
    const a = await w.runtime.ledger.send(w.account, String(await payer.call("getnewaddress")), "0.3");
    const b = await w.runtime.ledger.send(w.account, String(await payer.call("getnewaddress")), "0.2");

    for (let period = 1; period <= 3; period++) {
      const refused = await w.runtime.broadcaster.broadcastPending();
      // Not a failure of either send: both stay pending, nothing is isolated or failed.
      expect(refused.status).toBe("released");
      if (refused.status === "released") expect(refused.error).toBeInstanceOf(InsufficientFundsError);
      const status = await w.runtime.broadcaster.checkHotWallet();
      expect(status).toMatchObject({
        state: "low",
        reason: "shortfall",
        pending: sats("0.5"),
        missing: sats("0.4"),
      });
    }
    expect(w.runtime.broadcaster.stats().failedSends).toBe(0);
    expect((await w.runtime.ledger.getTransaction(a)).state).toBe("pending");
    expect((await w.runtime.ledger.getTransaction(b)).state).toBe("pending");
    const low = {
      name: "hotwalletlow",
      key: "btc:hotwallet",
      data: {
        coin_name: "btc",
        state: "low",
        reason: "shortfall",
        balance: "0.10000000",
        pending: "0.50000000",
        threshold: null,
        missing: "0.40000000",
      },
    };
    expect(await hotWalletEvents(w)).toEqual([low]);

    // A restart (a new runtime on the same database) still short: the state was persisted, no second event.
    const restarted = await CoinRuntime.open({
      name: "btc",
      coin: {
        network: "regtest",
        credit_threshold: 1,
        backend: { class: "bitcoind", url: daemon().url, wallet: w.wallet },
      },
      database: w.database,
      sink: new Outbox(w.database, ["app"]),
    });
    try {
      expect((await restarted.broadcaster.broadcastPending()).status).toBe("released");
      expect((await restarted.broadcaster.checkHotWallet())?.state).toBe("low");
      expect(await hotWalletEvents(w)).toEqual([low]);

      await topUp(w, "1.0");
      const sent = await restarted.broadcaster.broadcastPending();
      expect(sent.status === "broadcasted" && sent.sendIds).toEqual([a, b]);
      const recovered = await restarted.broadcaster.checkHotWallet();
      expect(recovered).toMatchObject({ state: "ok", reason: null, pending: 0n, missing: 0n });
      await restarted.broadcaster.checkHotWallet();
      const events = await hotWalletEvents(w);
      expect(events).toHaveLength(2);
      expect(events[1]).toMatchObject({
        key: "btc:hotwallet",
        data: {
          coin_name: "btc",
          state: "recovered",
          reason: null,
          pending: "0.00000000",
          threshold: null,
          missing: "0.00000000",
        },
      });
      expect(sats(String(events[1]?.data.balance))).toBe(recovered?.balance);
    } finally {
      await restarted.close();
    }
  });

  it("hot_wallet_threshold: one event when the spendable balance falls below it, one when it is back above", async () => {
    const w = await open("1.0", { hot_wallet_threshold: "0.5" });
    expect(await w.runtime.broadcaster.checkHotWallet()).toMatchObject({
      state: "ok",
      threshold: sats("0.5"),
    });
    await drain(w, "0.3");
    expect(await w.runtime.broadcaster.checkHotWallet()).toMatchObject({
      state: "low",
      reason: "threshold",
      balance: sats("0.3"),
      missing: sats("0.2"),
    });
    await w.runtime.broadcaster.checkHotWallet();
    await topUp(w, "0.4");
    expect((await w.runtime.broadcaster.checkHotWallet())?.state).toBe("ok");
    expect((await hotWalletEvents(w)).map((event) => event.data)).toEqual([
      {
        coin_name: "btc",
        state: "low",
        reason: "threshold",
        balance: "0.30000000",
        pending: "0.00000000",
        threshold: "0.50000000",
        missing: "0.20000000",
      },
      {
        coin_name: "btc",
        state: "recovered",
        reason: null,
        balance: "0.70000000",
        pending: "0.00000000",
        threshold: "0.50000000",
        missing: "0.00000000",
      },
    ]);
  });

  it("through the helper service: /health is degraded with the amount missing while the sends wait, ok after a top-up", async () => {
    const { url, payer, mine } = daemon();
    const wallet = `isolation-${++wallets}`;
    const root = new BitcoindRpcClient({ url });
    await root.call("createwallet", [wallet]);
    await root.close();
    const ours = new BitcoindRpcClient({ url, wallet, timeoutMs: 60_000 });
    const path = join(dir, `${wallet}.yaml`);
    writeFileSync(
      path,
      `database: { url: "${sqliteUrl(join(dir, `${wallet}.db`))}" }
coins:
  btc:
    backend: { class: bitcoind, url: "${url}", wallet: ${wallet}, timeout: 60 }
    network: regtest
    credit_threshold: 1
status-server: { port: 0 }
service: { broadcast_period: 1, poll_period: 1 }
`,
    );
    const service = await startHelperService(loadConfigFile(path));
    try {
      const ledger = service.ledger("btc");
      const account = (await ledger.createAccount("payouts")).id;
      await payer.call("sendtoaddress", [
        (await ledger.createReceivingAddress(account)).address,
        new LosslessNumber("1.0"),
      ]);
      await mine(1);
      await waitFor("the deposit credited", async () =>
        (await ledger.accountBalance(account)).confirmed === sats("1.0") ? true : undefined,
      );
      const away = formatAmount(sats(String(await ours.call("getbalance"))) - sats("0.1"), 8);
      await ours.call("sendtoaddress", [
        String(await payer.call("getnewaddress")),
        new LosslessNumber(away),
        "",
        "",
        true,
      ]);
      await mine(1);
      const send = await ledger.send(account, String(await payer.call("getnewaddress")), "0.5");

      const health = new URL("health", service.statusUrl).href;
      const degraded = await waitFor(
        "/health to say the hot wallet is short",
        async () => {
          const answer = await getJson<{ ok: boolean; problems: string[] }>(health);
          return answer.status === 503 && answer.body.problems.some((p) => p.startsWith("btc.hotwallet"))
            ? answer.body
            : undefined;
        },
        45_000,
      );
      expect(degraded.problems).toContain(
        "btc.hotwallet is degraded: the daemon's wallet cannot pay the pending sends: pending 0.50000000 btc, spendable 0.10000000 btc, missing 0.40000000 btc (plus fees); top it up",
      );
      // Three more periods refused while short: still one event.
      const broadcaster = service.coin("btc").runtime.broadcaster;
      const refusedSoFar = broadcaster.stats().released;
      await waitFor("three more refused periods", () =>
        broadcaster.stats().released >= refusedSoFar + 3 ? true : undefined,
      );
      const names = async () =>
        (
          await ledger.database.db
            .selectFrom("ca_event")
            .select(["event_name", "payload"])
            .orderBy("id")
            .execute()
        ).filter((row) => row.event_name === "hotwalletlow");
      expect((await names()).map((row) => JSON.parse(row.payload).state)).toEqual(["low"]);
      expect((await ledger.getTransaction(send)).state).toBe("pending");

      await payer.call("sendtoaddress", [
        String(await ours.call("getnewaddress")),
        new LosslessNumber("1.0"),
      ]);
      await mine(1);
      await waitFor(
        "/health ok again",
        async () => ((await getJson(health)).status === 200 ? true : undefined),
        45_000,
      );
      expect((await ledger.getTransaction(send)).state).toBe("broadcasted");
      expect((await names()).map((row) => JSON.parse(row.payload).state)).toEqual(["low", "recovered"]);
    } finally {
      await service.stop();
      await ours.close();
    }
  }, 120_000);
}
