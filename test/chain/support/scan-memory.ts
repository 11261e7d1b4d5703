/**
 * The full scan of a large wallet, measured: a simulator wallet of N transactions (N blocks
 * mined to our address, each coinbase one wallet transaction, plus a few deposits to the
 * ledger's addresses), then the real `cryptoassets scan-received` CLI in a child process on
 * a fresh SQLite ledger, its peak RSS read from /proc/<pid>/status (VmHWM, the kernel's
 * high-water mark) while it runs. Shared by test/chain/scan-memory.test.ts and
 * bench/scan-memory.ts.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BitcoindBackend, BitcoindRpcClient } from "../../../src/backends/bitcoind/index.js";
import { initializeDatabase, openDatabase } from "../../../src/db/index.js";
import { sqliteUrl } from "../../../src/db/url.js";
import { Ledger } from "../../../src/ledger/index.js";
import type { Simulator } from "../../../src/simulator/index.js";
import { runCli } from "../../service/support.js";

export interface SeededWallet {
  /** Wallet transactions of "ours". */
  transactions: number;
  /** The ledger's deposits: account id → base units paid to its address. */
  deposits: Map<number, bigint>;
  /** A ledger (SQLite file) holding those accounts and addresses, not scanned yet: copied per run. */
  templateDb: string;
}

/**
 * Our wallet gets `coinbases` mined blocks plus three deposits to ledger addresses (one
 * transaction paying two of them), all deeply confirmed.
 */
export async function seedLargeWallet(sim: Simulator, dir: string, coinbases: number): Promise<SeededWallet> {
  const root = new BitcoindRpcClient({ url: sim.url });
  const payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
  const ours = new BitcoindRpcClient({ url: sim.url, wallet: "ours" });
  const templateDb = join(dir, "template.db");
  const database = await openDatabase(sqliteUrl(templateDb));
  const backend = new BitcoindBackend({ url: sim.url, wallet: "ours" });
  try {
    await root.call("createwallet", ["payer"]);
    await root.call("createwallet", ["ours"]);
    const payerAddress = String(await payer.call("getnewaddress"));
    await payer.call("generatetoaddress", [101, payerAddress]);
    await initializeDatabase(database);
    const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
    const accounts: Array<{ id: number; address: string }> = [];
    for (const name of ["alice", "bob", "carol"]) {
      const account = await ledger.createAccount(name);
      accounts.push({ id: account.id, address: (await ledger.createReceivingAddress(account.id)).address });
    }
    const [alice, bob, carol] = accounts as [
      (typeof accounts)[0],
      (typeof accounts)[0],
      (typeof accounts)[0],
    ];
    await payer.call("sendtoaddress", [alice.address, "0.7"]);
    await payer.call("sendmany", ["", { [bob.address]: "0.2", [carol.address]: "0.05" }]);
    // In-process: 100,000 blocks over HTTP would cost minutes of JSON for nothing.
    const miningAddress = String(await ours.call("getnewaddress"));
    for (let done = 0; done < coinbases; done += 10_000) {
      sim.chain.mine(Math.min(10_000, coinbases - done), miningAddress);
    }
    return {
      transactions: coinbases + 2,
      deposits: new Map([
        [alice.id, 70_000_000n],
        [bob.id, 20_000_000n],
        [carol.id, 5_000_000n],
      ]),
      templateDb,
    };
  } finally {
    await backend.close();
    await database.close();
    await Promise.all([root.close(), payer.close(), ours.close()]);
  }
}

export interface ScanMemory {
  /** listtransactions entries per page; 0 = one unpaged listsinceblock. */
  pageSize: number;
  /** Peak resident set of the scanning process, MiB. */
  peakRssMiB: number;
  seconds: number;
  /** Wallet transactions the scan reported. */
  scanned: number;
  /** Confirmed ledger balance per seeded deposit account after the scan. */
  credited: Map<number, bigint>;
  output: string;
}

function peakRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // exited between two reads
  }
}

/** One scan-received run (child process) on a copy of the seeded ledger. */
export async function measureScan(
  sim: Simulator,
  seeded: SeededWallet,
  dir: string,
  options: {
    pageSize: number;
    maxReplyMb: number /** The CLI launcher (absolute); default bin/cryptoassets.js. */;
    cli?: string;
  },
): Promise<ScanMemory> {
  const dbPath = join(dir, `ledger-${options.pageSize}.db`);
  copyFileSync(seeded.templateDb, dbPath);
  const configPath = join(dir, `scan-${options.pageSize}.yaml`);
  writeFileSync(
    configPath,
    [
      "database:",
      `  url: ${sqliteUrl(dbPath)}`,
      "coins:",
      "  btc:",
      "    backend:",
      "      class: bitcoind",
      `      url: ${sim.url}`,
      "      wallet: ours",
      "      timeout: 600",
      `      max_reply_mb: ${options.maxReplyMb}`,
      `      scan_page_size: ${options.pageSize}`,
      "    network: regtest",
      "",
    ].join("\n"),
  );
  const started = Date.now();
  const run = runCli(
    ["scan-received", configPath, "--json"],
    { CRYPTOASSETS_LOG_LEVEL: "warn" },
    options.cli === undefined ? {} : { bin: options.cli },
  );
  const pid = run.child.pid as number;
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, peakRssKiB(pid) ?? 0);
  }, 50);
  const code = await run.exited;
  clearInterval(timer);
  const seconds = (Date.now() - started) / 1000;
  if (code !== 0) throw new Error(`scan-received exited ${code}:\n${run.output()}`);
  const output = run.output();
  const [result] = JSON.parse(output.slice(output.indexOf("["))) as Array<{ scanned: number }>;
  const database = await openDatabase(sqliteUrl(dbPath));
  try {
    const ledger = await Ledger.open({ database, coin: "btc", network: "regtest" });
    const credited = new Map<number, bigint>();
    for (const accountId of seeded.deposits.keys()) {
      credited.set(accountId, (await ledger.accountBalance(accountId)).confirmed);
    }
    return {
      pageSize: options.pageSize,
      peakRssMiB: Math.round(peak / 1024),
      seconds,
      scanned: result?.scanned ?? 0,
      credited,
      output,
    };
  } finally {
    await database.close();
  }
}
