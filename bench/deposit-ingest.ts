/**
 * Deposit ingest: N distinct deposit notifications POSTed to the HTTP walletnotify
 * listener (as bitcoind's `curl --data "txid=%s"` would), each fetched with gettransaction
 * and committed with its txupdate into the ledger and outbox. Prints deposits/s and
 * notification→commit latency (commit time = the network transaction row's created_at,
 * written inside the committing transaction), on SQLite and PostgreSQL. Beside it, the
 * ceiling: the same machine's PostgreSQL commit rate for one-row transactions.
 */
import { Agent, request } from "node:http";
import { loadavg } from "node:os";
import pg from "pg";
import { startChainEnv } from "../test/chain/support/env.js";
import { freePort } from "../test/support/ports.js";
import { withCpuProfile } from "./cpu-profile.js";
import { percentile, row } from "./support.js";

async function ingest(
  engine: "sqlite" | "postgres",
  n: number,
  /** update_batch_size; "default": the service's own (what users get). */
  batch: number | "default",
  profileDir?: string,
): Promise<void> {
  const port = await freePort();
  const env = await startChainEnv({
    engine,
    initialBlocks: 400,
    notify: () => ({ walletnotify: { class: "http", port } }),
    service: {
      poll_period: 3600,
      recheck_period: 0,
      broadcast_period: 3600,
      ...(batch === "default" ? {} : { update_batch_size: batch }),
    },
  });
  try {
    const account = await env.runtime.ledger.createAccount("ingest");
    const addresses: string[] = [];
    for (let i = 0; i < 20; i++)
      addresses.push((await env.runtime.ledger.createReceivingAddress(account.id)).address);
    await env.runtime.start();
    // Payments first (the simulator has no walletnotify here): we send the notifications ourselves.
    const txids: string[] = [];
    // 50 payments per request (a batch of 250 outlasted the client's 15 s timeout on a busy
    // machine: the simulator's coin selection scans the payer wallet per send), a block per 250.
    for (let i = 0; i < n; i += 50) {
      const outcomes = await env.payer.batch(
        Array.from({ length: Math.min(50, n - i) }, (_, k) => ({
          method: "sendtoaddress",
          params: [addresses[(i + k) % addresses.length], "0.0001"],
        })),
      );
      for (const o of outcomes) if (o.ok) txids.push(String(o.result));
      if ((i + 50) % 250 === 0 || i + 50 >= n) await env.mine(1); // keep the simulator's mempool short
    }
    const sentAt = new Map<string, number>();
    // node:http with a keep-alive agent: the same requests as bitcoind's curl, at a fraction of
    // fetch's (undici's) CPU, which otherwise shows up as a large part of this process's profile.
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const post = (body: string) =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: "127.0.0.1",
            port,
            path: "/",
            method: "POST",
            headers: {
              "content-type": "application/x-www-form-urlencoded",
              "content-length": Buffer.byteLength(body),
            },
          },
          (res) => {
            res.on("error", reject);
            res.on("end", resolve);
            res.resume();
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    const started = Date.now();
    let rows: Array<{ txid: string | null; created_at: number }> = [];
    await withCpuProfile(profileDir, `ingest-${engine}-${n}-batch${batch}`, async () => {
      let next = 0;
      const sender = async () => {
        while (next < txids.length) {
          const txid = txids[next++] as string;
          sentAt.set(txid, Date.now());
          await post(`txid=${txid}`);
        }
      };
      await Promise.all(Array.from({ length: 16 }, sender));
      agent.destroy();
      const deadline = Date.now() + 600_000;
      while (Date.now() < deadline) {
        rows = await env.db.database.db
          .selectFrom("ca_network_transaction")
          .select(["txid", "created_at"])
          .where("transaction_type", "=", "deposit")
          .execute();
        if (rows.length >= txids.length) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    const latencies = rows
      .map((r) => r.created_at - (sentAt.get(r.txid ?? "") ?? r.created_at))
      .sort((a, b) => a - b);
    const last = Math.max(...rows.map((r) => r.created_at));
    row(`ingest ${engine}, ${n} notifications, batch ${batch}`, {
      committed: rows.length,
      "deposits/s": (rows.length / (last - started)) * 1000,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      events: (await env.events()).length,
    });
  } finally {
    await env.close();
  }
}

/** The storage limit: one-row transactions, one connection and eight. */
async function postgresCeiling(serverUrl: string, transactions: number): Promise<void> {
  const setup = new pg.Client({ connectionString: serverUrl });
  await setup.connect();
  await setup.query("create temporary table if not exists ca_bench_probe (id serial primary key, v bigint)");
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

export async function depositIngestBench(options: {
  sizes: number[];
  postgresUrl?: string;
  /** Write a CPU profile of each ingest run here (set-up excluded) and print its summary. */
  profileDir?: string;
  /** update_batch_size values to run (default: 1, the path without group commit, then the default). */
  batches?: Array<number | "default">;
}): Promise<void> {
  const load = () => loadavg()[0]?.toFixed(1) ?? "?";
  console.log(`  load average (1 min) at start: ${load()}`);
  for (const n of options.sizes) {
    for (const batch of options.batches ?? [1, "default"]) {
      await ingest("sqlite", n, batch, options.profileDir);
      if (options.postgresUrl) await ingest("postgres", n, batch, options.profileDir);
    }
  }
  if (options.postgresUrl) await postgresCeiling(options.postgresUrl, 2000);
  console.log(`  load average (1 min) at end: ${load()}`);
}
