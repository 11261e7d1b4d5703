/**
 * Issue 14, target 3: the outbox costs the same with N delivered events (and their
 * deliveries and attempts) kept as with none. Two PostgreSQL databases, one left empty and
 * one filled by `INSERT … SELECT generate_series` (not through the service), then VACUUM
 * ANALYZE as autovacuum would; measured alternately, three rounds, medians:
 *
 * - claim latency: one `claimDeliveries` of 16 (then their outcomes, as a dispatcher does)
 *   over a backlog of 2,000 pending events, p50/p99;
 * - delivery rate: a Dispatcher (16 slots, an in-process handler) draining 5,000 events;
 * - ingest rate: 500 events, one per serializable transaction.
 *
 * Then table and index sizes, and the retention purge of the N old events while a writer
 * commits 100 events/s and the dispatcher delivers them: purge time, and commit→delivery
 * latency p99/max before and during the purge (a stall shows as the max). Where the server's
 * autovacuum is off (this VM), bench/autovacuum.ts does its job meanwhile.
 */
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { type Database, initializeDatabase, openDatabase, runSerializable } from "../src/db/index.js";
import { type DeliverableHandler, Dispatcher } from "../src/events/dispatcher.js";
import { claimDeliveries, Outbox, purgeDelivered, recordOutcomes } from "../src/events/outbox/index.js";
import { sampleTxUpdate as txupdate } from "../test/support/sample-events.js";
import { waitFor } from "../test/support/wait.js";
import { standInForAutovacuum } from "./autovacuum.js";
import { createPostgresDatabase } from "./postgres.js";
import { clock } from "./processes.js";
import { percentile, row } from "./support.js";

const DAY_MS = 86_400_000;
/** Rows per generating statement: progress shows, and no statement runs for many minutes. */
const GENERATE_CHUNK = 1_000_000;

/** N delivered events, 40 days old, one delivery and one attempt each, as the service leaves them. */
async function generate(database: Database, n: number): Promise<void> {
  const old = Date.now() - 40 * DAY_MS;
  const payload = JSON.stringify(txupdate(1));
  const db = database.db;
  for (let from = 1; from <= n; from += GENERATE_CHUNK) {
    const to = Math.min(n, from + GENERATE_CHUNK - 1);
    const started = clock();
    await sql`insert into ca_event (id, event_id, event_name, ordering_key, payload, created_at, feed_seq)
      select g, '00000000-0000-7000-8000-' || lpad(g::text, 12, '0'), 'txupdate', 'btc:' || (g / 5),
        ${payload}, ${old}::int8 + g, g
      from generate_series(${from}::int, ${to}::int) g`.execute(db);
    await sql`insert into ca_delivery (id, event_row_id, handler, ordering_key, state, attempts,
        next_attempt_at, last_status, delivered_at, created_at)
      select g, g, 'app', 'btc:' || (g / 5), 'delivered', 1, ${old}::int8 + g, 200, ${old}::int8 + g + 5, ${old}::int8 + g
      from generate_series(${from}::int, ${to}::int) g`.execute(db);
    await sql`insert into ca_delivery_attempt (id, delivery_id, attempted_at, outcome, http_status,
        duration_ms)
      select g, g, ${old}::int8 + g + 5, 'delivered', 200, 3
      from generate_series(${from}::int, ${to}::int) g`.execute(db);
    console.log(`  generated ${to} of ${n} (${((clock() - started) / 1000).toFixed(1)} s for this chunk)`);
  }
  for (const table of ["ca_event", "ca_delivery", "ca_delivery_attempt"]) {
    await sql`select setval(${`${table}_id_seq`}, ${n})`.execute(db);
  }
  await sql`update ca_event_feed set last_seq = ${n}`.execute(db);
  const started = clock();
  await sql`vacuum analyze`.execute(db);
  console.log(`  vacuum analyze ${((clock() - started) / 1000).toFixed(1)} s`);
}

const instant: DeliverableHandler = {
  name: "app",
  timeoutMs: 10_000,
  deliver: async () => ({ durationMs: 0 }),
};

async function writeEvents(database: Database, n: number, perTransaction: number): Promise<void> {
  const outbox = new Outbox(database, ["app"]);
  for (let i = 0; i < n; i += perTransaction) {
    const size = Math.min(perTransaction, n - i);
    await runSerializable(database, (trx) =>
      outbox.writeTxUpdates(
        trx,
        Array.from({ length: size }, (_, k) => txupdate(1 + i + k)),
      ),
    );
  }
}

/** Latencies (ms) of claims of 16 over a backlog of 2,000, each followed by its outcomes. */
async function claimLatencies(database: Database): Promise<number[]> {
  await writeEvents(database, 2000, 500);
  const me = randomUUID();
  const latencies: number[] = [];
  for (;;) {
    const started = clock();
    const claimed = await claimDeliveries(database, "app", me, 16, 60_000);
    latencies.push(clock() - started);
    if (claimed.length === 0) return latencies.sort((a, b) => a - b);
    await recordOutcomes(
      database,
      claimed.map((c) => ({
        deliveryId: c.delivery_id,
        attemptsBefore: c.attempts,
        outcome: { ok: true, durationMs: 0 },
      })),
      [1],
    );
  }
}

async function deliveryRate(database: Database): Promise<number> {
  const n = 5000;
  await writeEvents(database, n, 500);
  const dispatcher = new Dispatcher({ database, handlers: [instant], concurrency: 16, pollIntervalMs: 1000 });
  const started = clock();
  await dispatcher.start();
  await waitFor(`${n} deliveries`, () => (dispatcher.counters.get("app")?.delivered ?? 0) >= n, 600_000, 5);
  const seconds = (clock() - started) / 1000;
  await dispatcher.stop();
  return n / seconds;
}

async function ingestRate(database: Database): Promise<number> {
  const n = 500;
  const started = clock();
  await writeEvents(database, n, 1);
  return n / ((clock() - started) / 1000);
}

interface Figures {
  claimP50: number[];
  claimP99: number[];
  deliveries: number[];
  ingest: number[];
}

async function measure(database: Database, into: Figures): Promise<void> {
  const claims = await claimLatencies(database);
  into.claimP50.push(percentile(claims, 50));
  into.claimP99.push(percentile(claims, 99));
  into.deliveries.push(await deliveryRate(database));
  into.ingest.push(await ingestRate(database));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function printSizes(database: Database): Promise<void> {
  const { rows } = await sql<{ name: string; kind: string; mb: number }>`
    select c.relname as name, case c.relkind when 'i' then 'index' else 'table (total)' end as kind,
      round((case c.relkind when 'i' then pg_relation_size(c.oid) else pg_total_relation_size(c.oid) end)
        / 1048576.0, 1)::float8 as mb
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'i')
      and (c.relname like 'ca_event%' or c.relname like 'ca_delivery%' or c.relname like 'ca_attempt%')
    order by c.relkind desc, c.relname`.execute(database.db);
  for (const r of rows) row(`  ${r.kind} ${r.name}`, { MiB: Number(r.mb) });
}

/** Commit→delivery latencies while `during` runs, a writer committing 100 events/s meanwhile. */
async function latenciesDuring(database: Database, during: () => Promise<unknown>): Promise<number[]> {
  const committedAt = new Map<string, number>();
  const deliveredEarly = new Set<string>();
  const latencies: number[] = [];
  const handler: DeliverableHandler = {
    name: "app",
    timeoutMs: 10_000,
    deliver: async (event) => {
      const at = committedAt.get(event.event_id);
      // Delivered before the writer's await resumed: counted as 0 when it does.
      if (at === undefined) deliveredEarly.add(event.event_id);
      else latencies.push(clock() - at);
      return { durationMs: 0 };
    },
  };
  const outbox = new Outbox(database, ["app"]);
  const dispatcher = new Dispatcher({ database, handlers: [handler], concurrency: 16, pollIntervalMs: 1000 });
  outbox.onCommitted(() => dispatcher.wake());
  await dispatcher.start();
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const [written] = await runSerializable(database, (trx) => outbox.writeTxUpdates(trx, [txupdate(i)]));
      const eventId = written?.event_id ?? "";
      committedAt.set(eventId, clock());
      if (deliveredEarly.delete(eventId)) latencies.push(0);
      outbox.notifyCommitted();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  try {
    await during();
  } finally {
    writing = false;
    await writer;
    await waitFor("the last deliveries", () => latencies.length >= committedAt.size, 60_000, 5);
    await dispatcher.stop();
  }
  return latencies.sort((a, b) => a - b);
}

export async function outboxScaleBench(options: { postgresUrl: string; rows: number }): Promise<void> {
  const empty = await openDatabase(await createPostgresDatabase(options.postgresUrl, "scale_empty"), {
    poolSize: 20,
  });
  const full = await openDatabase(await createPostgresDatabase(options.postgresUrl, "scale_full"), {
    poolSize: 20,
  });
  try {
    await initializeDatabase(empty);
    await initializeDatabase(full);
    console.log(`generating ${options.rows} delivered events with their deliveries and attempts`);
    await generate(full, options.rows);
    const figures = {
      empty: { claimP50: [], claimP99: [], deliveries: [], ingest: [] } as Figures,
      full: { claimP50: [], claimP99: [], deliveries: [], ingest: [] } as Figures,
    };
    for (let round = 1; round <= 3; round++) {
      await measure(empty, figures.empty);
      await measure(full, figures.full);
    }
    for (const [label, f] of Object.entries(figures)) {
      row(
        `postgres outbox ${label === "empty" ? "empty" : `with ${options.rows} delivered`} (medians of 3)`,
        {
          claim_p50_ms: median(f.claimP50),
          claim_p99_ms: median(f.claimP99),
          "deliveries/s": median(f.deliveries),
          "ingest_events/s": median(f.ingest),
        },
      );
    }
    console.log("sizes with the delivered rows kept:");
    await printSizes(full);
    const before = await latenciesDuring(full, () => new Promise((resolve) => setTimeout(resolve, 5000)));
    row("  commit→delivery, 100 events/s, no purge", {
      p99_ms: percentile(before, 99),
      max_ms: before[before.length - 1] ?? 0,
    });
    let purged = 0;
    let purgeSeconds = 0;
    const autovacuum = await standInForAutovacuum(full, ["ca_event", "ca_delivery", "ca_delivery_attempt"]);
    const during = await latenciesDuring(full, async () => {
      const started = clock();
      purged = await purgeDelivered(full, 30 * DAY_MS);
      purgeSeconds = (clock() - started) / 1000;
    });
    const vacuumed = await autovacuum.stop();
    if (autovacuum.active) {
      console.log(
        `  the server's autovacuum is off; done in its place during the purge: ${vacuumed.join(", ") || "nothing"}`,
      );
    }
    row("  commit→delivery, 100 events/s, during the purge", {
      p99_ms: percentile(during, 99),
      max_ms: during[during.length - 1] ?? 0,
    });
    row(`  purge of ${purged} events (and deliveries, attempts)`, {
      seconds: purgeSeconds,
      "events/s": purged / purgeSeconds,
    });
    console.log("sizes after the purge (before vacuum):");
    await printSizes(full);
  } finally {
    await empty.close();
    await full.close();
  }
}
