/**
 * Event delivery: events/s to local HTTP receivers (keep-alive) and the delay from ledger
 * commit to receipt, with 1 and 4 handlers, and a fast handler beside a slow one (200 ms
 * per request) to show the slow one does not reduce the fast one's throughput.
 *
 * Each event is written in its own transaction (one per ledger change, as in production),
 * at a steady pace while the dispatcher runs, so commit→receipt includes the wake-up path.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Database, initializeDatabase, openDatabase, runSerializable } from "../src/db/index.js";
import { Dispatcher } from "../src/events/dispatcher/dispatcher.js";
import { HttpEventHandler } from "../src/events/handlers/index.js";
import { Outbox } from "../src/events/outbox/index.js";
import type { TxUpdateData } from "../src/events/types.js";
import { createPostgresDatabase, dropPostgresDatabases } from "./postgres.js";
import { percentile, type Receiver, row, startReceiver, waitUntil } from "./support.js";

function txupdate(n: number): TxUpdateData {
  return {
    coin_name: "btc",
    transaction: n,
    network_transaction: n,
    transaction_type: "deposit",
    txid: n.toString(16).padStart(64, "0"),
    account: 1,
    address: "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm",
    amount: "0.50000000",
    credited: false,
    confirmations: 0,
  };
}

interface Scenario {
  label: string;
  receivers: Array<{ name: string; delayMs: number }>;
  events: number;
}

async function run(databaseUrl: string, scenario: Scenario): Promise<void> {
  const database: Database = await openDatabase(databaseUrl, { poolSize: 20 });
  await initializeDatabase(database);
  const receivers: Receiver[] = [];
  const handlers: HttpEventHandler[] = [];
  for (const r of scenario.receivers) {
    const receiver = await startReceiver(r.delayMs);
    receivers.push(receiver);
    handlers.push(new HttpEventHandler(r.name, { url: receiver.url, timeout: 10 }));
  }
  const outbox = new Outbox(
    database,
    handlers.map((h) => h.name),
  );
  const dispatcher = new Dispatcher({
    database,
    databaseUrl,
    handlers,
    concurrency: 16,
    pollIntervalMs: 1000,
  });
  outbox.onCommitted(() => dispatcher.wake());
  await dispatcher.start();

  const committedAt = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < scenario.events; i++) {
    const [written] = await runSerializable(database, (trx) => outbox.writeTxUpdates(trx, [txupdate(i + 1)]));
    committedAt.set(written?.event_id ?? "", performance.now());
    outbox.notifyCommitted();
  }
  const writeSeconds = (performance.now() - started) / 1000;
  for (const [index, receiver] of receivers.entries()) {
    const slow = (scenario.receivers[index]?.delayMs ?? 0) > 0;
    if (slow) continue; // the slow receiver is measured only for what it got meanwhile
    await waitUntil(() => receiver.received.size >= scenario.events, 120_000);
  }
  for (const [index, receiver] of receivers.entries()) {
    const spec = scenario.receivers[index];
    if (!spec) continue;
    const delays = [...receiver.received.entries()]
      .map(([id, at]) => at - (committedAt.get(id) ?? at))
      .sort((a, b) => a - b);
    const last = Math.max(...receiver.received.values());
    const seconds = (last - started) / 1000;
    row(`${scenario.label} [${spec.name}${spec.delayMs ? `, ${spec.delayMs} ms/request` : ""}]`, {
      delivered: receiver.received.size,
      "events/s": receiver.received.size / seconds,
      p50_ms: percentile(delays, 50),
      p99_ms: percentile(delays, 99),
    });
  }
  row(`${scenario.label} [writer]`, { "commits/s": scenario.events / writeSeconds });
  await dispatcher.stop(2000);
  for (const h of handlers) await h.close();
  for (const r of receivers) await r.close();
  await database.close();
}

export async function eventDeliveryBench(options: { events: number; postgresUrl?: string }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ca-bench-"));
  const engines: Array<[string, (n: string) => Promise<string>]> = [
    ["sqlite", async (n) => `sqlite://${join(dir, `${n}.db`)}`],
  ];
  const pg = options.postgresUrl;
  if (pg) engines.push(["postgres", (n) => createPostgresDatabase(pg, n)]);
  try {
    for (const [engine, urlFor] of engines) {
      const n = options.events;
      const scenarios: Scenario[] = [
        { label: `${engine} 1 handler`, receivers: [{ name: "app", delayMs: 0 }], events: n },
        {
          label: `${engine} 4 handlers`,
          receivers: ["a", "b", "c", "d"].map((name) => ({ name, delayMs: 0 })),
          events: n,
        },
        {
          label: `${engine} fast beside slow`,
          receivers: [
            { name: "fast", delayMs: 0 },
            { name: "slow", delayMs: 200 },
          ],
          events: n,
        },
      ];
      for (const [i, scenario] of scenarios.entries()) await run(await urlFor(`run${i}`), scenario);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (pg) await dropPostgresDatabases(pg);
  }
}
