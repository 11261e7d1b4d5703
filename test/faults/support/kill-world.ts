/**
 * One seed's world, every part real: the `simulate-bitcoind` child with a funded "payer"
 * wallet and our "ours" wallet (walletnotify/blocknotify through curl), a private database
 * (PostgreSQL database or SQLite file), a webhook receiver on loopback, the helper service
 * CLI child reading a YAML file, and the application's own Ledger handle on the same
 * database in this process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LosslessNumber } from "lossless-json";
import { BitcoindBackend } from "../../../src/backends/bitcoind/backend.js";
import type { BitcoindRpcClient } from "../../../src/backends/bitcoind/rpc-client.js";
import { formatAmount } from "../../../src/coins/amount.js";
import { type Database, initializeDatabase, openDatabase } from "../../../src/db/index.js";
import { Ledger } from "../../../src/ledger/ledger.js";
import { startTestReceiver, type TestReceiver } from "../../service/support.js";
import { createTestDatabase, type TestDatabase } from "../../support/databases.js";
import { freePort } from "../../support/ports.js";
import { type KillRegtest, startKillRegtest } from "./kill-regtest.js";
import { type Deadline, SupervisedService } from "./kill-service.js";

export type CampaignEngine = "sqlite" | "postgres";

export const MAX_CONFIRMATIONS = 15;
export const CREDIT_THRESHOLD = 3;
/** Seconds: short, so that many broadcasts happen (and can be interrupted) in a few seconds. */
export const BROADCAST_PERIOD = 1;
/** A loaded two-core machine can take tens of seconds to start a Node process. */
export const STARTUP_TIMEOUT_MS = 60_000;

/** Ports handed out by this process (parallel seeds must not share one between restarts). */
const reserved = new Set<number>();
async function reservePort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!reserved.has(port)) {
      reserved.add(port);
      return port;
    }
  }
}

export interface World {
  seed: number;
  deadline: Deadline;
  engine: CampaignEngine;
  dir: string;
  database: Database;
  ledger: Ledger;
  regtest: KillRegtest;
  root: BitcoindRpcClient;
  payer: BitcoindRpcClient;
  ours: BitcoindRpcClient;
  receiver: TestReceiver;
  service: SupervisedService;
  statusUrl: string;
  close(): Promise<void>;
}

/** Decimal amount from the daemon (LosslessNumber or string) to satoshis, sign kept. */
export function toSats(value: unknown): bigint {
  const text = value instanceof LosslessNumber ? value.value : String(value);
  const match = /^(-?)(\d+)(?:\.(\d{1,8}))?$/.exec(text);
  if (!match) throw new Error(`not an 8-decimal amount: ${text}`);
  const units = BigInt(match[2] as string) * 100_000_000n + BigInt((match[3] ?? "").padEnd(8, "0"));
  return match[1] === "-" ? -units : units;
}

export function btcParam(sats: bigint): LosslessNumber {
  return new LosslessNumber(formatAmount(sats, 8));
}

function writeConfig(
  dir: string,
  options: {
    databaseUrl: string;
    rpcUrl: string;
    walletnotifyPort: number;
    blocknotifyPort: number;
    statusPort: number;
    receiverUrl: string;
  },
): string {
  const yaml = `# kill campaign: helper service under SIGKILL
database:
  url: ${options.databaseUrl}
coins:
  btc:
    backend:
      class: bitcoind
      url: ${options.rpcUrl}
      wallet: ours
      timeout: 15
      walletnotify: { class: http, ip: 127.0.0.1, port: ${options.walletnotifyPort} }
      blocknotify: { class: http, ip: 127.0.0.1, port: ${options.blocknotifyPort} }
    network: regtest
    max_confirmation_count: ${MAX_CONFIRMATIONS}
    credit_threshold: ${CREDIT_THRESHOLD}
events:
  app:
    class: http
    url: ${options.receiverUrl}
    timeout: 3
status-server:
  ip: 127.0.0.1
  port: ${options.statusPort}
service:
  broadcast_period: ${BROADCAST_PERIOD}
  poll_period: 1
  shutdown_grace_period: 5
  dispatcher:
    poll_interval: 1
    # Long enough that a delivery never goes dead during the campaign (the receiver is always up).
    retry_schedule: [1, 1, 2, 3, 5, 8, 13, 21, 34]
`;
  const path = join(dir, "cryptoassets.yaml");
  writeFileSync(path, yaml);
  return path;
}

export async function createWorld(seed: number, engine: CampaignEngine, deadline: Deadline): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), `ca-kill-${engine}-${seed}-`));
  const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const created: TestDatabase = await createTestDatabase(engine);
    cleanups.push(() => created.drop());
    const database = await openDatabase(created.url);
    cleanups.push(() => database.close());
    await initializeDatabase(database);

    const walletnotifyPort = await reservePort();
    const blocknotifyPort = await reservePort();
    const statusPort = await reservePort();
    cleanups.push(async () => {
      reserved.delete(walletnotifyPort);
      reserved.delete(blocknotifyPort);
      reserved.delete(statusPort);
    });
    const regtest = await startKillRegtest(
      { walletnotify: walletnotifyPort, blocknotify: blocknotifyPort },
      deadline.bound(STARTUP_TIMEOUT_MS),
    );
    cleanups.push(() => regtest.close());
    const { root, payer, ours } = regtest;

    const receiver = await startTestReceiver();
    cleanups.push(() => receiver.close());

    const backend = new BitcoindBackend({ url: regtest.url, wallet: "ours" });
    cleanups.push(() => backend.close());
    const ledger = await Ledger.open({
      database,
      coin: "btc",
      network: "regtest",
      backend,
      creditThreshold: CREDIT_THRESHOLD,
      maxConfirmations: MAX_CONFIRMATIONS,
    });

    const configPath = writeConfig(dir, {
      databaseUrl: created.url,
      rpcUrl: regtest.url,
      walletnotifyPort,
      blocknotifyPort,
      statusPort,
      receiverUrl: receiver.url,
    });
    const service = new SupervisedService(configPath);
    // Stopped first of all at close (cleanups run in reverse).
    cleanups.push(() => service.stop(3000));
    return {
      seed,
      deadline,
      engine,
      dir,
      database,
      ledger,
      regtest,
      root,
      payer,
      ours,
      receiver,
      service,
      statusUrl: `http://127.0.0.1:${statusPort}`,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
