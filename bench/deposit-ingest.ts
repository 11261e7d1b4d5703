/**
 * Deposit ingest: N distinct deposit notifications POSTed to the HTTP walletnotify listener
 * (as bitcoind's `curl --data "txid=%s"` would), each fetched with gettransaction and
 * committed with its txupdate into the ledger and outbox. Prints deposits/s, notification →
 * commit latency (commit time = the network transaction row's created_at, written inside the
 * committing transaction) and the service process's own CPU per deposit, on SQLite and
 * PostgreSQL. Beside it, the ceiling: the same machine's PostgreSQL commit rate for one-row
 * transactions.
 *
 * Every party runs in its own process, as in production (./ingest-processes.ts): the helper
 * service composed as the CLI composes it, the simulator (bitcoind), the sender (bitcoind's
 * curl) and the application behind the service's event handler. The same run measures a
 * baseline: the service of another build (default: main before issue 14's CPU work, built
 * beside this tree), alternately with this tree's, each with its own simulator and database.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { BitcoindRpcClient } from "../src/backends/bitcoind/index.js";
import { openDatabase } from "../src/db/index.js";
import { sqliteUrl } from "../src/db/url.js";
import { freePort } from "../test/support/ports.js";
import { buildCheckout, type Checkout } from "./checkout.js";
import { summarizeProfileFile } from "./cpu-profile.js";
import type { ServiceCommand, ServiceReport } from "./ingest-processes.js";
import { createPostgresDatabase, dropPostgresDatabases } from "./postgres.js";
import { clock, percentile, row } from "./support.js";

/** main before issue 14's CPU work on ingest (the service in its own process). */
export const INGEST_BASELINE = "2feb146";

/** A service build to measure: the file: URL of its compiled src/ folder. */
interface Build {
  label: string;
  src: string;
}

interface Figures {
  committed: number;
  events: number;
  depositsPerSecond: number;
  p50: number;
  p99: number;
  cpuMsPerDeposit: number;
  /** Deposits per database transaction of the updater. */
  perBatch: number;
}

const ROLES = fileURLToPath(new URL("./ingest-processes.js", import.meta.url));

/** A child in `role`; resolves with it and its first message. */
async function forkRole<T>(role: string, args: string[] = [], pipeStdout = false) {
  const child = fork(ROLES, [role, ...args], {
    stdio: ["ignore", pipeStdout ? "pipe" : "inherit", "inherit", "ipc"],
  });
  const first = await new Promise<T>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`bench ${role} process exited (${code}) before it was ready`)),
    );
    child.once("message", (message) => resolve(message as T));
  });
  child.removeAllListeners("exit");
  return { child, first };
}

const nextMessage = <T>(child: ChildProcess) =>
  new Promise<T>((resolve) => child.once("message", (message) => resolve(message as T)));

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** The service's log lines at warn and above, on the bench's stderr (the rest is read and dropped). */
function relayWarnings(child: ChildProcess): void {
  if (!child.stdout) return;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
    if (level >= 40) console.error(`  service: ${line}`);
  });
}

function writeConfig(
  dir: string,
  options: { dbUrl: string; simUrl: string; notifyPort: number; holdUrl: string; batch: number | "default" },
): string {
  const file = join(dir, "service.yaml");
  writeFileSync(
    file,
    [
      `database: { url: "${options.dbUrl}" }`,
      "coins:",
      "  btc:",
      "    network: regtest",
      "    backend:",
      "      class: bitcoind",
      `      url: "${options.simUrl}"`,
      "      wallet: ours",
      `      walletnotify: { class: http, port: ${options.notifyPort} }`,
      "events:",
      `  app: { class: http, url: "${options.holdUrl}", timeout: 3600 }`,
      "status-server: { port: 0 }",
      // Timers off: the figure is the walletnotify path alone.
      "service:",
      "  poll_period: 3600",
      "  recheck_period: 3600",
      "  broadcast_period: 3600",
      "  shutdown_grace_period: 1",
      ...(options.batch === "default" ? [] : [`  update_batch_size: ${options.batch}`]),
    ].join("\n"),
  );
  return file;
}

/** n payments to our addresses, 50 per request, a block per 250; their txids. */
async function pay(simUrl: string, addresses: string[], n: number): Promise<string[]> {
  const payer = new BitcoindRpcClient({ url: simUrl, wallet: "payer", timeoutMs: 120_000 });
  try {
    const payerAddress = String(await payer.call("getnewaddress"));
    await payer.call("generatetoaddress", [400, payerAddress]);
    const txids: string[] = [];
    for (let i = 0; i < n; i += 50) {
      const outcomes = await payer.batch(
        Array.from({ length: Math.min(50, n - i) }, (_, k) => ({
          method: "sendtoaddress",
          params: [addresses[(i + k) % addresses.length], "0.0001"],
        })),
      );
      for (const o of outcomes) if (o.ok) txids.push(String(o.result));
      // Keeps the simulator's mempool short.
      if ((i + 50) % 250 === 0 || i + 50 >= n) await payer.call("generatetoaddress", [1, payerAddress]);
    }
    return txids;
  } finally {
    await payer.close();
  }
}

/** Committed deposits once there are `n` (read from the bench process, not the service's). */
async function waitForDeposits(dbUrl: string, n: number) {
  const database = await openDatabase(dbUrl, { poolSize: 1 });
  try {
    const deadline = Date.now() + 600_000;
    const count = async () =>
      Number(
        (
          await database.db
            .selectFrom("ca_network_transaction")
            .select((eb) => eb.fn.countAll().as("n"))
            .where("transaction_type", "=", "deposit")
            .executeTakeFirstOrThrow()
        ).n,
      );
    while (Date.now() < deadline && (await count()) < n) await new Promise((r) => setTimeout(r, 50));
    const rows = await database.db
      .selectFrom("ca_network_transaction")
      .select(["txid", "created_at"])
      .where("transaction_type", "=", "deposit")
      .execute();
    const events = await database.db
      .selectFrom("ca_event")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("event_name", "=", "txupdate")
      .executeTakeFirstOrThrow();
    return { rows, events: Number(events.n) };
  } finally {
    await database.close();
  }
}

interface Run {
  engine: "sqlite" | "postgres";
  n: number;
  /** update_batch_size; "default": the service's own (what users get). */
  batch: number | "default";
  postgresUrl?: string;
  profileDir?: string;
}

async function ingest(build: Build, run: Run): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "ca-bench-ingest-"));
  const children: ChildProcess[] = [];
  try {
    const sim = await forkRole<{ url: string }>("simulator");
    children.push(sim.child);
    const simUrl = sim.first.url;
    const root = new BitcoindRpcClient({ url: simUrl });
    await root.call("createwallet", ["payer"]);
    await root.call("createwallet", ["ours"]);
    await root.close();
    const hold = await forkRole<{ url: string }>("holding-receiver");
    children.push(hold.child);
    const dbUrl =
      run.engine === "sqlite"
        ? sqliteUrl(join(dir, "ingest.db"))
        : await createPostgresDatabase(run.postgresUrl ?? "", "ingest");
    const notifyPort = await freePort();
    const config = writeConfig(dir, { dbUrl, simUrl, notifyPort, holdUrl: hold.first.url, batch: run.batch });
    const service = await forkRole<ServiceReport>("service", [build.src, config, "20"], true);
    children.push(service.child);
    relayWarnings(service.child);
    const command = (c: ServiceCommand) => service.child.send(c);
    const addresses = "addresses" in service.first ? service.first.addresses : [];
    const txids = await pay(simUrl, addresses, run.n);
    const sender = await forkRole("sender", [String(notifyPort)]);
    children.push(sender.child);

    const name = `ingest-${run.engine}-${run.n}-batch${run.batch}-${build.label.replace(/\W+/g, "-")}`;
    const profile = run.profileDir ? { dir: run.profileDir, name } : undefined;
    command({ measure: "start", ...(profile ? { profile } : {}) });
    await nextMessage(service.child);
    const started = clock();
    const sentReport = nextMessage<{ sent: Array<[string, number]> }>(sender.child);
    sender.child.send({ txids });
    // A service that dies fails the run instead of leaving it waiting.
    const died = new Promise<never>((_, reject) =>
      service.child.once("exit", (code) =>
        reject(new Error(`the service exited (${code}) during the ingest`)),
      ),
    );
    const { rows, events } = await Promise.race([waitForDeposits(dbUrl, txids.length), died]);
    command({ measure: "stop" });
    const used = (await nextMessage<ServiceReport>(service.child)) as Extract<
      ServiceReport,
      { cpuMicros: number }
    >;
    const sentAt = new Map((await sentReport).sent);
    const latencies = rows
      .map((r) => r.created_at - (sentAt.get(r.txid ?? "") ?? r.created_at))
      .sort((a, b) => a - b);
    const last = Math.max(...rows.map((r) => r.created_at));
    service.child.removeAllListeners("exit");
    // A graceful stop, as on SIGTERM through the CLI (then the child is gone).
    const exited = new Promise((resolve) => service.child.once("exit", resolve));
    command("stop");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (used.profileFile) {
      console.log(`  ${build.label}: wrote ${used.profileFile}`);
      summarizeProfileFile(used.profileFile);
    }
    return {
      committed: rows.length,
      events,
      depositsPerSecond: (rows.length / (last - started)) * 1000,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuMsPerDeposit: used.cpuMicros / 1000 / Math.max(1, rows.length),
      perBatch: rows.length / Math.max(1, used.batches),
    };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The storage limit: one-row transactions, one connection and eight. */
async function postgresCeiling(serverUrl: string, transactions: number): Promise<void> {
  const setup = new pg.Client({ connectionString: serverUrl });
  await setup.connect();
  await setup.query("drop table if exists ca_bench_ceiling");
  await setup.query("create table ca_bench_ceiling (id serial primary key, v bigint)");
  for (const connections of [1, 8]) {
    const clients = await Promise.all(
      Array.from({ length: connections }, async () => {
        const c = new pg.Client({ connectionString: serverUrl });
        await c.connect();
        return c;
      }),
    );
    const started = performance.now();
    let next = 0;
    await Promise.all(
      clients.map(async (c) => {
        while (next++ < transactions) {
          await c.query("begin");
          await c.query("insert into ca_bench_ceiling (v) values ($1)", [next]);
          await c.query("commit");
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    row(`postgres ceiling, ${connections} connection(s)`, { "commits/s": transactions / seconds });
    await Promise.all(clients.map((c) => c.end()));
  }
  await setup.query("drop table ca_bench_ceiling");
  await setup.end();
}

/** This tree, and the baseline: a built tree's folder, a commit to build, or none. */
function builds(baseline: string | undefined): { list: Build[]; checkout?: Checkout } {
  const list: Build[] = [{ label: "this tree", src: new URL("../src/", import.meta.url).href }];
  const spec = baseline ?? INGEST_BASELINE;
  if (spec === "none") return { list };
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    list.push({ label: `baseline ${spec}`, src: pathToFileURL(join(spec, "dist/")).href });
    return { list };
  }
  const checkout = buildCheckout(spec);
  list.push({ label: `baseline ${checkout.commit}`, src: pathToFileURL(join(checkout.dir, "dist/")).href });
  return { list, checkout };
}

export async function depositIngestBench(options: {
  sizes: number[];
  postgresUrl?: string;
  /** Write a CPU profile of the service over each ingest (set-up excluded) and print its summary. */
  profileDir?: string;
  /** update_batch_size values to run (default: 1, the path without group commit, then the default). */
  batches?: Array<number | "default">;
  /** Baseline: a built tree's folder, a commit, or "none" (default INGEST_BASELINE). */
  baseline?: string;
  /** Runs of each build per size, alternating which goes first (default 1). */
  runs?: number;
}): Promise<void> {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
  const { list, checkout } = builds(options.baseline);
  console.log(`  load average at start: ${load()}`);
  try {
    for (const n of options.sizes) {
      for (const batch of options.batches ?? [1, "default"]) {
        for (const engine of options.postgresUrl
          ? (["sqlite", "postgres"] as const)
          : (["sqlite"] as const)) {
          for (let r = 0; r < (options.runs ?? 1); r++) {
            const order = r % 2 === 0 ? [...list].reverse() : list;
            for (const build of order) {
              const run = {
                engine,
                n,
                batch,
                postgresUrl: options.postgresUrl,
                profileDir: options.profileDir,
              };
              const f = await ingest(build, run);
              row(`ingest ${engine}, ${n}, batch ${batch}, ${build.label}`, {
                committed: f.committed,
                events: f.events,
                "deposits/s": f.depositsPerSecond,
                p50_ms: f.p50,
                p99_ms: f.p99,
                "service_cpu_ms/deposit": f.cpuMsPerDeposit.toFixed(3),
                "deposits/batch": f.perBatch,
                load: load(),
              });
            }
          }
        }
      }
    }
    if (options.postgresUrl) await postgresCeiling(options.postgresUrl, 2000);
  } finally {
    checkout?.remove();
    if (options.postgresUrl) await dropPostgresDatabases(options.postgresUrl);
  }
  console.log(`  load average at end: ${load()}`);
}
