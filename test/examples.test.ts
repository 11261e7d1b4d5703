/** The examples/cli-wallet app, run exactly as its README says, against the simulator. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { BitcoindRpcClient } from "../src/backends/bitcoind/index.js";
import { type Simulator, startSimulator } from "../src/simulator/index.js";
import { freePort } from "./support/ports.js";
import { waitFor } from "./support/wait.js";

const APP = join(import.meta.dirname, "../examples/cli-wallet/wallet.mjs");
const CONFIG = join(import.meta.dirname, "../examples/cli-wallet/config.yaml");
const DB = "/tmp/cryptoassets-example-wallet.db";

let sim: Simulator | undefined;
let listener: ChildProcess | undefined;
afterAll(async () => {
  listener?.kill("SIGINT");
  await sim?.close();
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${DB}${suffix}`, { force: true });
});

it("the example wallet shows an address, prints txupdate events, and reports the credited balance", async () => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${DB}${suffix}`, { force: true });
  const [notify, blocknotify, status] = [await freePort(), await freePort(), await freePort()];
  sim = await startSimulator({
    port: 0,
    walletNotify: `curl -s --data "txid=%s" http://127.0.0.1:${notify}`,
    blockNotify: `curl -s --data "blockhash=%s" http://127.0.0.1:${blocknotify}`,
  });
  const env = {
    ...process.env,
    RPC_PORT: String(sim.port),
    NOTIFY_PORT: String(notify),
    BLOCKNOTIFY_PORT: String(blocknotify),
    STATUS_PORT: String(status),
    CRYPTOASSETS_LOG_LEVEL: "warn",
  };
  const run = (...args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [APP, CONFIG, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim()),
      ),
    );
  const root = new BitcoindRpcClient({ url: sim.url });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  const payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
  const payerAddress = String(await payer.call("getnewaddress"));
  await payer.call("generatetoaddress", [101, payerAddress]);
  // The funding blocks' notify commands run one at a time: let them finish before the
  // example listens, or the deposit's walletnotify waits behind 200 curls on a loaded machine.
  await sim.notificationsIdle();

  const address = await run("address");
  expect(address).toMatch(/^bcrt1q[0-9a-z]{38,}$/);

  let output = "";
  listener = spawn(process.execPath, [APP, CONFIG, "listen"], { env, stdio: ["ignore", "pipe", "inherit"] });
  listener.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  const printed = (pattern: RegExp) =>
    waitFor(
      () => `the example to print ${pattern}; got:\n${output}`,
      () => pattern.test(output),
      20_000,
      50,
    );
  await printed(/listening/);
  // Healthy = every subsystem running, the walletnotify listener bound among them.
  await waitFor(
    "the example's helper service to become healthy",
    async () => (await fetch(`http://127.0.0.1:${status}/health`)).status === 200,
    20_000,
    50,
  );
  await payer.call("sendtoaddress", [address, "0.5"]);
  await printed(/0\.50000000 BTC to .*0 confirmations, not credited yet/);
  await payer.call("generatetoaddress", [3, payerAddress]);
  await printed(/3 confirmations, credited/);
  expect(await run("balance")).toBe("0.50000000 BTC (unconfirmed 0.00000000)");
}, 120_000);
