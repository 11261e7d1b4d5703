/**
 * Issue 10's money faults against real Bitcoin Core (one regtest bitcoind for the file):
 * the same scenarios the simulator suites run, so the daemon's real answers are what the
 * fixes are proven on.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { recoveryScenarios } from "../broadcast/recovery-scenarios.js";
import { networkScenarios } from "../service/network-scenarios.js";
import { describeWithBitcoind, FUNDING_BLOCKS, RegtestNode } from "../support/bitcoind.js";

describeWithBitcoind("money faults on real Bitcoin Core", () => {
  let node: RegtestNode | undefined;
  let regtestAddress = "";
  beforeAll(async () => {
    node = await RegtestNode.start();
    const ours = await node.createWallet("ours");
    regtestAddress = String(await ours.call("getnewaddress"));
    await node.createWallet("payer");
    await node.mine(FUNDING_BLOCKS, "payer");
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
  });

  describe("fault 3: the configured network is checked against getblockchaininfo.chain", () => {
    networkScenarios(() => ({ url: (node as RegtestNode).url, regtestAddress }));
  });

  describe("fault 2: recovery of an interrupted broadcast takes only its own payment", () => {
    recoveryScenarios(() => ({
      url: (node as RegtestNode).url,
      mine: async (n) => {
        await (node as RegtestNode).mine(n, "payer");
      },
    }));
  });
});
