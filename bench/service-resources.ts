/**
 * Helper service resource use: resident memory and CPU of a real `cryptoassets
 * helper-service` child process, idle and under a steady stream of deposits (walletnotify
 * over HTTP from the simulator, a block every 2 s, an HTTP webhook receiving every event),
 * and the CPU it takes to start.
 *
 * "Running" is the moment the service logs "helper service running" (every coin started,
 * the dispatcher and the status server up); the start-up CPU is the child's user + system
 * time (/proc/<pid>/stat) read when that line arrives, the median of five starts.
 *
 * The same run measures a baseline: the service of another commit (default: main before
 * issue 14's footprint work), checked out with `git worktree` into a temp folder and built
 * there, on the same simulator with its own wallet and database.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BitcoindBackend, BitcoindRpcClient } from "../src/backends/bitcoind/index.js";
import { initializeDatabase, openDatabase } from "../src/db/index.js";
import { sqliteUrl } from "../src/db/url.js";
import { Ledger } from "../src/ledger/index.js";
import { startSimulator } from "../src/simulator/index.js";
import { freePort } from "../test/support/ports.js";
import { waitFor } from "../test/support/wait.js";
import { buildCheckout, ROOT } from "./checkout.js";
import { type Receiver, row, startReceiver } from "./support.js";

const NOTIFY_PORT_FILE = "walletnotify.port";
/** Starts measured per service build (their median is the figure). */
const STARTS = 5;

function sample(pid: number): { rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0); // utime + stime
  return { rssMiB: rssKb / 1024, cpuSeconds: ticks / 100 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** One service build to measure: its bin/ folder and a label. */
interface Variant {
  label: string;
  bin: string;
}

/** A commit's tree built into a temp folder (./checkout.ts); removed by `remove`. */
function buildBaseline(ref: string): { variant: Variant; remove: () => void } {
  const checkout = buildCheckout(ref);
  return {
    variant: { label: `baseline ${checkout.commit}`, bin: join(checkout.dir, "bin/cryptoassets.js") },
    remove: checkout.remove,
  };
}

interface Chain {
  url: string;
  payer: BitcoindRpcClient;
  payerAddress: string;
  root: BitcoindRpcClient;
}

/** A wallet, a ledger with 50 addresses and a config file for one service run. */
async function prepareService(chain: Chain, dir: string, name: string, receiverUrl: string) {
  await chain.root.call("createwallet", [name]);
  const notifyPort = await freePort();
  const statusPort = await freePort();
  const dbUrl = sqliteUrl(join(dir, `${name}.db`));
  const database = await openDatabase(dbUrl);
  await initializeDatabase(database);
  const backend = new BitcoindBackend({ url: chain.url, wallet: name });
  const addresses: string[] = [];
  try {
    const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
    const account = await ledger.createAccount("bench");
    for (let i = 0; i < 50; i++) addresses.push((await ledger.createReceivingAddress(account.id)).address);
  } finally {
    await backend.close();
    await database.close();
  }
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    [
      `database: { url: "${dbUrl}" }`,
      "coins:",
      "  btc:",
      "    network: regtest",
      "    backend:",
      "      class: bitcoind",
      `      url: "${chain.url}"`,
      `      wallet: ${name}`,
      `      walletnotify: { class: http, port: ${notifyPort} }`,
      "events:",
      `  app: { class: http, url: "${receiverUrl}" }`,
      `status-server: { port: ${statusPort} }`,
      "service: { poll_period: 1 }",
    ].join("\n"),
  );
  return { config, notifyPort, statusPort, addresses };
}

function startService(variant: Variant, config: string, level: string) {
  return spawn(process.execPath, [variant.bin, "helper-service", config], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, CRYPTOASSETS_LOG_LEVEL: level },
  });
}

async function stopService(child: ReturnType<typeof startService>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
}

/** CPU seconds and wall time from spawn to the "helper service running" log line. */
async function startupCost(
  variant: Variant,
  config: string,
): Promise<{ cpuSeconds: number; wallMs: number }> {
  const began = performance.now();
  const child = startService(variant, config, "info");
  try {
    let output = "";
    const cpuSeconds = await new Promise<number>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8");
        if (output.includes('"msg":"helper service running"')) resolve(sample(child.pid ?? 0).cpuSeconds);
      });
      child.once("exit", (code) =>
        reject(new Error(`helper service exited (${code}) before running: ${output.slice(-2000)}`)),
      );
    });
    return { cpuSeconds, wallMs: performance.now() - began };
  } finally {
    await stopService(child);
  }
}

interface Figures {
  startCpuSeconds: number;
  startCpuAll: number[];
  startWallMs: number;
  idleRss: number;
  idleCpuPercent: number;
  loadRssAvg: number;
  loadRssPeak: number;
  loadCpuPercent: number;
  deposits: number;
  events: number;
}

/** One variant's service: its config, ports, ledger addresses and webhook receiver. */
type Prepared = Awaited<ReturnType<typeof prepareService>> & { receiver: Receiver };

/** Start-up CPU and wall time of every variant, `STARTS` times each, alternating. */
async function measureStarts(
  runs: Array<{ variant: Variant; service: Prepared }>,
): Promise<Array<{ cpuSeconds: number[]; wallMs: number[] }>> {
  const starts = runs.map(() => ({ cpuSeconds: [] as number[], wallMs: [] as number[] }));
  for (let i = 0; i < STARTS; i++) {
    for (const [index, { variant, service }] of runs.entries()) {
      const cost = await startupCost(variant, service.config);
      starts[index]?.cpuSeconds.push(cost.cpuSeconds);
      starts[index]?.wallMs.push(cost.wallMs);
    }
  }
  return starts;
}

/** Idle and loaded figures of one running service. */
async function measureLoad(
  variant: Variant,
  chain: Chain,
  dir: string,
  service: Prepared,
  options: { depositsPerSecond: number; seconds: number },
): Promise<Omit<Figures, "startCpuSeconds" | "startWallMs" | "startCpuAll">> {
  // The simulator's walletnotify command reads the listener's port from this file.
  writeFileSync(join(dir, NOTIFY_PORT_FILE), String(service.notifyPort));
  const child = startService(variant, service.config, "warn");
  child.stdout?.resume();
  const pid = child.pid ?? 0;
  try {
    await waitFor(
      "a healthy helper service",
      async () => (await fetch(`http://127.0.0.1:${service.statusPort}/health`)).status === 200,
      30_000,
    );
    await sleep(5000);
    const idle = sample(pid);
    await sleep(10_000);
    const idleLater = sample(pid);

    const start = sample(pid);
    const interval = 1000 / options.depositsPerSecond;
    const began = performance.now();
    let sent = 0;
    const rss: number[] = [];
    let nextBlock = began + 2000;
    while (performance.now() - began < options.seconds * 1000) {
      const address = service.addresses[sent % service.addresses.length] as string;
      await chain.payer.call("sendtoaddress", [address, "0.001"]);
      sent++;
      if (performance.now() >= nextBlock) {
        await chain.payer.call("generatetoaddress", [1, chain.payerAddress]);
        nextBlock += 2000;
        rss.push(sample(pid).rssMiB);
      }
      const wait = began + sent * interval - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const end = sample(pid);
    const elapsed = (performance.now() - began) / 1000;
    return {
      idleRss: idleLater.rssMiB,
      idleCpuPercent: ((idleLater.cpuSeconds - idle.cpuSeconds) / 10) * 100,
      loadRssAvg: rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length),
      loadRssPeak: Math.max(...rss),
      loadCpuPercent: ((end.cpuSeconds - start.cpuSeconds) / elapsed) * 100,
      deposits: sent,
      events: service.receiver.received.size,
    };
  } finally {
    await stopService(child);
  }
}

/** Each figure of this tree beside the baseline's, with their ratio. */
function printComparison(
  results: Array<{ variant: Variant; figures: Figures }>,
  depositsPerSecond: number,
): void {
  const [current, baseline] = results;
  if (!current || !baseline) return;
  const lines: Array<[string, (f: Figures) => number, number]> = [
    ["CPU s, spawn to running", (f) => f.startCpuSeconds, 2],
    ["RSS MiB, idle", (f) => f.idleRss, 0],
    [`RSS MiB avg, ${depositsPerSecond} deposits/s`, (f) => f.loadRssAvg, 0],
    [`RSS MiB peak, ${depositsPerSecond} deposits/s`, (f) => f.loadRssPeak, 0],
    [`CPU %, ${depositsPerSecond} deposits/s`, (f) => f.loadCpuPercent, 0],
  ];
  console.log(
    `\n${"".padEnd(34)} ${current.variant.label.padStart(14)} ${baseline.variant.label.padStart(20)}  ratio`,
  );
  for (const [label, pick, digits] of lines) {
    const now = pick(current.figures);
    const before = pick(baseline.figures);
    console.log(
      `${label.padEnd(34)} ${now.toFixed(digits).padStart(14)} ${before.toFixed(digits).padStart(20)}  ${(now / before).toFixed(2)}`,
    );
  }
}

export async function serviceResourcesBench(options: {
  depositsPerSecond: number;
  seconds: number;
  /** Commit of the baseline service; undefined: none. */
  baselineRef: string | undefined;
}): Promise<void> {
  const variants: Variant[] = [{ label: "this tree", bin: join(ROOT, "bin/cryptoassets.js") }];
  const checkout = options.baselineRef === undefined ? undefined : buildBaseline(options.baselineRef);
  if (checkout) variants.push(checkout.variant);
  const dir = mkdtempSync(join(tmpdir(), "ca-bench-svc-"));
  const receivers: Receiver[] = [];
  const sim = await startSimulator({
    port: 0,
    walletNotify: `curl -s --data "txid=%s" "http://127.0.0.1:$(cat ${join(dir, NOTIFY_PORT_FILE)})/" >/dev/null || true`,
  });
  try {
    const root = new BitcoindRpcClient({ url: sim.url });
    await root.call("createwallet", ["payer"]);
    const payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
    const payerAddress = String(await payer.call("getnewaddress"));
    await payer.call("generatetoaddress", [300, payerAddress]);
    const chain: Chain = { url: sim.url, payer, payerAddress, root };

    const runs: Array<{ variant: Variant; service: Prepared }> = [];
    for (const [index, variant] of variants.entries()) {
      const receiver = await startReceiver();
      receivers.push(receiver);
      const service = await prepareService(chain, dir, `ours${index}`, receiver.url);
      runs.push({ variant, service: { ...service, receiver } });
    }
    const starts = await measureStarts(runs);
    const results: Array<{ variant: Variant; figures: Figures }> = [];
    for (const [index, { variant, service }] of runs.entries()) {
      const start = starts[index] ?? { cpuSeconds: [], wallMs: [] };
      const figures: Figures = {
        startCpuSeconds: median(start.cpuSeconds),
        startCpuAll: start.cpuSeconds,
        startWallMs: median(start.wallMs),
        ...(await measureLoad(variant, chain, dir, service, options)),
      };
      results.push({ variant, figures });
      row(`${variant.label}: start to running`, {
        cpu_s: figures.startCpuSeconds,
        cpu_s_each: figures.startCpuAll.map((s) => s.toFixed(2)).join(" "),
        wall_ms: figures.startWallMs,
      });
      row(`${variant.label}: idle`, { rss_MiB: figures.idleRss, cpu_percent: figures.idleCpuPercent });
      row(`${variant.label}: ${options.depositsPerSecond} deposits/s, ${options.seconds} s`, {
        deposits: figures.deposits,
        rss_avg_MiB: figures.loadRssAvg,
        rss_peak_MiB: figures.loadRssPeak,
        cpu_percent: figures.loadCpuPercent,
        events_received: figures.events,
      });
    }
    printComparison(results, options.depositsPerSecond);
    await root.close();
    await payer.close();
  } finally {
    for (const receiver of receivers) await receiver.close();
    await sim.close();
    checkout?.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
