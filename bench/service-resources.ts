/**
 * Helper service resource use: resident memory and CPU of a real `cryptoassets
 * helper-service` child process, idle and under a steady stream of deposits (walletnotify
 * over HTTP from the simulator, a block every 2 s, an HTTP webhook receiving every event).
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
import { row, startReceiver } from "./support.js";

const BIN = join(import.meta.dirname, "../../bin/cryptoassets.js");

function sample(pid: number): { rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0); // utime + stime
  return { rssMiB: rssKb / 1024, cpuSeconds: ticks / 100 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function serviceResourcesBench(options: {
  depositsPerSecond: number;
  seconds: number;
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ca-bench-svc-"));
  const notifyPort = await freePort();
  const statusPort = await freePort();
  const sim = await startSimulator({
    port: 0,
    walletNotify: `curl -s --data "txid=%s" http://127.0.0.1:${notifyPort}/ >/dev/null || true`,
  });
  const receiver = await startReceiver();
  const root = new BitcoindRpcClient({ url: sim.url });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  const payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
  const payerAddress = String(await payer.call("getnewaddress"));
  await payer.call("generatetoaddress", [300, payerAddress]);

  const dbUrl = sqliteUrl(join(dir, "ledger.db"));
  const database = await openDatabase(dbUrl);
  await initializeDatabase(database);
  const backend = new BitcoindBackend({ url: sim.url, wallet: "ours" });
  const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
  const account = await ledger.createAccount("bench");
  const addresses: string[] = [];
  for (let i = 0; i < 50; i++) addresses.push((await ledger.createReceivingAddress(account.id)).address);

  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      `database: { url: "${dbUrl}" }`,
      "coins:",
      "  btc:",
      "    network: regtest",
      "    backend:",
      "      class: bitcoind",
      `      url: "${sim.url}"`,
      "      wallet: ours",
      `      walletnotify: { class: http, port: ${notifyPort} }`,
      "events:",
      `  app: { class: http, url: "${receiver.url}" }`,
      `status-server: { port: ${statusPort} }`,
      "service: { poll_period: 1 }",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [BIN, "helper-service", config], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CRYPTOASSETS_LOG_LEVEL: "warn" },
  });
  const pid = child.pid ?? 0;
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${statusPort}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 100) throw new Error("helper service did not become healthy");
      await sleep(100);
    }
    await sleep(5000);
    const idle = sample(pid);
    await sleep(10_000);
    const idleLater = sample(pid);
    row("helper service idle", {
      rss_MiB: idleLater.rssMiB,
      cpu_percent: ((idleLater.cpuSeconds - idle.cpuSeconds) / 10) * 100,
    });

    const start = sample(pid);
    const interval = 1000 / options.depositsPerSecond;
    const began = performance.now();
    let sent = 0;
    let peak = 0;
    const rss: number[] = [];
    let nextBlock = began + 2000;
    while (performance.now() - began < options.seconds * 1000) {
      const address = addresses[sent % addresses.length] as string;
      await payer.call("sendtoaddress", [address, "0.001"]);
      sent++;
      if (performance.now() >= nextBlock) {
        await payer.call("generatetoaddress", [1, payerAddress]);
        nextBlock += 2000;
        const s = sample(pid);
        rss.push(s.rssMiB);
        peak = Math.max(peak, s.rssMiB);
      }
      const wait = began + sent * interval - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const end = sample(pid);
    const elapsed = (performance.now() - began) / 1000;
    row(`helper service, ${options.depositsPerSecond} deposits/s for ${options.seconds} s`, {
      deposits: sent,
      rss_avg_MiB: rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length),
      rss_peak_MiB: peak,
      cpu_percent: ((end.cpuSeconds - start.cpuSeconds) / elapsed) * 100,
      events_received: receiver.received.size,
    });
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await backend.close();
    await database.close();
    await receiver.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
