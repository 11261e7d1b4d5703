/** Issue 10, fault 1 on the simulator: the scenarios real Bitcoin Core runs too (./isolation-scenarios.ts). */
import { afterAll, beforeAll, describe } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { isolationScenarios } from "./isolation-scenarios.js";

describe("a refused batch on the simulator: culprits isolated, the rest sent", () => {
  let sim: Simulator;
  let payer: BitcoindRpcClient;
  let payerAddress = "";
  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    const root = new BitcoindRpcClient({ url: sim.url });
    await root.call("createwallet", ["payer"]);
    await root.close();
    payer = new BitcoindRpcClient({ url: sim.url, wallet: "payer" });
    payerAddress = String(await payer.call("getnewaddress"));
    await payer.call("generatetoaddress", [101, payerAddress]);
  });
  afterAll(async () => {
    await payer?.close();
    await sim?.close();
  });

  isolationScenarios(() => ({
    url: sim.url,
    payer,
    mine: async (blocks) => {
      await payer.call("generatetoaddress", [blocks, payerAddress]);
    },
  }));
});
