/**
 * The helper-service side of the service-level fault tests: a YAML configuration written the
 * way an operator would (short retry schedule and timeouts, every listener on 127.0.0.1),
 * the real `cryptoassets helper-service` CLI as a child process, the application's own view
 * of the same database (accounts, addresses, the outbox tables), and the final
 * "nothing is lost" check every fault test ends with.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { expect } from "vitest";
import { BitcoindBackend } from "../../../src/backends/bitcoind/backend.js";
import { parseAmount } from "../../../src/coins/amount.js";
import { NormalizeTypesPlugin } from "../../../src/db/normalize-plugin.js";
import { type Database, DEFAULT_TRANSACTION_RETRIES, openDatabase } from "../../../src/db/open.js";
import type { Schema } from "../../../src/db/schema.js";
import { parseDatabaseUrl } from "../../../src/db/url.js";
import type { TxUpdateData } from "../../../src/events/types.js";
import { Ledger } from "../../../src/ledger/ledger.js";
import { maskUrl } from "../../../src/redact/url.js";
import { type CliProcess, killChild, runCli } from "../../service/support.js";
import { waitFor } from "../../support/wait.js";
import type { ExternalChain } from "./external-chain.js";
import type { FaultyReceiver } from "./external-receiver.js";

export const HANDLER = "app";
export const CREDIT_THRESHOLD = 3;

export type WalletNotifySpec =
  | { class: "http"; port: number }
  | { class: "redis"; port: number; channel: string };

export interface ServiceConfigOptions {
  databaseUrl: string;
  rpcUrl: string;
  /** Seconds per RPC call. */
  rpcTimeout?: number;
  statusPort: number;
  walletnotify?: WalletNotifySpec;
  blocknotifyPort?: number;
  receiverUrl: string;
  /** Seconds per webhook request. */
  handlerTimeout?: number;
  /** Seconds between delivery attempts; long enough that nothing goes dead in a test. */
  retrySchedule?: number[];
  /** Tip polling (without blocknotify) and the follower's retry delay. */
  pollPeriod?: number;
  shutdownGrace?: number;
}

/** 0.3 s, then 0.5 s a hundred times: a receiver outage of a minute never makes a delivery dead. */
export const SHORT_RETRY_SCHEDULE = [0.3, ...Array<number>(100).fill(0.5)];

export function writeServiceConfig(
  dir: string,
  options: ServiceConfigOptions,
  name = "cryptoassets.yaml",
): string {
  const walletnotify = options.walletnotify;
  const notify =
    walletnotify === undefined
      ? ""
      : walletnotify.class === "http"
        ? `      walletnotify: { class: http, ip: 127.0.0.1, port: ${walletnotify.port} }\n`
        : `      walletnotify:\n        class: cryptoassets.core.backend.rediswalletnotify.RedisWalletNotifyHandler\n        host: 127.0.0.1\n        port: ${walletnotify.port}\n        channel: ${walletnotify.channel}\n`;
  const blocknotify =
    options.blocknotifyPort === undefined
      ? ""
      : `      blocknotify: { class: http, ip: 127.0.0.1, port: ${options.blocknotifyPort} }\n`;
  const yaml = `# service-level fault test configuration
database:
  url: ${options.databaseUrl}
coins:
  btc:
    backend:
      class: bitcoind
      url: ${options.rpcUrl}
      wallet: ours
      timeout: ${options.rpcTimeout ?? 5}
${notify}${blocknotify}    network: regtest
    max_confirmation_count: 15
    credit_threshold: ${CREDIT_THRESHOLD}
events:
  ${HANDLER}:
    class: http
    url: ${options.receiverUrl}
    timeout: ${options.handlerTimeout ?? 5}
status-server:
  ip: 127.0.0.1
  port: ${options.statusPort}
service:
  broadcast_period: 2
  poll_period: ${options.pollPeriod ?? 1}
  shutdown_grace_period: ${options.shutdownGrace ?? 5}
  dispatcher:
    poll_interval: 1
    retry_schedule: [${(options.retrySchedule ?? SHORT_RETRY_SCHEDULE).join(", ")}]
`;
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

export interface LogLine {
  level: number;
  msg: string;
  /** pino's serialized error (message and stack include the causes), or a thrown non-Error value. */
  err?: { type?: string; message?: string; stack?: string } | string;
  [key: string]: unknown;
}

/** The message of a log line's `err` (empty when it has none). */
export function logErrorText(line: LogLine): string {
  const err = line.err;
  return typeof err === "object" && err !== null ? String(err.message ?? "") : String(err ?? "");
}

/** The helper service child (restartable: a test may start it again after an exit 2). */
export class ServiceProcess {
  readonly runs: CliProcess[] = [];

  constructor(
    readonly configPath: string,
    readonly statusPort: number,
  ) {}

  get current(): CliProcess {
    const run = this.runs[this.runs.length - 1];
    if (!run) throw new Error("the helper service was never started");
    return run;
  }

  get running(): boolean {
    const child = this.runs[this.runs.length - 1]?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  get statusUrl(): string {
    return `http://127.0.0.1:${this.statusPort}`;
  }

  start(): CliProcess {
    const run = runCli(["helper-service", this.configPath]);
    this.runs.push(run);
    return run;
  }

  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      "a healthy helper service",
      async () => {
        if (!this.running) throw new Error(`the helper service exited:\n${this.current.output()}`);
        return (await fetch(`${this.statusUrl}/health`)).status === 200 ? true : undefined;
      },
      timeoutMs,
    );
  }

  async health(): Promise<{ status: number; problems: string[] }> {
    const response = await fetch(`${this.statusUrl}/health`);
    const body = (await response.json()) as { problems?: string[] };
    return { status: response.status, problems: body.problems ?? [] };
  }

  /** Everything every run printed. */
  output(): string {
    return this.runs.map((run) => run.output()).join("\n");
  }

  /** The JSON log lines of every run (pino), optionally only those after `fromChar` of output(). */
  logLines(fromChar = 0): LogLine[] {
    const lines: LogLine[] = [];
    for (const text of this.output().slice(fromChar).split("\n")) {
      if (!text.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        // a line cut by the slice
      }
    }
    return lines;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.runs.map((run) => killChild(run)));
  }
}

export interface Deposit {
  label: string;
  accountId: number;
  address: string;
  amount: string;
  txid?: string;
}

/**
 * The application's database handle. On PostgreSQL every pooled client gets its own 'error'
 * listener: openDatabase() only covers IDLE clients (pg-pool removes its listener while a
 * client is checked out), so a server restart during one of the test's queries would crash
 * the test worker itself — the same defect the postgres-restart test reports in the service.
 */
export async function openAppDatabase(url: string): Promise<Database> {
  const target = parseDatabaseUrl(url);
  if (target.engine !== "postgres") return openDatabase(url, { poolSize: 2 });
  const pool = new pg.Pool({ connectionString: target.connectionString, max: 2 });
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  const db = new Kysely<Schema>({
    dialect: new PostgresDialect({ pool }),
    plugins: [new NormalizeTypesPlugin()],
  });
  return {
    db,
    engine: "postgres",
    url: maskUrl(url),
    stats: { retries: 0, transactions: 0 },
    transactionRetries: DEFAULT_TRANSACTION_RETRIES,
    close: () => db.destroy(),
  };
}

/** The application: its own connection to the service's database, and a ledger on it. */
export class AppSide {
  readonly deposits: Deposit[] = [];

  private constructor(
    readonly database: Database,
    readonly ledger: Ledger,
    private readonly backend: BitcoindBackend,
  ) {}

  /** Open after the service has migrated the database (it is healthy). */
  static async open(databaseUrl: string, chain: Pick<ExternalChain, "url">): Promise<AppSide> {
    const database = await openAppDatabase(databaseUrl);
    const backend = new BitcoindBackend({ url: chain.url, wallet: "ours" });
    try {
      const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
      return new AppSide(database, ledger, backend);
    } catch (error) {
      await backend.close();
      await database.close();
      throw error;
    }
  }

  /** A fresh account with one receiving address, for a deposit paid later. */
  async prepareDeposit(label: string, amount: string): Promise<Deposit> {
    const account = await this.ledger.createAccount(label);
    const { address } = await this.ledger.createReceivingAddress(account.id);
    const deposit: Deposit = { label, accountId: account.id, address, amount };
    this.deposits.push(deposit);
    return deposit;
  }

  async pay(chain: Pick<ExternalChain, "pay">, deposit: Deposit): Promise<string> {
    deposit.txid = await chain.pay(deposit.address, deposit.amount);
    return deposit.txid;
  }

  async prepareAndPay(chain: Pick<ExternalChain, "pay">, label: string, amount: string): Promise<Deposit> {
    const deposit = await this.prepareDeposit(label, amount);
    await this.pay(chain, deposit);
    return deposit;
  }

  /** Our ledger rows for a deposit: one per (txid, address) is the only right answer. */
  async depositRows(deposit: Deposit) {
    if (!deposit.txid) return [];
    return this.database.db
      .selectFrom("ca_transaction as t")
      .innerJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
      .innerJoin("ca_address as a", "a.id", "t.address_id")
      .select(["t.id", "t.state", "t.amount", "t.receiving_account_id", "n.confirmations", "n.txid"])
      .where("n.txid", "=", deposit.txid)
      .where("n.transaction_type", "=", "deposit")
      .where("a.address", "=", deposit.address)
      .execute();
  }

  /** The ledger's confirmations of a deposit, or undefined while the service has not seen it. */
  async confirmationsOf(deposit: Deposit): Promise<number | undefined> {
    const rows = await this.depositRows(deposit);
    return rows[0]?.confirmations;
  }

  async outbox(): Promise<OutboxRow[]> {
    const rows = await this.database.db
      .selectFrom("ca_event as e")
      .innerJoin("ca_delivery as d", "d.event_row_id", "e.id")
      .select([
        "e.id",
        "e.event_id",
        "e.ordering_key",
        "e.payload",
        "e.event_name",
        "d.state",
        "d.attempts",
        "d.id as delivery_id",
      ])
      .where("d.handler", "=", HANDLER)
      .orderBy("e.id")
      .execute();
    return rows.map((row) => ({
      rowId: Number(row.id),
      deliveryId: Number(row.delivery_id),
      eventId: row.event_id,
      orderingKey: row.ordering_key,
      eventName: row.event_name,
      data: JSON.parse(row.payload) as TxUpdateData,
      state: row.state,
      attempts: Number(row.attempts),
    }));
  }

  async attempts(): Promise<AttemptRow[]> {
    const rows = await this.database.db
      .selectFrom("ca_delivery_attempt as a")
      .innerJoin("ca_delivery as d", "d.id", "a.delivery_id")
      .innerJoin("ca_event as e", "e.id", "d.event_row_id")
      .select(["e.event_id", "a.attempted_at", "a.outcome", "a.http_status", "a.error"])
      .where("d.handler", "=", HANDLER)
      .orderBy("a.id")
      .execute();
    return rows.map((row) => ({
      eventId: row.event_id,
      at: Number(row.attempted_at),
      outcome: row.outcome,
      httpStatus: row.http_status === null ? null : Number(row.http_status),
      error: row.error,
    }));
  }

  async close(): Promise<void> {
    await this.backend.close().catch(() => undefined);
    await this.database.close().catch(() => undefined);
  }
}

export interface OutboxRow {
  rowId: number;
  deliveryId: number;
  eventId: string;
  orderingKey: string;
  eventName: string;
  data: TxUpdateData;
  state: string;
  attempts: number;
}

export interface AttemptRow {
  eventId: string;
  at: number;
  outcome: string;
  httpStatus: number | null;
  error: string | null;
}

/**
 * Waits until every deposit is credited in the ledger and every outbox delivery to the
 * handler is delivered, and the receiver has accepted each of those events.
 */
export async function waitForSettled(
  app: AppSide,
  receiver: FaultyReceiver,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    "every deposit credited and every event delivered",
    async () => {
      for (const deposit of app.deposits) {
        const rows = await app.depositRows(deposit);
        if (rows.length === 0 || rows.some((row) => row.state !== "credited")) return undefined;
      }
      const outbox = await app.outbox();
      const accepted = receiver.acceptedIds();
      if (outbox.length === 0) return undefined;
      if (outbox.some((row) => row.state !== "delivered" || !accepted.has(row.eventId))) return undefined;
      return true;
    },
    timeoutMs,
    250,
  );
}

/**
 * Nothing lost, nothing doubled, nothing out of order:
 * - every deposit is in the ledger exactly once, credited, for its amount, and its account's
 *   confirmed balance is exactly that amount;
 * - every txupdate in the outbox is delivered to the handler and the receiver accepted it;
 * - per transaction, the receiver's FIRST arrivals of each event_id follow the outbox order,
 *   and confirmations only grow (unless `confirmationsOnlyGrow: false`);
 * - each deposit's last event is credited at or beyond the threshold.
 */
export async function expectNothingLost(
  app: AppSide,
  receiver: FaultyReceiver,
  options: { confirmationsOnlyGrow?: boolean } = {},
): Promise<OutboxRow[]> {
  for (const deposit of app.deposits) {
    expect(deposit.txid, `deposit ${deposit.label} was paid`).toBeDefined();
    const rows = await app.depositRows(deposit);
    expect(rows, `ledger rows of deposit ${deposit.label}`).toHaveLength(1);
    const row = rows[0];
    expect(row?.state).toBe("credited");
    expect(BigInt(row?.amount ?? -1)).toBe(parseAmount(deposit.amount, 8));
    expect(row?.receiving_account_id).toBe(deposit.accountId);
    const balance = await app.ledger.accountBalance(deposit.accountId);
    expect(balance.confirmed, `balance of ${deposit.label}`).toBe(parseAmount(deposit.amount, 8));
  }

  const outbox = await app.outbox();
  expect(outbox.length).toBeGreaterThan(0);
  const undelivered = outbox.filter((row) => row.state !== "delivered");
  expect(undelivered, "outbox deliveries not delivered").toEqual([]);
  const accepted = receiver.acceptedIds();
  expect(outbox.filter((row) => !accepted.has(row.eventId)).map((row) => row.eventId)).toEqual([]);

  const byKey = new Map<string, OutboxRow[]>();
  for (const row of outbox) byKey.set(row.orderingKey, [...(byKey.get(row.orderingKey) ?? []), row]);
  for (const [key, rows] of byKey) {
    const transactionId = rows[0]?.data.transaction as number;
    const expected = rows.map((row) => row.eventId);
    const firstArrivals = receiver.firstArrivalOrder((arrival) => arrival.data.transaction === transactionId);
    expect(firstArrivals, `first arrivals of ${key} follow the outbox order`).toEqual(expected);
  }
  if (options.confirmationsOnlyGrow ?? true) expectConfirmationsOnlyGrow(outbox);

  for (const deposit of app.deposits) {
    const events = outbox.filter(
      (row) => row.data.txid === deposit.txid && row.data.address === deposit.address,
    );
    expect(events.length, `events of deposit ${deposit.label}`).toBeGreaterThan(0);
    const last = events[events.length - 1]?.data;
    expect(last?.credited).toBe(true);
    expect(last?.confirmations).toBeGreaterThanOrEqual(CREDIT_THRESHOLD);
    expect(parseAmount(last?.amount ?? "0", 8)).toBe(parseAmount(deposit.amount, 8));
    expect(last?.amount).toMatch(/^\d+\.\d{8}$/);
    expect(events.every((row) => row.data.account === deposit.accountId)).toBe(true);
  }
  return outbox;
}

/** Per transaction, each txupdate has more confirmations than the one before. */
export function expectConfirmationsOnlyGrow(outbox: readonly OutboxRow[]): void {
  const byKey = new Map<string, number[]>();
  // Other kinds (backendstatus while the daemon is down, txreplaced) carry no confirmations.
  for (const row of outbox.filter((r) => r.eventName === "txupdate"))
    byKey.set(row.orderingKey, [...(byKey.get(row.orderingKey) ?? []), row.data.confirmations]);
  for (const [key, confirmations] of byKey) {
    for (let i = 1; i < confirmations.length; i++) {
      expect(confirmations[i], `confirmations of ${key} grow: ${confirmations.join(",")}`).toBeGreaterThan(
        confirmations[i - 1] as number,
      );
    }
  }
}

/** Starts the helper service on `configPath`, waits until healthy, then opens the app side. */
export async function startServiceAndApp(
  configPath: string,
  statusPort: number,
  databaseUrl: string,
  chain: Pick<ExternalChain, "url">,
  healthyWithinMs?: number,
): Promise<{ service: ServiceProcess; app: AppSide }> {
  const service = new ServiceProcess(configPath, statusPort);
  service.start();
  await service.waitHealthy(healthyWithinMs);
  return { service, app: await AppSide.open(databaseUrl, chain) };
}

/** Tears a fault test down in order: the service first, then what it used, then `dir`. */
export async function tearDown(
  dir: string | undefined,
  ...parts: Array<
    { stop(): Promise<unknown> } | { close(): Promise<unknown> } | { drop(): Promise<unknown> } | undefined
  >
): Promise<void> {
  for (const part of parts) {
    if (!part) continue;
    if ("stop" in part) await part.stop();
    else if ("close" in part) await part.close();
    else await part.drop();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}
