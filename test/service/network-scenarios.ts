/**
 * The network-check scenarios (issue 10, fault 3) through the real CLI, against whichever
 * daemon the calling file starts (the simulator, or real Bitcoin Core in test/real-node/):
 * the original's `testnet: true` against a regtest daemon stops the helper service (exit 2,
 * one line naming both); an unset network is taken from the daemon, by the service and by
 * `wallet send` alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import { sqliteUrl } from "../../src/db/url.js";
import { startHelperService } from "../../src/service/helper-service.js";
import { waitFor } from "../support/wait.js";
import { freePort, killChild, runCli } from "./support.js";

export interface NetworkScenarioDaemon {
  /** RPC URL with credentials; the daemon has a wallet named `ours`. */
  url: string;
  /** An address of the daemon's (regtest) wallet. */
  regtestAddress: string;
}

export function networkScenarios(daemon: () => NetworkScenarioDaemon): void {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ca-network-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A configuration as an operator writes it; `coinLines` go under `coins.btc`. */
  function writeConfig(name: string, coinLines: string, statusPort = 0): string {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      `database: { url: "${sqliteUrl(join(dir, `${name}.db`))}" }
coins:
  btc:
    backend: { class: bitcoind, url: "${daemon().url}", wallet: ours }
${coinLines}status-server: { port: ${statusPort} }
service: { broadcast_period: 3600, poll_period: 1 }
`,
    );
    return path;
  }

  it("testnet: true (the original's regtest configs) against a regtest daemon: exit 2, one line naming both", async () => {
    const config = writeConfig("testnet", "    testnet: true\n", await freePort());
    const service = runCli(["helper-service", config]);
    const deadline = setTimeout(() => void killChild(service), 15_000);
    const code = await service.exited;
    clearTimeout(deadline);
    expect(code).toBe(2);
    const lines = service
      .output()
      .split("\n")
      .filter((line) => line.includes("configured network testnet"));
    // The pino log line and the plain line on stderr; the plain one names both networks.
    const plain = lines.filter((line) => !line.startsWith("{"));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(
      /btc: configured network testnet but the daemon at http:\/\/\S+:\*\*\*@127\.0\.0\.1:\d+\/ runs regtest \(getblockchaininfo\.chain "regtest"\)/,
    );
  });

  it("an unset network is taken from the daemon by the helper service", async () => {
    const service = await startHelperService(loadConfigFile(writeConfig("unset-service", "")));
    try {
      const ledger = service.ledger("btc");
      await waitFor("the network from the daemon", () => (ledger.network === "regtest" ? true : undefined));
      const alice = await ledger.createAccount("alice");
      // No money yet, but the address is accepted as a regtest one before the balance is checked.
      await expect(ledger.send(alice.id, daemon().regtestAddress, "0.001")).rejects.toThrow(/cannot spend/);
    } finally {
      await service.stop();
    }
  });

  it("wallet send validates against the daemon's network when none is configured", async () => {
    const config = writeConfig("unset-cli", "");
    expect(await runCli(["wallet", config, "create-account", "bob"]).exited).toBe(0);
    const regtest = runCli(["wallet", config, "send", "bob", daemon().regtestAddress, "0.001"]);
    expect(await regtest.exited).toBe(1);
    // The address passed (a regtest one): it is the balance that is missing.
    expect(regtest.output()).toMatch(/account "bob" has 0\.00000000 btc, cannot spend 0\.00100000/);
    const testnetAddress = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
    const testnet = runCli(["wallet", config, "send", "bob", testnetAddress, "0.001"]);
    expect(await testnet.exited).toBe(1);
    expect(testnet.output()).toMatch(/is not a btc regtest address/);
  });
}
