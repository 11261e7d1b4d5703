/**
 * Issue 10, fault 1 ("one bad send stalls every payout") as scenarios shared by the
 * simulator suite (test/broadcast/isolation.test.ts) and real Bitcoin Core
 * (test/real-node/send-isolation.test.ts): the daemon's real refusals are what the
 * broadcaster's isolation is proven on.
 *
 * Each scenario gets its own daemon wallet and SQLite ledger, composes the coin runtime the
 * helper service uses, and drives the broadcaster's periods by hand.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { address as btcAddress } from "bitcoinjs-lib";
import { LosslessNumber } from "lossless-json";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { parseAmount } from "../../src/coins/index.js";
import { initializeDatabase } from "../../src/db/initialize.js";
import { openDatabase } from "../../src/db/open.js";
import { sqliteUrl } from "../../src/db/url.js";
import { Outbox } from "../../src/events/outbox/outbox.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { CoinRuntime } from "../../src/service/coin-runtime.js";

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
  async function open(funds: string, coin: { dust_limit?: string } = {}): Promise<World> {
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
}
