/**
 * Issue 10's money faults against real Bitcoin Core (one regtest bitcoind for the file):
 * the same scenarios the simulator suites run, so the daemon's real answers are what the
 * fixes are proven on.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { networkScenarios } from "../service/network-scenarios.js";
import { describeWithBitcoind, RegtestNode } from "../support/bitcoind.js";

describeWithBitcoind("money faults on real Bitcoin Core", () => {
  let node: RegtestNode | undefined;
  let regtestAddress = "";
  beforeAll(async () => {
    node = await RegtestNode.start();
    const ours = await node.createWallet("ours");
    regtestAddress = String(await ours.call("getnewaddress"));
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
  });

  describe("fault 3: the configured network is checked against getblockchaininfo.chain", () => {
    networkScenarios(() => ({ url: (node as RegtestNode).url, regtestAddress }));
  });
});
