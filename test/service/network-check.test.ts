/** The configured network against the simulator's chain (issue 10, fault 3): ./network-scenarios.ts. */
import { afterAll, beforeAll, describe } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { networkScenarios } from "./network-scenarios.js";

let sim: Simulator;
let regtestAddress: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  const root = new BitcoindRpcClient({ url: sim.url });
  await root.call("createwallet", ["ours"]);
  await root.close();
  const ours = new BitcoindRpcClient({ url: sim.url, wallet: "ours" });
  regtestAddress = String(await ours.call("getnewaddress"));
  await ours.close();
});
afterAll(async () => {
  await sim?.close();
});

describe("the configured network is checked against the simulator's chain", () => {
  networkScenarios(() => ({ url: sim.url, regtestAddress }));
});
