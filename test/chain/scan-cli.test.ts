/**
 * `cryptoassets scan-received <config>` run through commander in-process with a real YAML
 * config, a real SQLite file and the simulator over HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { BitcoindBackend, BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { progressLine, registerScanReceivedCommand } from "../../src/cli/scan-received.js";
import { initializeDatabase, openDatabase } from "../../src/db/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { Ledger } from "../../src/ledger/index.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";

async function runCli(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const program = new Command("cryptoassets").exitOverride();
  registerScanReceivedCommand(program);
  let stdout = "";
  let stderr = "";
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  const previousExitCode = process.exitCode;
  process.exitCode = 0;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    await program.parseAsync(["node", "cryptoassets", ...args]);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = previousExitCode;
  return { stdout, stderr, exitCode };
}

describe("cryptoassets scan-received", () => {
  let sim: Simulator | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    sim = undefined;
    dir = undefined;
  });

  it("scans from the config's database and backend, then resumes from the recorded block", async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-scan-cli-"));
    sim = await startSimulator({ port: 0 });
    const root = new BitcoindRpcClient({ url: sim.url });
    await root.call("createwallet", ["payer"]);
    await root.call("createwallet", ["ours"]);
    await root.close();
    const payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
    const payerAddress = String(await payer.call("getnewaddress"));
    await payer.call("generatetoaddress", [101, payerAddress]);

    const dbPath = join(dir, "ledger.db");
    const configPath = join(dir, "cryptoassets.yaml");
    writeFileSync(
      configPath,
      [
        "database:",
        `  url: ${sqliteUrl(dbPath)}`,
        "coins:",
        "  btc:",
        "    backend:",
        "      class: cryptoassets.core.backend.bitcoind.Bitcoind",
        `      url: ${sim.url}`,
        "      wallet: ours",
        "    network: regtest",
        "events:",
        "  app:",
        "    class: http",
        "    url: http://127.0.0.1:9/events",
        "",
      ].join("\n"),
    );

    // The application created an address earlier; payments arrived while nothing ran.
    const database = await openDatabase(sqliteUrl(dbPath));
    await initializeDatabase(database);
    const backend = new BitcoindBackend({ url: sim.url, wallet: "ours" });
    const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
    const alice = await ledger.createAccount("alice");
    const address = (await ledger.createReceivingAddress(alice.id)).address;
    await payer.call("sendtoaddress", [address, "0.7"]);
    await payer.call("sendtoaddress", [address, "0.05"]);
    await payer.call("generatetoaddress", [5, payerAddress]);

    const first = await runCli(["scan-received", configPath]);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(
      /^btc: 2 wallet transaction\(s\) since the first block \(first scan\); 2 changed, 2 event\(s\) written/,
    );
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: 75_000_000n, unconfirmed: 0n });
    // One delivery per configured handler was queued with each event.
    const deliveries = await database.db.selectFrom("ca_delivery").select(["handler", "state"]).execute();
    expect(deliveries).toEqual([
      { handler: "app", state: "pending" },
      { handler: "app", state: "pending" },
    ]);

    await payer.call("generatetoaddress", [1, payerAddress]);
    const second = await runCli(["scan-received", configPath, "--json"]);
    expect(second.exitCode).toBe(0);
    const parsed = JSON.parse(second.stdout) as Array<{
      coin: string;
      scanned: number;
      advanced: number;
      fromBlock: string;
    }>;
    expect(parsed).toMatchObject([{ coin: "btc", scanned: 0, advanced: 2 }]);
    expect(parsed[0]?.fromBlock).toMatch(/^[0-9a-f]{64}$/);

    const unknown = await runCli(["scan-received", configPath, "--coin", "ltc"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain('coin "ltc" is not configured; configured coins: btc');

    await backend.close();
    await payer.close();
    await database.close();
  });

  it("draws a progress bar", () => {
    expect(progressLine("btc", { phase: "listing", done: 0, total: 0 })).toBe(
      "btc  asking the daemon for wallet transactions…",
    );
    expect(progressLine("btc", { phase: "applying", done: 250, total: 1000 }, 8)).toBe(
      "btc  [██░░░░░░]  250/1000 transactions",
    );
    expect(progressLine("btc", { phase: "done", done: 0, total: 0 }, 4)).toBe(
      "btc  [████]  0/0 transactions",
    );
  });
});
