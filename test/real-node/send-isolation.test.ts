/**
 * Issue 10, fault 1 against real Bitcoin Core (one regtest bitcoind for the file): the
 * scenarios the simulator runs (test/broadcast/isolation-scenarios.ts), on the daemon's real
 * refusals — "Transaction amount too small" (-6), "Invalid Bitcoin address" (-5),
 * "Insufficient funds" (-6).
 */
import { afterAll, beforeAll } from "vitest";
import type { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { isolationScenarios } from "../broadcast/isolation-scenarios.js";
import { describeWithBitcoind, FUNDING_BLOCKS, RegtestNode } from "../support/bitcoind.js";

describeWithBitcoind("a refused batch on real Bitcoin Core: culprits isolated, the rest sent", () => {
  let node: RegtestNode | undefined;
  let payer: BitcoindRpcClient;
  beforeAll(async () => {
    node = await RegtestNode.start();
    payer = await node.createWallet("payer");
    await node.mine(FUNDING_BLOCKS, "payer");
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
  });

  isolationScenarios(() => ({
    url: (node as RegtestNode).url,
    payer,
    mine: async (blocks) => {
      await (node as RegtestNode).mine(blocks, "payer");
    },
  }));
});
