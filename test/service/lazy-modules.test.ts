/**
 * A helper service loads only the drivers and clients its configuration uses (issue 14,
 * footprint): on SQLite with a bitcoind backend and an HTTP webhook, none of the PostgreSQL,
 * MySQL, Redis, RabbitMQ or NATS clients, nor bitcoinjs-lib, is loaded — not at start, not
 * while it credits a deposit. Each child process records what it loads through
 * test/support/module-trace.mjs. The command line runs the bundle of dist/bundle/ (see
 * scripts/bundle-cli.mjs): a file loaded from there counts as every package the build's
 * dist/bundle/inputs.json lists in it, so an eager import of an unused driver, which would put
 * it in a file the service loads, fails here as it did unbundled. That the configured drivers
 * do load and work is what the suites of test/db, test/events-brokers, test/notify and
 * test/service run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindBackend } from "../../src/backends/bitcoind/backend.js";
import { openDatabase } from "../../src/db/open.js";
import { sqliteUrl } from "../../src/db/url.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { waitFor } from "../support/wait.js";
import { writeConfigFile } from "./config-file.js";
import { type Regtest, startRegtestInProcess } from "./regtest.js";
import {
  type CliProcess,
  freePort,
  killChild,
  runCli,
  startTestReceiver,
  type TestReceiver,
} from "./support.js";

const TRACER = pathToFileURL(resolve(import.meta.dirname, "../support/module-trace.mjs")).href;

/** Drivers and clients of parts the configurations below do not use. */
const UNUSED = [
  "pg",
  "mysql2",
  "redis",
  "@redis/client",
  "amqplib",
  "@nats-io/transport-node",
  "bitcoinjs-lib",
];

const BUNDLE = resolve(import.meta.dirname, "../../dist/bundle");

/** The packages inside each file of dist/bundle/, as the build listed them. */
function bundleInputs(): Map<string, string[]> {
  const text = readFileSync(join(BUNDLE, "inputs.json"), "utf8");
  return new Map(Object.entries(JSON.parse(text) as Record<string, string[]>));
}

/** The packages (by name) and files a trace lists; a bundle file stands for the packages in it. */
function readTrace(file: string): { packages: Set<string>; files: string[]; bundleFiles: string[] } {
  const files = readFileSync(file, "utf8").split("\n").filter(Boolean);
  const inputs = bundleInputs();
  const bundlePrefix = `${pathToFileURL(BUNDLE).href}/`;
  const packages = new Set<string>();
  const bundleFiles: string[] = [];
  for (const url of files) {
    if (url.startsWith(bundlePrefix)) {
      const name = url.slice(bundlePrefix.length);
      bundleFiles.push(name);
      for (const inside of inputs.get(name) ?? []) packages.add(inside);
      continue;
    }
    const names = [...url.matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)];
    const last = names.at(-1)?.[1];
    if (last !== undefined) packages.add(last);
  }
  return { packages, files, bundleFiles };
}

describe("modules a helper service loads", () => {
  let dir: string;
  let regtest: Regtest;
  let receiver: TestReceiver;
  const children: CliProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-lazy-modules-"));
    regtest = await startRegtestInProcess();
    receiver = await startTestReceiver();
  });

  afterAll(async () => {
    await Promise.allSettled(children.map((child) => killChild(child)));
    await receiver?.close();
    await regtest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a traced child, waits until its service runs, lets `work` run, stops it, reads its trace. */
  async function traced(
    name: string,
    args: string[],
    bin: string | undefined,
    work: () => Promise<void>,
  ): Promise<ReturnType<typeof readTrace>> {
    const traceFile = join(dir, `${name}.trace`);
    writeFileSync(traceFile, "");
    const child = runCli(
      args,
      { NODE_OPTIONS: `--import ${TRACER}`, MODULE_TRACE_FILE: traceFile },
      bin === undefined ? {} : { bin },
    );
    children.push(child);
    await child.waitForOutput(/helper service running/, 30_000);
    await work();
    await killChild(child);
    expect(await child.exited).toBe(0);
    return readTrace(traceFile);
  }

  it("the CLI on SQLite with a bitcoind backend and a webhook: no other driver or client, even while crediting", async () => {
    const databaseUrl = sqliteUrl(join(dir, "cli.db"));
    const config = writeConfigFile(
      dir,
      { databaseUrl, rpcUrl: regtest.url, statusPort: await freePort(), receiverUrl: receiver.url },
      "cli.yaml",
    );
    const trace = await traced("cli", ["helper-service", config], undefined, async () => {
      const database = await openDatabase(databaseUrl);
      const backend = new BitcoindBackend({ url: regtest.url, wallet: "ours" });
      try {
        const ledger = await Ledger.open({ database, coin: "btc", network: "regtest", backend });
        const account = await ledger.createAccount("lazy");
        const { address } = await ledger.createReceivingAddress(account.id);
        await regtest.pay(address, "0.1");
        await regtest.mine(1);
        await waitFor("the deposit's events", () => receiver.eventsFor(address).length > 0);
      } finally {
        await backend.close();
        await database.close();
      }
    });
    // What it uses is in the trace: the bundle's files (kysely, and fastify for the status
    // server, which the command line always runs), CommonJS requires (inside better-sqlite3).
    expect(trace.bundleFiles).toContain("cli.js");
    expect(trace.packages).toContain("kysely");
    expect(trace.files.some((url) => url.endsWith("/better-sqlite3/lib/database.js"))).toBe(true);
    expect(trace.packages).toContain("fastify");
    for (const unused of UNUSED) expect(trace.packages, unused).not.toContain(unused);
  }, 90_000);

  it("an embedding application without a status server does not load fastify either", async () => {
    const config = writeConfigFile(
      dir,
      {
        databaseUrl: sqliteUrl(join(dir, "embedded.db")),
        rpcUrl: regtest.url,
        statusPort: await freePort(),
        receiverUrl: receiver.url,
      },
      "embedded.yaml",
    );
    const program = join(dir, "embedded.mjs");
    const library = pathToFileURL(resolve(import.meta.dirname, "../../dist/index.js")).href;
    writeFileSync(
      program,
      `import { createLogger, loadConfigFile, startHelperService } from ${JSON.stringify(library)};
const config = loadConfigFile(process.argv[2]);
const service = await startHelperService(
  { ...config, "status-server": { enabled: false } },
  { logger: createLogger({ level: "info" }) },
);
process.once("SIGTERM", () => void service.stop().then((exit) => process.exit(exit.code)));
`,
    );
    const trace = await traced("embedded", [config], program, async () => undefined);
    expect(trace.packages).toContain("kysely");
    for (const unused of [...UNUSED, "fastify"]) expect(trace.packages, unused).not.toContain(unused);
  }, 60_000);
});
