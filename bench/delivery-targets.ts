/**
 * Issue 14, targets 2 and 6, on PostgreSQL, with the receiving application in its own process
 * (./processes.ts) as in production:
 *
 * - backlog: N events (default 100,000; five per transaction, a transaction's events N/5
 *   apart) committed first, then drained by one dispatcher (16 slots) to one keep-alive
 *   HTTP receiver: deliveries/s from the dispatcher's start to the last receipt;
 * - steady: 500 events/s (5 per commit every 10 ms) for S seconds: commit→receipt p50/p99;
 * - dispatchers: K dispatcher processes (K = 1, 2, 4) sharing one outbox drain a backlog.
 *
 * backlog and steady run this tree's build and, with `--events-baseline DIR`, the build of
 * an earlier tree (`git archive <commit> | tar -x -C DIR`, then `npx tsc -p bench/tsconfig.json`
 * there), alternately, each on its own database created by its own migrations.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import type * as Db from "../src/db/index.js";
import type * as Dispatching from "../src/events/dispatcher.js";
import type * as Handlers from "../src/events/handlers/index.js";
import type * as Outboxes from "../src/events/outbox/index.js";
import type { TxUpdateData } from "../src/events/types.js";
import { sampleTxUpdate as txupdate } from "../test/support/sample-events.js";
import { waitFor } from "../test/support/wait.js";
import { createPostgresDatabase } from "./postgres.js";
import { clock, startDispatcherProcess, startReceiverProcess } from "./processes.js";
import { percentile, row } from "./support.js";

interface Build {
  name: string;
  db: typeof Db;
  dispatcher: typeof Dispatching;
  handlers: typeof Handlers;
  outbox: typeof Outboxes;
}

async function loadBuild(name: string, root?: string): Promise<Build> {
  const base = root
    ? pathToFileURL(join(root, "dist-bench/src/")).href
    : new URL("../src/", import.meta.url).href;
  return {
    name,
    db: await import(`${base}db/index.js`),
    dispatcher: await import(`${base}events/dispatcher.js`),
    handlers: await import(`${base}events/handlers/index.js`),
    outbox: await import(`${base}events/outbox/index.js`),
  };
}

/** Opens a fresh database of this build with an outbox and a dispatcher to the receiver. */
async function setUp(build: Build, url: string, receiverUrl: string) {
  const database = await build.db.openDatabase(url, { poolSize: 20 });
  await build.db.initializeDatabase(database);
  const handler = new build.handlers.HttpEventHandler("app", { url: receiverUrl, timeout: 10 });
  const outbox = new build.outbox.Outbox(database, ["app"]);
  const dispatcher = new build.dispatcher.Dispatcher({
    database,
    databaseUrl: url,
    handlers: [handler],
    concurrency: 16,
    pollIntervalMs: 1000,
  });
  outbox.onCommitted(() => dispatcher.wake());
  const write = (updates: TxUpdateData[]) =>
    build.db.runSerializable(database, (trx) => outbox.writeTxUpdates(trx, updates));
  const close = async () => {
    await dispatcher.stop(2000);
    await handler.close();
    await database.close();
  };
  return { database, dispatcher, write, close };
}

/** Transactions committed in the database so far (statistics lag up to a second: waits that long). */
async function commits(url: string): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "select xact_commit as n from pg_stat_database where datname = current_database()",
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** Commits `n` events, 500 per transaction, five per ledger transaction. */
async function writeBacklog(write: (u: TxUpdateData[]) => Promise<unknown>, n: number): Promise<void> {
  const keys = Math.max(1, Math.floor(n / 5));
  for (let i = 0; i < n; i += 500) {
    const size = Math.min(500, n - i);
    await write(
      Array.from({ length: size }, (_, k) => txupdate(1 + ((i + k) % keys), Math.floor((i + k) / keys))),
    );
  }
}

async function backlog(build: Build, serverUrl: string, n: number): Promise<number> {
  const receiver = await startReceiverProcess();
  const url = await createPostgresDatabase(serverUrl, `backlog_${build.name}`);
  const run = await setUp(build, url, receiver.url);
  try {
    await writeBacklog(run.write, n);
    const commitsBefore = await commits(url);
    const started = clock();
    await run.dispatcher.start();
    await waitFor(`${n} events at the receiver`, () => receiver.received.size >= n, 1_200_000, 20);
    const seconds = (Math.max(...receiver.received.values()) - started) / 1000;
    row(`postgres backlog ${n} [${build.name}]`, {
      delivered: receiver.received.size,
      "deliveries/s": n / seconds,
      "commits/delivery": ((await commits(url)) - commitsBefore) / n,
    });
    return n / seconds;
  } finally {
    await run.close();
    await receiver.close();
  }
}

async function steady(build: Build, serverUrl: string, seconds: number): Promise<void> {
  const receiver = await startReceiverProcess();
  const url = await createPostgresDatabase(serverUrl, `steady_${build.name}`);
  const run = await setUp(build, url, receiver.url);
  const perTick = 5;
  const tickMs = 10;
  const ticks = Math.round((seconds * 1000) / tickMs);
  const committedAt = new Map<string, number>();
  try {
    await run.dispatcher.start();
    const started = clock();
    for (let t = 0; t < ticks; t++) {
      const wait = started + t * tickMs - clock();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const base = t * perTick;
      const written = await run.write(
        Array.from({ length: perTick }, (_, k) =>
          txupdate(1 + ((base + k) % 2000), Math.floor((base + k) / 2000)),
        ),
      );
      const at = clock();
      for (const w of written) committedAt.set(w.event_id, at);
    }
    const writeSeconds = (clock() - started) / 1000;
    const n = ticks * perTick;
    await waitFor(`${n} events at the receiver`, () => receiver.received.size >= n, 120_000, 20);
    const delays = [...receiver.received.entries()]
      .map(([id, at]) => at - (committedAt.get(id) ?? at))
      .sort((a, b) => a - b);
    row(`postgres steady 500/s ${seconds} s [${build.name}]`, {
      "written/s": n / writeSeconds,
      p50_ms: percentile(delays, 50),
      p99_ms: percentile(delays, 99),
      max_ms: delays[delays.length - 1] ?? Number.NaN,
    });
  } finally {
    await run.close();
    await receiver.close();
  }
}

/** K dispatcher processes share one outbox and drain a backlog of n events. */
async function dispatchers(build: Build, serverUrl: string, k: number, n: number): Promise<number> {
  const receiver = await startReceiverProcess();
  const url = await createPostgresDatabase(serverUrl, `shared_${k}`);
  const run = await setUp(build, url, receiver.url);
  const processes = await Promise.all(
    Array.from({ length: k }, () => startDispatcherProcess(url, receiver.url, 16)),
  );
  try {
    await writeBacklog(run.write, n);
    const started = clock();
    for (const p of processes) p.go();
    await waitFor(`${n} events at the receiver`, () => receiver.received.size >= n, 1_200_000, 20);
    const seconds = (Math.max(...receiver.received.values()) - started) / 1000;
    const counts = await Promise.all(processes.map((p) => p.stop()));
    row(`postgres ${k} dispatcher process(es), backlog ${n}`, {
      "deliveries/s": n / seconds,
      per_process: counts.join("/"),
    });
    return n / seconds;
  } finally {
    await run.close();
    await receiver.close();
  }
}

export async function deliveryTargetsBench(options: {
  postgresUrl: string;
  backlog: number;
  steadySeconds: number;
  dispatchers: number[];
  baseline?: string;
  /** Only scenarios whose name (backlog, steady, dispatchers) contains this text. */
  scenario?: string;
}): Promise<void> {
  const builds = [await loadBuild("this_tree")];
  if (options.baseline) builds.unshift(await loadBuild("baseline", options.baseline));
  const wanted = (name: string) => !options.scenario || name.includes(options.scenario);
  if (wanted("backlog"))
    for (const build of builds) await backlog(build, options.postgresUrl, options.backlog);
  if (wanted("steady"))
    for (const build of builds) await steady(build, options.postgresUrl, options.steadySeconds);
  if (wanted("dispatchers")) {
    const current = builds[builds.length - 1] as Build;
    for (const k of options.dispatchers) await dispatchers(current, options.postgresUrl, k, options.backlog);
  }
}
