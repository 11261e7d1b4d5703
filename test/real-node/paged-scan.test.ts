/**
 * The paged first scan (listtransactions count/skip) on real Bitcoin Core and on the
 * simulator, with tiny pages so that pages cut through a transaction paying two of our
 * addresses, and a send of ours: the two daemons give the same pages (else the simulator is
 * wrong), and the paged scan books exactly what the unpaged one (one listsinceblock) books.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { Outbox } from "../../src/events/outbox/outbox.js";
import type { TxUpdateData } from "../../src/events/types.js";
import { insertReceivingAddress } from "../../src/ledger/addresses.js";
import { CoinRuntime } from "../../src/service/coin-runtime.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { describeWithBitcoind, FUNDING_BLOCKS, RegtestNode } from "../support/bitcoind.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

type Kind = "bitcoind" | "simulator";

interface Daemon {
  url: string;
  close(): Promise<void>;
}

async function startDaemon(kind: Kind): Promise<Daemon> {
  if (kind === "bitcoind") {
    const node = await RegtestNode.start();
    return { url: node.url, close: () => node.stop() };
  }
  const sim: Simulator = await startSimulator({ port: 0 });
  return { url: sim.url, close: () => sim.close() };
}

interface World {
  daemon: Daemon;
  ours: BitcoindRpcClient;
  /**
   * The wallet's history as listtransactions pages of 1, 2 and 3, txids replaced by their
   * order of appearance (vout left out: Core puts the change at a random position).
   */
  pages: string[];
  /** Per scan page size: the events written and the account balances. */
  scans: Map<number, { events: string[]; balances: bigint[] }>;
}

const worlds = new Map<Kind, World>();

/** Same script on both daemons: three deposits (one paying two addresses), a send, blocks. */
async function buildWallet(daemon: Daemon): Promise<{ ours: BitcoindRpcClient; addresses: string[] }> {
  const root = new BitcoindRpcClient({ url: daemon.url, timeoutMs: 60_000 });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  await root.close();
  const payer = new BitcoindRpcClient({ url: daemon.url, wallet: "payer", timeoutMs: 60_000 });
  const ours = new BitcoindRpcClient({ url: daemon.url, wallet: "ours", timeoutMs: 60_000 });
  const payerAddress = String(await payer.call("getnewaddress"));
  await payer.call("generatetoaddress", [FUNDING_BLOCKS, payerAddress]);
  const addresses: string[] = [];
  for (let i = 0; i < 4; i++) addresses.push(String(await ours.call("getnewaddress")));
  const [a, b, c, d] = addresses as [string, string, string, string];
  const waitForOurs = async (txid: string) => {
    for (let i = 0; i < 200; i++) {
      if (
        await ours.call("gettransaction", [txid]).then(
          () => true,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`our wallet never saw ${txid}`);
  };
  await waitForOurs(String(await payer.call("sendtoaddress", [a, "0.7"])));
  await payer.call("generatetoaddress", [1, payerAddress]);
  await waitForOurs(String(await payer.call("sendmany", ["", { [b]: "0.2", [c]: "0.05" }])));
  await payer.call("generatetoaddress", [1, payerAddress]);
  await ours.call("sendtoaddress", [payerAddress, "0.1"]);
  await payer.call("generatetoaddress", [2, payerAddress]);
  await waitForOurs(String(await payer.call("sendtoaddress", [d, "0.01"])));
  await payer.close();
  return { ours, addresses };
}

async function readPages(ours: BitcoindRpcClient): Promise<string[]> {
  const order = new Map<string, number>();
  const name = (txid: string) => {
    if (!order.has(txid)) order.set(txid, order.size);
    return `tx${order.get(txid)}`;
  };
  const all = (await ours.call("listtransactions", ["*", 100, 0, true])) as Array<{
    txid: string;
    vout: number;
  }>;
  for (const entry of [...all].reverse()) name(entry.txid);
  // Core and the simulator both shuffle outputs, so two outputs of one transaction sit at random
  // vouts on each: an entry is named by the rank of its vout within its transaction, not its amount.
  const vouts = new Map<string, number[]>();
  for (const entry of all)
    vouts.set(
      entry.txid,
      [...(vouts.get(entry.txid) ?? []), entry.vout].sort((a, b) => a - b),
    );
  const output = (e: { txid: string; vout: number }) => `#${vouts.get(e.txid)?.indexOf(e.vout)}`;
  const pages: string[] = [];
  for (const count of [1, 2, 3]) {
    for (let skip = 0; skip <= all.length; skip += count) {
      const page = (await ours.call("listtransactions", ["*", count, skip, true])) as Array<{
        txid: string;
        vout: number;
        category: string;
        confirmations: unknown;
      }>;
      pages.push(
        `${count}/${skip}: ${page.map((e) => `${name(e.txid)}:${e.category}:${output(e)}:${String(e.confirmations)}`).join(" ")}`,
      );
    }
  }
  return pages;
}

async function scan(daemon: Daemon, addresses: string[], pageSize: number) {
  const db: OpenTestDatabase = await openTestDatabase("sqlite");
  const runtime = await CoinRuntime.open({
    name: "btc",
    coin: {
      network: "regtest",
      credit_threshold: 2,
      backend: { class: "bitcoind", url: daemon.url, wallet: "ours", timeout: 60, scan_page_size: pageSize },
    },
    service: { poll_period: 3600, recheck_period: 0, broadcast_period: 3600 },
    database: db.database,
    sink: new Outbox(db.database, ["test"]),
  });
  try {
    const { ledger } = runtime;
    // The application's accounts own the addresses (imported as the ledger knows them).
    const accounts: number[] = [];
    for (const address of addresses) {
      const account = await ledger.createAccount(`owner of ${address}`);
      await ledger.run((trx, ctx) => insertReceivingAddress(trx, ctx, account.id, address, null));
      accounts.push(account.id);
    }
    const result = await runtime.scan();
    expect(result.tipHeight).toBeGreaterThan(FUNDING_BLOCKS);
    const rows = await db.database.db.selectFrom("ca_event").select(["payload"]).orderBy("id").execute();
    const events = rows
      .map((row) => JSON.parse(row.payload) as TxUpdateData)
      .map((e) => `${e.address}:${e.amount}:${e.confirmations}:${e.credited}:${e.transaction_type}`)
      .sort();
    const balances: bigint[] = [];
    for (const id of accounts) balances.push((await ledger.accountBalance(id)).confirmed);
    return { events, balances };
  } finally {
    await runtime.close();
    await db.cleanup();
  }
}

describeWithBitcoind("the paged first scan, on Bitcoin Core and on the simulator", () => {
  beforeAll(async () => {
    for (const kind of ["bitcoind", "simulator"] as const) {
      const daemon = await startDaemon(kind);
      const { ours, addresses } = await buildWallet(daemon);
      const pages = await readPages(ours);
      const scans = new Map<number, { events: string[]; balances: bigint[] }>();
      for (const pageSize of [0, 1, 2, 3]) scans.set(pageSize, await scan(daemon, addresses, pageSize));
      worlds.set(kind, { daemon, ours, pages, scans });
    }
  }, 180_000);

  afterAll(async () => {
    for (const world of worlds.values()) {
      await world.ours.close();
      await world.daemon.close();
    }
  });

  it("listtransactions pages (count/skip) are the same on the simulator as on Core", () => {
    const core = worlds.get("bitcoind") as World;
    const simulator = worlds.get("simulator") as World;
    expect(core.pages.length).toBeGreaterThan(10);
    expect(simulator.pages).toEqual(core.pages);
  });

  for (const kind of ["bitcoind", "simulator"] as const) {
    it(`on ${kind}: pages of 1, 2 and 3 book what one unpaged listsinceblock books`, () => {
      const { scans } = worlds.get(kind) as World;
      const unpaged = scans.get(0) as { events: string[]; balances: bigint[] };
      // 0.7, 0.2 and 0.05 are credited (≥ 2 confirmations); 0.01 is still in the mempool.
      expect(unpaged.balances).toEqual([70_000_000n, 20_000_000n, 5_000_000n, 0n]);
      expect(unpaged.events).toHaveLength(4);
      for (const pageSize of [1, 2, 3]) expect(scans.get(pageSize)).toEqual(unpaged);
    });
  }
});
