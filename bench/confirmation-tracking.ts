/**
 * Confirmation tracking (issue 6, benchmark 2): K open deposits — K distinct txids paying our
 * wallet, in the ledger and tracked, already mined and credited, below max_confirmation_count
 * — then ONE new block. Measured from the moment the block reaches the strategy (the chain
 * follower's blockNotify) until all K txupdate events carrying the new confirmation count are
 * committed in the outbox (the outbox's own after-commit hook), for both strategies on the
 * same ledger, one block each:
 *
 * - block-driven (default): getblockchaininfo + listsinceblock, confirmations from the tip height;
 * - original-style polling (`confirmation_strategy: poll`): one gettransaction per open transaction.
 *
 * Each strategy is measured on up to `runs` blocks (default 3), alternating with the other, and
 * the median is reported; a strategy stops repeating after REPEAT_BUDGET_MS on one ledger, and
 * a run still going after the cap is stopped (the simulator is closed under it) and reported
 * as capped rather than waited for. Also reported: when the simulator sent its last reply
 * (everything after is database work) and the longest event-loop stall during the run.
 *
 * HTTP requests and RPC calls are counted AT THE SIMULATOR (its HTTP server's diagnostics
 * channel, and its per-call debug log line), and cross-checked with the JSON-RPC client's own
 * counters. The simulator runs in this process, over real HTTP on 127.0.0.1, as in
 * test/chain/rpc-cost.test.ts. Setup (paying, mining, the first ledger sync) is not measured;
 * its phases are printed so a slow simulator shows where.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { pino } from "pino";
import type { BitcoindBackend } from "../src/backends/bitcoind/index.js";
import { BitcoindRpcClient } from "../src/backends/bitcoind/index.js";
import { ChainFollower, type ConfirmationStrategy } from "../src/chain/index.js";
import type { Engine } from "../src/db/url.js";
import type { TxUpdateData } from "../src/events/types.js";
import { listTrackedNetworkTransactions } from "../src/ledger/index.js";
import { type ChainEnv, startChainEnv } from "../test/chain/support/env.js";
import { withCpuProfile } from "./cpu-profile.js";
import { row } from "./support.js";

/** Payments per payer wallet: the simulator's coin selection scans the whole wallet per send. */
const PAYMENTS_PER_PAYER = 250;
/** Our receiving addresses (deposits are spread over them round-robin). */
const OUR_ADDRESSES = 100;
/** Deposits are mined in this many blocks, then EXTRA_BLOCKS more: 3..6 confirmations, credited. */
const DEPOSIT_BLOCKS = 4;
const EXTRA_BLOCKS = 2;

/** Stop repeating a strategy once its runs on one ledger have taken this long (10,000 polls). */
const REPEAT_BUDGET_MS = 20_000;

/** One new block, one strategy. */
export interface Sample {
  /** blockNotify → commit of the last outbox transaction holding the K events. */
  wallMs: number;
  /** blockNotify → the simulator's last reply (the rest is database work). */
  lastReplyMs: number | undefined;
  /** HTTP requests and RPC calls that reached the simulator. */
  requests: number;
  rpcCalls: number;
  calls: Record<string, number>;
  /** Database transactions that wrote events. */
  commits: number;
  /** Longest event-loop stall during the run (other work of the process waits that long). */
  maxStallMs: number;
  /** The same, after the simulator's last reply: the product's database work alone. */
  dbStallMs: number;
  /** dbStallMs less the time the kernel kept the runnable main thread waiting for a CPU (Linux). */
  dbHoldMs: number | undefined;
}

export interface TrackingResult {
  open: number;
  engine: Engine;
  strategy: ConfirmationStrategy;
  samples: Sample[];
  /** Median wall time over the samples; undefined when the run hit the cap. */
  wallMs: number | undefined;
  capped: boolean;
  /** The error of a run that failed (e.g. PostgreSQL "out of shared memory"). */
  failed?: string;
}

/** Counts what reaches the simulator while `on` is set. */
class SimulatorCounter {
  on = false;
  requests = 0;
  calls: Record<string, number> = {};
  /** performance.now() of the last response the simulator finished. */
  lastReplyAt = 0;
  port = 0;
  readonly #onRequest = (message: unknown) => {
    if (this.on && this.#isSimulator(message)) this.requests++;
  };
  readonly #onResponse = (message: unknown) => {
    if (this.on && this.#isSimulator(message)) this.lastReplyAt = performance.now();
  };

  constructor() {
    subscribe("http.server.request.start", this.#onRequest);
    subscribe("http.server.response.finish", this.#onResponse);
  }

  /** The simulator's logger: at debug level it writes one "rpc call" line per call, batch items included. */
  logger() {
    return pino(
      { level: "debug", base: null, timestamp: false },
      {
        write: (line: string) => {
          if (!this.on || !line.includes('"msg":"rpc call"')) return;
          const method = /"method":"([a-z]+)"/.exec(line)?.[1] ?? "?";
          this.calls[method] = (this.calls[method] ?? 0) + 1;
        },
      },
    );
  }

  reset(): void {
    this.requests = 0;
    this.calls = {};
    this.lastReplyAt = 0;
  }

  get rpcCalls(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  close(): void {
    unsubscribe("http.server.request.start", this.#onRequest);
    unsubscribe("http.server.response.finish", this.#onResponse);
  }

  #isSimulator(message: unknown): boolean {
    const server = (message as { server?: Server }).server;
    return (server?.address() as AddressInfo | null)?.port === this.port;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Mines `n` blocks over a fresh connection. env.mine() reuses the payer's keep-alive socket,
 * which the simulator (Node's default 5 s keep-alive) may have closed while a long synchronous
 * SQLite transaction held the event loop; generatetoaddress is not re-sent on a stale socket.
 */
async function mine(env: ChainEnv, n: number): Promise<string[]> {
  const client = new BitcoindRpcClient({ url: env.sim.url, wallet: "payer" });
  try {
    const hashes = (await client.call("generatetoaddress", [n, env.payerAddress])) as string[];
    await env.sim.notificationsIdle();
    return hashes.map(String);
  } finally {
    await client.close();
  }
}

/**
 * K payments, each its own transaction, from payer wallets holding confirmed coins of their own
 * (so no payment waits on an unconfirmed chain), spread over DEPOSIT_BLOCKS blocks.
 */
async function payK(env: ChainEnv, k: number, ourAddresses: string[]): Promise<Record<string, number>> {
  const phases: Record<string, number> = {};
  let started = performance.now();
  const payers = Math.ceil(k / PAYMENTS_PER_PAYER);
  const root = new BitcoindRpcClient({ url: env.sim.url });
  const funder = new BitcoindRpcClient({ url: env.sim.url, wallet: "payer" });
  const clients: BitcoindRpcClient[] = [];
  try {
    for (let p = 0; p < payers; p++) {
      await root.call("createwallet", [`payer${p}`]);
      const client = new BitcoindRpcClient({ url: env.sim.url, wallet: `payer${p}` });
      clients.push(client);
      const count = Math.min(PAYMENTS_PER_PAYER, k - p * PAYMENTS_PER_PAYER);
      const addresses = await client.batch(
        Array.from({ length: count }, () => ({ method: "getnewaddress" })),
      );
      const outputs: Record<string, string> = {};
      for (const outcome of addresses) if (outcome.ok) outputs[String(outcome.result)] = "0.001";
      await funder.call("sendmany", ["", outputs]);
    }
    await mine(env, 1);
    phases.fund = performance.now() - started;

    started = performance.now();
    let miningMs = 0;
    const groupSize = Math.ceil(k / DEPOSIT_BLOCKS);
    let paid = 0;
    for (let group = 0; group < DEPOSIT_BLOCKS && paid < k; group++) {
      const groupEnd = Math.min(k, paid + groupSize);
      while (paid < groupEnd) {
        const payer = Math.floor(paid / PAYMENTS_PER_PAYER);
        const end = Math.min(groupEnd, (payer + 1) * PAYMENTS_PER_PAYER);
        const outcomes = await (clients[payer] as BitcoindRpcClient).batch(
          Array.from({ length: end - paid }, (_, i) => ({
            method: "sendtoaddress",
            params: [ourAddresses[(paid + i) % ourAddresses.length], "0.0001"],
          })),
        );
        const failed = outcomes.find((o) => !o.ok);
        if (failed && !failed.ok) throw new Error(`setup payment failed: ${failed.error.message}`);
        paid = end;
      }
      const mineStarted = performance.now();
      await mine(env, 1);
      miningMs += performance.now() - mineStarted;
    }
    const mineStarted = performance.now();
    await mine(env, EXTRA_BLOCKS);
    miningMs += performance.now() - mineStarted;
    phases.pay = performance.now() - started - miningMs;
    phases.mine = miningMs;
  } finally {
    await root.close();
    await funder.close();
    await Promise.all(clients.map((c) => c.close()));
  }
  return phases;
}

async function maxEventId(env: ChainEnv): Promise<number> {
  const row = await env.db.database.db
    .selectFrom("ca_event")
    .select((eb) => eb.fn.max("id").as("max"))
    .executeTakeFirst();
  return Number(row?.max ?? 0);
}

async function measure(
  env: ChainEnv,
  counter: SimulatorCounter,
  k: number,
  strategy: ConfirmationStrategy,
  capMs: number,
  profileDir: string | undefined,
): Promise<Sample | "capped" | { failed: string }> {
  const runtime = env.runtime;
  const backend = runtime.backend as BitcoindBackend;
  const open = await runtime.ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
  if (open.length !== k) throw new Error(`expected ${k} open network transactions, found ${open.length}`);
  const follower = new ChainFollower({
    updater: runtime.updater,
    tracker: runtime.tracker,
    rechecker: runtime.rechecker,
    poller: runtime.poller,
    strategy,
    pollTip: false,
    scanOnStart: false,
    recheckPeriodMs: 0,
    pollPeriodMs: 3_600_000,
  });
  const baseline = await maxEventId(env);
  const [hash] = await mine(env, 1);
  // What each one must show after this block (from the tip, so an earlier failed run is no matter).
  const tip = await backend.getTip();
  const expected = new Map(open.map((ntx) => [ntx.id, tip.height - (ntx.block_height ?? tip.height) + 1]));
  await new Promise((resolve) => setTimeout(resolve, 50));

  let lastCommitAt = 0;
  let commits = 0;
  const unhook = env.outbox.onCommitted(() => {
    lastCommitAt = performance.now();
    commits++;
  });
  counter.reset();
  backend.resetRpcStats();
  counter.on = true;
  const stalls = stallProbe(() => counter.lastReplyAt || Number.POSITIVE_INFINITY);
  const t0 = performance.now();
  let capTimer: NodeJS.Timeout | undefined;
  const finished = await withCpuProfile(
    profileDir,
    `tracking-${env.db.database.engine}-${k}-${strategy}`,
    () => {
      follower.blockNotify(hash);
      return Promise.race([
        follower.idle().then(() => true),
        new Promise<false>((resolve) => {
          capTimer = setTimeout(() => resolve(false), capMs);
        }),
      ]);
    },
  );
  const { max: maxStallMs, afterReplies: dbStallMs, heldAfterReplies: dbHoldMs } = stalls.stop();
  clearTimeout(capTimer);
  counter.on = false;
  unhook();
  if (!finished) {
    // Stop the run where it is: with the daemon gone its next call fails and the run ends.
    await env.sim.close();
    await follower.stop();
    return "capped";
  }
  await follower.stop();
  const failure = follower.status().lastError;
  // A failed run (the follower would retry it later) is reported, not hidden in a retry.
  if (failure) return { failed: failure.message };

  // Every open deposit has exactly one new txupdate, at the confirmations the new tip gives it.
  const rows = await env.db.database.db
    .selectFrom("ca_event")
    .select(["payload"])
    .where("id", ">", baseline)
    .execute();
  const seen = new Set<number>();
  for (const { payload } of rows) {
    const data = JSON.parse(payload) as TxUpdateData;
    if (expected.get(data.network_transaction) !== data.confirmations || seen.has(data.network_transaction))
      throw new Error(`${strategy}: unexpected txupdate ${payload}`);
    seen.add(data.network_transaction);
  }
  if (seen.size !== k) throw new Error(`${strategy}: ${seen.size} txupdate events, expected ${k}`);
  const client = backend.rpcStats();
  const clientCalls = Object.values(client.calls).reduce((a, b) => a + b, 0);
  if (client.requests !== counter.requests || clientCalls !== counter.rpcCalls) {
    console.log(
      `  note: the client counted ${client.requests} requests / ${clientCalls} calls, ` +
        `the simulator ${counter.requests} / ${counter.rpcCalls}`,
    );
  }
  return {
    wallMs: lastCommitAt - t0,
    lastReplyMs: counter.lastReplyAt > 0 ? counter.lastReplyAt - t0 : undefined,
    requests: counter.requests,
    rpcCalls: counter.rpcCalls,
    calls: counter.calls,
    commits,
    maxStallMs,
    dbStallMs,
    dbHoldMs,
  };
}

/**
 * The longest gap between ticks of a 5 ms interval: how long the event loop was held; also
 * the longest that ended after `since()` (the database phase, once the in-process simulator,
 * whose listsinceblock over 10,000 transactions holds the loop too, has replied). On a loaded
 * machine a gap also holds the time the kernel kept the runnable main thread off the CPU:
 * `heldAfterReplies` is the longest gap after the replies less that run-queue wait (Linux
 * schedstat of the main thread), i.e. the time the process itself held the loop, running or
 * blocked in a synchronous call (a COMMIT's fsync).
 */
function stallProbe(since: () => number): {
  stop(): { max: number; afterReplies: number; heldAfterReplies: number | undefined };
} {
  const schedstat = `/proc/self/task/${process.pid}/schedstat`;
  const runQueueWait = (): number | undefined => {
    try {
      return Number(readFileSync(schedstat, "utf8").split(" ")[1]) / 1e6;
    } catch {
      return undefined;
    }
  };
  let last = performance.now();
  let lastWait = runQueueWait();
  let max = 0;
  let afterReplies = 0;
  let held = lastWait === undefined ? undefined : 0;
  const note = (now: number) => {
    const wait = runQueueWait();
    max = Math.max(max, now - last);
    if (last >= since()) {
      afterReplies = Math.max(afterReplies, now - last);
      if (held !== undefined && wait !== undefined && lastWait !== undefined)
        held = Math.max(held, now - last - (wait - lastWait));
    }
    last = now;
    lastWait = wait;
  };
  const timer = setInterval(() => note(performance.now()), 5);
  return {
    stop() {
      clearInterval(timer);
      note(performance.now());
      return { max, afterReplies, heldAfterReplies: held };
    },
  };
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle]
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function trackingRun(
  engine: Engine,
  k: number,
  runs: number,
  capMs: number,
  strategies: readonly ConfirmationStrategy[],
  profileDir: string | undefined,
): Promise<TrackingResult[]> {
  const counter = new SimulatorCounter();
  const setupStarted = performance.now();
  const env = await startChainEnv({
    engine,
    // One mature coinbase per payer wallet's funding, and some to spare.
    initialBlocks: 110 + Math.ceil(k / PAYMENTS_PER_PAYER),
    simulator: () => ({ logger: counter.logger() }),
  });
  counter.port = env.sim.port;
  try {
    const account = await env.runtime.ledger.createAccount("shop");
    const ourAddresses: string[] = [];
    for (let i = 0; i < Math.min(OUR_ADDRESSES, k); i++)
      ourAddresses.push((await env.runtime.ledger.createReceivingAddress(account.id)).address);
    const phases = await payK(env, k, ourAddresses);
    const syncStarted = performance.now();
    await env.runtime.scan();
    phases.sync = performance.now() - syncStarted;
    console.log(
      `  setup ${engine} K=${k}: ${seconds(performance.now() - setupStarted)} (fund payers ${seconds(phases.fund ?? 0)}, ` +
        `${k} sendtoaddress ${seconds(phases.pay ?? 0)}, mining ${seconds(phases.mine ?? 0)}, ledger sync ${seconds(phases.sync)})`,
    );
    const results = new Map<ConfirmationStrategy, TrackingResult>();
    for (const strategy of strategies)
      results.set(strategy, { open: k, engine, strategy, samples: [], wallMs: undefined, capped: false });
    // Alternate the strategies block by block, so drift (caches, table growth) hits both alike.
    for (let run = 0; run < runs; run++) {
      for (const result of results.values()) {
        const spent = result.samples.reduce((sum, sample) => sum + sample.wallMs, 0);
        if (result.capped || result.failed || spent > REPEAT_BUDGET_MS) continue;
        const sample = await measure(env, counter, k, result.strategy, capMs, profileDir);
        const label = `tracking ${engine}, ${k} open, ${result.strategy === "block" ? "block-driven" : "polling"}`;
        if (sample === "capped") {
          result.capped = true;
          row(label, { wall_ms: `>${capMs} (capped)` });
          break;
        }
        if ("failed" in sample) {
          result.failed = sample.failed;
          row(label, { failed: sample.failed });
          continue;
        }
        result.samples.push(sample);
        row(label, {
          wall_ms: sample.wallMs,
          last_reply_ms: sample.lastReplyMs ?? "-",
          requests: String(sample.requests),
          rpc_calls: String(sample.rpcCalls),
          commits: String(sample.commits),
          max_stall_ms: sample.maxStallMs,
          db_stall_ms: sample.dbStallMs,
          db_hold_ms: sample.dbHoldMs ?? "-",
        });
      }
      if ([...results.values()].some((result) => result.capped)) break;
    }
    for (const result of results.values())
      result.wallMs = result.capped ? undefined : median(result.samples.map((sample) => sample.wallMs));
    return [...results.values()];
  } finally {
    counter.close();
    await env.close();
  }
}

function ratio(poll: number | undefined, block: number | undefined): string {
  if (poll === undefined || block === undefined || block === 0) return "-";
  return `${(poll / block).toFixed(poll / block >= 10 ? 0 : 1)}×`;
}

export async function confirmationTrackingBench(options: {
  sizes: number[];
  postgresUrl?: string;
  /** Blocks measured per strategy and ledger (default 3; at most 4 keeps every deposit open). */
  runs?: number;
  capSeconds?: number;
  /** Which strategies to measure (default both; polling at 10,000 takes minutes). */
  strategies?: ConfirmationStrategy[];
  /** Write a CPU profile of each measured block here and print its summary. */
  profileDir?: string;
}): Promise<TrackingResult[]> {
  const runs = options.runs ?? 3;
  if (!Number.isInteger(runs) || runs < 1 || runs > 4) throw new Error("--tracking-runs must be 1..4");
  const capMs = (options.capSeconds ?? 120) * 1000;
  const engines: Engine[] = options.postgresUrl ? ["sqlite", "postgres"] : ["sqlite"];
  const all: TrackingResult[] = [];
  // The figures are only as quiet as the machine: say how busy it was.
  const load = () => loadavg()[0]?.toFixed(1) ?? "?";
  console.log(`  load average (1 min) at start: ${load()}`);
  for (const k of options.sizes)
    for (const engine of engines)
      all.push(
        ...(await trackingRun(
          engine,
          k,
          runs,
          capMs,
          options.strategies ?? ["block", "poll"],
          options.profileDir,
        )),
      );

  console.log(`  load average (1 min) at end: ${load()}`);
  const range = (r: TrackingResult) => {
    const walls = r.samples.map((sample) => sample.wallMs);
    return walls.length < 2 ? "" : ` (${Math.min(...walls).toFixed(0)}–${Math.max(...walls).toFixed(0)})`;
  };
  const first = (r: TrackingResult | undefined) => r?.samples[0];
  const med = (r: TrackingResult, pick: (s: Sample) => number | undefined) =>
    median(r.samples.map(pick).filter((v): v is number => v !== undefined));
  console.log(
    "\n| K | engine | strategy | wall ms, median (range) | runs | last RPC reply ms | HTTP requests | RPC calls | max event-loop stall ms (after the last reply) | longest hold after the last reply, run-queue wait excluded, ms | polling/block time | polling/block RPC calls |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const k of options.sizes) {
    for (const engine of engines) {
      const block = all.find((r) => r.open === k && r.engine === engine && r.strategy === "block");
      const poll = all.find((r) => r.open === k && r.engine === engine && r.strategy === "poll");
      for (const r of [block, poll]) {
        if (!r) continue;
        const sample = first(r);
        const calls = Object.entries(sample?.calls ?? {})
          .map(([method, n]) => `${method}×${n}`)
          .join(", ");
        const wall = r.capped
          ? `> ${capMs} (capped)`
          : r.wallMs === undefined
            ? `failed: ${r.failed ?? "?"}`
            : `${r.wallMs.toFixed(0)}${range(r)}${r.failed ? ` (a later run failed: ${r.failed})` : ""}`;
        const reply = med(r, (s) => s.lastReplyMs);
        const stall = med(r, (s) => s.maxStallMs);
        const dbStall = med(r, (s) => s.dbStallMs);
        const dbHold = med(r, (s) => s.dbHoldMs);
        const ratios =
          r.strategy === "poll"
            ? ` ${ratio(poll?.wallMs, block?.wallMs)} | ${ratio(first(poll)?.rpcCalls, first(block)?.rpcCalls)} |`
            : " | |";
        console.log(
          `| ${k.toLocaleString("en-US")} | ${engine} | ${r.strategy === "block" ? "block-driven" : "polling"} | ${wall} | ${r.samples.length} | ` +
            `${reply === undefined ? "-" : reply.toFixed(0)} | ${sample?.requests ?? "-"} | ${sample?.rpcCalls ?? "-"} (${calls}) | ` +
            `${stall === undefined ? "-" : stall.toFixed(0)} (${dbStall === undefined ? "-" : dbStall.toFixed(0)}) | ` +
            `${dbHold === undefined ? "-" : dbHold.toFixed(0)} |${ratios}`,
        );
      }
    }
  }
  return all;
}
