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
import {
  type Database,
  initializeDatabase,
  openDatabase,
  runSerializable,
  sqliteUrl,
} from "../src/db/index.js";
import { Dispatcher } from "../src/events/dispatcher.js";
import { HttpEventHandler } from "../src/events/handlers/index.js";
import { Outbox } from "../src/events/outbox/index.js";
import { sampleTxUpdate as txupdate } from "../test/support/sample-events.js";
import { waitFor } from "../test/support/wait.js";
import { createPostgresDatabase, dropPostgresDatabases } from "./postgres.js";
import { percentile, type Receiver, row, startReceiver } from "./support.js";

interface Scenario {
  label: string;
  receivers: Array<{ name: string; delayMs: number }>;
  events: number;
  /**
   * live: events are written while the dispatcher runs (the writer sets the pace);
   * backlog: all events are committed first, then the dispatcher drains them — what the
   * dispatcher itself can do, without the writer competing for the database.
   */
  mode?: "live" | "backlog";
}

/** Runs one scenario, prints its rows; returns the first handler's events/s. */
async function run(databaseUrl: string, scenario: Scenario): Promise<number> {
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
  const backlog = scenario.mode === "backlog";
  if (!backlog) await dispatcher.start();

  const committedAt = new Map<string, number>();
  let started = performance.now();
  for (let i = 0; i < scenario.events; i++) {
    const [written] = await runSerializable(database, (trx) => outbox.writeTxUpdates(trx, [txupdate(i + 1)]));
    committedAt.set(written?.event_id ?? "", performance.now());
    outbox.notifyCommitted();
  }
  const writeSeconds = (performance.now() - started) / 1000;
  if (backlog) {
    // Delays are measured from the dispatcher's start, not from each commit.
    started = performance.now();
    for (const id of committedAt.keys()) committedAt.set(id, started);
    await dispatcher.start();
  }
  for (const [index, receiver] of receivers.entries()) {
    const slow = (scenario.receivers[index]?.delayMs ?? 0) > 0;
    if (slow) continue; // the slow receiver is measured only for what it got meanwhile
    await waitFor(
      `${scenario.events} events at a receiver`,
      () => receiver.received.size >= scenario.events,
      120_000,
      5,
    );
  }
  let firstRate = 0;
  for (const [index, receiver] of receivers.entries()) {
    const spec = scenario.receivers[index];
    if (!spec) continue;
    const delays = [...receiver.received.entries()]
      .map(([id, at]) => at - (committedAt.get(id) ?? at))
      .sort((a, b) => a - b);
    const last = Math.max(...receiver.received.values());
    const seconds = (last - started) / 1000;
    if (index === 0) firstRate = receiver.received.size / seconds;
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
  return firstRate;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export async function eventDeliveryBench(options: {
  events: number;
  postgresUrl?: string;
  /** Only scenarios whose label contains this text. */
  scenario?: string;
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ca-bench-"));
  const engines: Array<[string, (n: string) => Promise<string>]> = [
    ["sqlite", async (n) => sqliteUrl(join(dir, `${n}.db`))],
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
      ];
      for (const [i, scenario] of scenarios.entries()) {
        if (options.scenario && !scenario.label.includes(options.scenario)) continue;
        await run(await urlFor(`run${i}`), scenario);
      }
      // The slow handler must not reduce the fast one's throughput: the fast handler beside a
      // fast twin vs beside a 200 ms one, alternating three rounds (one run is too noisy on a
      // shared 2-core machine), live and draining a backlog (the writer does not set the pace).
      for (const mode of ["live", "backlog"] as const) {
        const label = `${engine} ${mode}: fast beside`;
        if (options.scenario && !label.includes(options.scenario)) continue;
        const rates = { fast: [] as number[], slow: [] as number[] };
        for (let round = 1; round <= 3; round++) {
          for (const other of ["fast", "slow"] as const) {
            const scenario: Scenario = {
              label: `${label} ${other} #${round}`,
              receivers: [
                { name: "fast", delayMs: 0 },
                { name: other === "fast" ? "twin" : "slow", delayMs: other === "fast" ? 0 : 200 },
              ],
              events: n,
              mode,
            };
            rates[other].push(await run(await urlFor(`${mode}_${other}_${round}`), scenario));
          }
        }
        row(`${label} fast vs beside slow (medians)`, {
          "beside_fast_ev/s": median(rates.fast),
          "beside_slow_ev/s": median(rates.slow),
          ratio: median(rates.slow) / median(rates.fast),
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (pg) await dropPostgresDatabases(pg);
  }
}
