/**
 * The real helper service (null backend, SQLite) with one broker handler from a parsed
 * configuration entry: events are written through the service's own outbox, one database
 * transaction per "block" (confirmation c of every transaction), and its dispatcher delivers
 * them. What the broker holds is then compared with what the outbox wrote.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { expect } from "vitest";
import { parseConfig } from "../../../src/config/index.js";
import { runSerializable } from "../../../src/db/index.js";
import { sqliteUrl } from "../../../src/db/url.js";
import { listDeliveries } from "../../../src/events/outbox/index.js";
import type { CryptoassetsEvent, TxUpdateData } from "../../../src/events/types.js";
import { type HelperService, startHelperService } from "../../../src/service/index.js";
import { waitFor } from "../../support/wait.js";

export const HANDLER = "broker";
/** Attempts every half second for a minute: a broker restart must not make anything dead. */
const PATIENT_RETRIES = Array<number>(120).fill(0.5);

export function txupdate(transaction: number, confirmations: number): TxUpdateData {
  return {
    coin_name: "btc",
    transaction,
    network_transaction: transaction,
    transaction_type: transaction % 2 === 0 ? "deposit" : "broadcast",
    txid: transaction.toString(16).padStart(64, "0"),
    account: 1 + (transaction % 3),
    address: "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm",
    amount: `0.${String(transaction).padStart(8, "0")}`,
    credited: confirmations >= 3,
    confirmations,
  };
}

export interface BrokerRun {
  service: HelperService;
  /** Every event written, in outbox order. */
  written: CryptoassetsEvent[];
  /** Writes confirmation `c` of transactions 1..n in one database transaction. */
  writeRound(confirmations: number): Promise<void>;
  /** Until every delivery of this handler is delivered. */
  allDelivered(timeoutMs?: number): Promise<void>;
  failedAttempts(): Promise<{ attempts: number; errors: string[] }>;
  stop(): Promise<void>;
}

export async function startBrokerRun(
  handler: Record<string, unknown>,
  transactions: number,
): Promise<BrokerRun> {
  const dir = mkdtempSync(join(tmpdir(), "ca-broker-"));
  const config = parseConfig({
    database: { url: sqliteUrl(join(dir, "service.db")) },
    coins: { btc: { backend: { class: "null" }, network: "regtest" } },
    events: { [HANDLER]: handler },
    "status-server": { port: 0 },
    service: { dispatcher: { retry_schedule: PATIENT_RETRIES, poll_interval: 0.5 } },
  });
  const service = await startHelperService(config);
  const written: CryptoassetsEvent[] = [];
  const database = service.database;
  return {
    service,
    written,
    async writeRound(confirmations) {
      const updates = Array.from({ length: transactions }, (_, i) => txupdate(i + 1, confirmations));
      const rows = await runSerializable(database, (trx) => service.outbox.writeTxUpdates(trx, updates));
      service.outbox.notifyCommitted();
      for (const [i, row] of rows.entries()) {
        written.push({
          event_id: row.event_id,
          event_name: "txupdate",
          data: updates[i] as TxUpdateData,
          created_at: new Date(row.created_at).toISOString(),
        });
      }
    },
    async allDelivered(timeoutMs = 30_000) {
      await waitFor(
        `all ${written.length} events delivered to the broker`,
        async () => {
          const rows = await listDeliveries(database, { handler: HANDLER, limit: 100_000 });
          return rows.length === written.length && rows.every((r) => r.state === "delivered")
            ? true
            : undefined;
        },
        timeoutMs,
      );
    },
    async failedAttempts() {
      const rows = await database.db
        .selectFrom("ca_delivery_attempt")
        .select(["outcome", "error"])
        .where("outcome", "<>", "delivered")
        .execute();
      return { attempts: rows.length, errors: rows.map((r) => r.error ?? "") };
    },
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What a consumer read, checked against what was written: every event present with exactly
 * the written fields, and per transaction the first copies in confirmation order. Returns
 * how many extra copies (at-least-once duplicates) there were.
 */
export function checkReadBack(
  written: readonly CryptoassetsEvent[],
  read: readonly CryptoassetsEvent[],
): { duplicates: number } {
  const byId = new Map(written.map((event) => [event.event_id, event]));
  const seen = new Set<string>();
  const order = new Map<number, number[]>();
  let duplicates = 0;
  for (const event of read) {
    const original = byId.get(event.event_id);
    if (!original) throw new Error(`read an event that was never written: ${JSON.stringify(event)}`);
    if (!isDeepStrictEqual(event, original)) {
      throw new Error(`read ${JSON.stringify(event)}\nwritten ${JSON.stringify(original)}`);
    }
    if (seen.has(event.event_id)) {
      duplicates++;
      continue;
    }
    seen.add(event.event_id);
    const data = event.data as TxUpdateData;
    const list = order.get(data.transaction) ?? [];
    list.push(data.confirmations);
    order.set(data.transaction, list);
  }
  const missing = written.filter((event) => !seen.has(event.event_id));
  if (missing.length > 0)
    throw new Error(`${missing.length} events never arrived, e.g. ${JSON.stringify(missing[0])}`);
  for (const [transaction, confirmations] of order) {
    const sorted = [...confirmations].sort((a, b) => a - b);
    if (JSON.stringify(sorted) !== JSON.stringify(confirmations)) {
      throw new Error(`transaction ${transaction} arrived out of order: ${confirmations.join(", ")}`);
    }
  }
  return { duplicates };
}

export interface ExampleConsumer {
  /** What it wrote to stderr: its start line, duplicates it skipped, errors. */
  stderr(): string;
  /** Once it printed `count` events: the events, parsed. */
  printed(count: number): Promise<CryptoassetsEvent[]>;
  stop(): Promise<void>;
}

/** One of examples/brokers/*.mjs as a child process; resolves once it says it is consuming. */
export async function startExampleConsumer(
  script: string,
  env: Record<string, string>,
): Promise<ExampleConsumer> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "../../../examples/brokers", script)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const consumer: ExampleConsumer = {
    stderr: () => stderr,
    printed: (count) =>
      waitFor(`${script} to print ${count} events`, () => {
        const lines = stdout.split("\n").filter(Boolean);
        return lines.length >= count ? lines.map((line) => JSON.parse(line) as CryptoassetsEvent) : undefined;
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitFor(
      `${script} to start consuming`,
      () => (/consuming/.test(stderr) ? true : undefined),
      15_000,
    );
  } catch (error) {
    await consumer.stop();
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  return consumer;
}

/**
 * The consumer test's run: six rounds (confirmations 0–5), all delivered without a failed
 * attempt, and everything the consumer printed — each event once, exactly as written, in
 * order per transaction.
 */
export async function deliverAndReadBack(
  run: BrokerRun,
  consumer: ExampleConsumer,
): Promise<CryptoassetsEvent[]> {
  for (let confirmations = 0; confirmations <= 5; confirmations++) await run.writeRound(confirmations);
  await run.allDelivered();
  const read = await consumer.printed(run.written.length);
  expect(checkReadBack(run.written, read)).toEqual({ duplicates: 0 });
  expect(read).toHaveLength(run.written.length);
  expect(await run.failedAttempts()).toEqual({ attempts: 0, errors: [] });
  expect(consumer.stderr()).not.toMatch(/duplicate/);
  return read;
}

export interface Restartable {
  /** A crash: SIGKILL. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

/**
 * The restart test's run: rounds 0–1 delivered; round 2 written and the broker killed at once
 * (deliveries may be in flight); round 3 written while it is down — attempts fail, naming the
 * broker's URL masked (`shownUrl`) and never `secret`, and the service stays healthy; the
 * broker started again (same port, same data); rounds 4–5; everything delivered.
 */
export async function runAcrossCrash(
  run: BrokerRun,
  broker: Restartable,
  expected: { shownUrl: RegExp; secret: string },
): Promise<{ failedAttempts: number }> {
  await run.writeRound(0);
  await run.writeRound(1);
  await run.allDelivered();
  await run.writeRound(2);
  await broker.kill();
  await run.writeRound(3);
  const failures = await waitFor("failed attempts while the broker is down", async () => {
    const failed = await run.failedAttempts();
    return failed.attempts >= 10 ? failed : undefined;
  });
  expect(failures.errors.join("\n")).toMatch(expected.shownUrl);
  expect(failures.errors.join("\n")).not.toContain(expected.secret);
  expect(run.service.health()).toEqual({ ok: true, problems: [] });
  await broker.start();
  await run.writeRound(4);
  await run.writeRound(5);
  await run.allDelivered(60_000);
  return { failedAttempts: (await run.failedAttempts()).attempts };
}

/** One line of figures for the report (what the broker went through, what was read back). */
export function printFigures(broker: string, figures: Record<string, number>): void {
  const text = Object.entries(figures)
    .map(([name, value]) => `${name} ${value}`)
    .join(", ");
  console.log(`[figures] ${broker}: ${text}`);
}
