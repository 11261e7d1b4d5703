/**
 * The original's console scripts — cryptoassets-helper-service, cryptoassets-initialize-database,
 * cryptoassets-scan-received — as bins of this package, run as child processes with the
 * original's argument (the YAML file) and a configuration written the original's way
 * (dotted class names, `status_server`, a relative SQLAlchemy SQLite URL).
 */
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { openDatabase } from "../../src/db/open.js";
import { sqliteUrl } from "../../src/db/url.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { freePort, killChild, runCli } from "../service/support.js";
import { waitFor } from "../support/wait.js";

const ROOT = resolve(import.meta.dirname, "../..");
const ORIGINAL_NAMES = [
  "cryptoassets-helper-service",
  "cryptoassets-initialize-database",
  "cryptoassets-scan-received",
] as const;

describe("the original's command names", () => {
  let dir: string;
  let sim: Simulator;

  const config = (database: string, statusPort = 18881) => `
database:
  url: ${database}
coins:
  btc:
    backend:
      class: cryptoassets.core.backend.bitcoind.Bitcoind
      url: ${sim.url}wallet/ours
    network: regtest
status_server:
  ip: 127.0.0.1
  port: ${statusPort}
service:
  broadcast_period: 60
`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-original-commands-"));
    sim = await startSimulator({ port: 0 });
    const root = new BitcoindRpcClient({ url: sim.url });
    await root.call("createwallet", ["ours"]);
    const ours = new BitcoindRpcClient({ url: sim.url, wallet: "ours" });
    await ours.call("generatetoaddress", [101, String(await ours.call("getnewaddress"))]);
    await Promise.all([root.close(), ours.close()]);
  });
  afterAll(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("are bins of the package, executable launchers of the CLI", () => {
    const bins = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).bin as Record<string, string>;
    for (const name of ORIGINAL_NAMES) {
      expect(bins[name]).toBe(`bin/${name}.js`);
      const file = join(ROOT, bins[name] as string);
      expect(() => accessSync(file, constants.X_OK)).not.toThrow();
      expect(readFileSync(file, "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
    }
  });

  it("cryptoassets-initialize-database <config>: the schema, in a SQLite file relative to the working directory", async () => {
    const work = join(dir, "work");
    mkdirSync(work);
    const path = join(dir, "init.yaml");
    writeFileSync(path, config("sqlite:///ledger.db"));
    const run = runCli([path], {}, { bin: "cryptoassets-initialize-database.js", cwd: work });
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toMatch(/ledger\.db: applied 0001_initial/);
    const database = await openDatabase(sqliteUrl(join(work, "ledger.db")));
    try {
      const tables = await database.db.introspection.getTables();
      expect(tables.map((table) => table.name)).toContain("ca_transaction");
    } finally {
      await database.close();
    }
    // Without its argument: a usage error, as the original's sys.exit.
    const bare = runCli([], {}, { bin: "cryptoassets-initialize-database.js" });
    expect(await bare.exited).toBe(1);
    expect(bare.output()).toMatch(/missing required argument 'config'/);
  });

  it("refuses a relative SQLite URL that this project used to read as absolute, saying how to write it", async () => {
    // sqlite:///<dir>/old.db was <dir>/old.db before this project followed SQLAlchemy.
    const old = join(dir, "old.db");
    writeFileSync(old, "");
    const path = join(dir, "old.yaml");
    writeFileSync(path, config(`sqlite://${old}`));
    const run = runCli([path], {}, { bin: "cryptoassets-initialize-database.js", cwd: join(dir, "work") });
    expect(await run.exited).toBe(1);
    const relative = join(dir, "work", old.slice(1));
    expect(run.output()).toBe(
      `error: database url: sqlite://${old} means ${relative}, relative to the working directory (SQLAlchemy's rule), ` +
        `and no database is there, but ${old} exists: for that file write sqlite:///${old} (four slashes)\n`,
    );
  });

  it("cryptoassets-scan-received <config>: reads the wallet's transactions", async () => {
    const path = join(dir, "scan.yaml");
    writeFileSync(path, config(sqliteUrl(join(dir, "scan.db"))));
    const run = runCli([path], {}, { bin: "cryptoassets-scan-received.js" });
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toMatch(/^btc: \d+ wallet transaction\(s\) since the first block \(first scan\)/m);
  });

  it("cryptoassets-helper-service <config>: serves status_server's port and stops on SIGTERM", async () => {
    const statusPort = await freePort();
    const path = join(dir, "service.yaml");
    writeFileSync(path, config(sqliteUrl(join(dir, "service.db")), statusPort));
    const service = runCli([path], {}, { bin: "cryptoassets-helper-service.js" });
    try {
      await waitFor("the status server", async () =>
        (await fetch(`http://127.0.0.1:${statusPort}/health`).catch(() => undefined))?.status === 200
          ? true
          : undefined,
      );
      service.child.kill("SIGTERM");
      expect(await service.exited, service.output()).toBe(0);
      expect(service.output()).toMatch(/helper service stopped/);
    } finally {
      await killChild(service);
    }
  }, 60_000);
});
