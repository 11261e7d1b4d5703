/**
 * A chain-following test environment made of real parts: a fresh database (SQLite file or
 * PostgreSQL), the regtest simulator over HTTP with a funded `payer` wallet and our `ours`
 * wallet, the real outbox, and the coin runtime the helper service composes (src/service/coin-runtime.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BitcoindRpcClient } from "../../../src/backends/bitcoind/index.js";
import { parseAmount } from "../../../src/coins/index.js";
import type { NotifyConfig } from "../../../src/config/schema.js";
import type { Engine } from "../../../src/db/url.js";
import { Outbox } from "../../../src/events/outbox/outbox.js";
import type { TxUpdateData } from "../../../src/events/types.js";
import type { Logger } from "../../../src/log.js";
import { type ChainServiceConfig, type CoinConfig, CoinRuntime } from "../../../src/service/coin-runtime.js";
import { type Simulator, type SimulatorOptions, startSimulator } from "../../../src/simulator/index.js";
import { type OpenTestDatabase, openTestDatabase } from "../../support/databases.js";

export const sats = (text: string) => parseAmount(text, 8);

export interface ChainEnvOptions {
  engine: Engine;
  simulator?: (dir: string) => SimulatorOptions;
  /** Coin config overrides (thresholds). */
  coin?: Partial<Omit<CoinConfig, "backend">>;
  /** walletnotify / blocknotify listener specs of our backend. */
  notify?: (dir: string) => { walletnotify?: NotifyConfig; blocknotify?: NotifyConfig };
  service?: ChainServiceConfig;
  /** Use this URL for our wallet's backend instead of the simulator's (a faulty proxy). */
  backendUrl?: (sim: Simulator) => string | Promise<string>;
  backendTimeoutSeconds?: number;
  logger?: Logger;
  /** Blocks mined to the payer at start (default 101: one mature coinbase). */
  initialBlocks?: number;
}

export interface ChainEnv {
  db: OpenTestDatabase;
  dir: string;
  sim: Simulator;
  /** RPC client on the payer wallet (test-side actions: paying us, mining). */
  payer: BitcoindRpcClient;
  /** RPC client on our wallet for test-side inspection. */
  ours: BitcoindRpcClient;
  payerAddress: string;
  outbox: Outbox;
  runtime: CoinRuntime;
  /** Mines `n` blocks to the payer and waits for the simulator's notification commands. */
  mine(n?: number): Promise<string[]>;
  /** Every txupdate written so far, in outbox order. */
  events(): Promise<TxUpdateData[]>;
  close(): Promise<void>;
}

export async function startChainEnv(options: ChainEnvOptions): Promise<ChainEnv> {
  const dir = mkdtempSync(join(tmpdir(), "ca-chain-"));
  const undo: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  try {
    return await setUp(options, dir, undo);
  } catch (err) {
    // A failed set-up still removes what it created: servers, databases, temp files.
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

async function setUp(
  options: ChainEnvOptions,
  dir: string,
  undo: Array<() => Promise<unknown>>,
): Promise<ChainEnv> {
  const db = await openTestDatabase(options.engine);
  undo.push(() => db.cleanup());
  const sim = await startSimulator({ port: 0, ...(options.simulator?.(dir) ?? {}) });
  undo.push(() => sim.close());
  const payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
  const ours = new BitcoindRpcClient({ url: sim.url, wallet: "ours" });
  undo.push(
    () => payer.close(),
    () => ours.close(),
  );
  const root = new BitcoindRpcClient({ url: sim.url });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  await root.close();
  const payerAddress = String(await payer.call("getnewaddress"));
  await payer.call("generatetoaddress", [options.initialBlocks ?? 101, payerAddress]);
  await sim.notificationsIdle();

  const outbox = new Outbox(db.database, ["test"]);
  const url = options.backendUrl ? await options.backendUrl(sim) : sim.url;
  const runtime = await CoinRuntime.open({
    name: "btc",
    coin: {
      network: "regtest",
      ...(options.coin ?? {}),
      backend: {
        class: "bitcoind",
        url,
        wallet: "ours",
        timeout: options.backendTimeoutSeconds,
        ...(options.notify?.(dir) ?? {}),
      },
    },
    // Timers effectively off unless a test asks for them: tests drive ticks explicitly.
    service: { poll_period: 3600, recheck_period: 0, broadcast_period: 3600, ...(options.service ?? {}) },
    database: db.database,
    sink: outbox,
    logger: options.logger,
  });

  const mine = async (n = 1) => {
    const hashes = (await payer.call("generatetoaddress", [n, payerAddress])) as string[];
    await sim.notificationsIdle();
    return hashes.map(String);
  };
  const events = async () => {
    const rows = await db.database.db
      .selectFrom("ca_event")
      .select(["payload"])
      .where("event_name", "=", "txupdate")
      .orderBy("id")
      .execute();
    return rows.map((row) => JSON.parse(row.payload) as TxUpdateData);
  };
  return {
    db,
    dir,
    sim,
    payer,
    ours,
    payerAddress,
    outbox,
    runtime,
    mine,
    events,
    async close() {
      await runtime.close();
      await payer.close();
      await ours.close();
      await sim.close();
      await db.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** txupdate events grouped per our transaction id: [confirmations, credited] in order. */
export function sequences(events: readonly TxUpdateData[]): Map<number, Array<[number, boolean]>> {
  const byTransaction = new Map<number, Array<[number, boolean]>>();
  for (const event of events) {
    const list = byTransaction.get(event.transaction) ?? [];
    list.push([event.confirmations, event.credited]);
    byTransaction.set(event.transaction, list);
  }
  return byTransaction;
}

/** The sequence a deposit followed one block at a time shows: 0..max, credited from `threshold`. */
export function expectedSequence(max: number, threshold: number): Array<[number, boolean]> {
  return Array.from({ length: max + 1 }, (_, confirmations) => [confirmations, confirmations >= threshold]);
}
