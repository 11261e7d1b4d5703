/**
 * Every RPC the product uses, in the forms it uses them (test/simulator/product-rpc-session.ts),
 * run against real Bitcoin Core and against the simulator: same HTTP status, error codes and
 * messages, keys and key order, value types, decimals, and deterministic values. The
 * session's Core replies are the fixtures in test/fixtures/bitcoind/, checked here to still
 * be what Core says; `CRYPTOASSETS_RECORD_FIXTURES=1` records them again.
 */
import { expect, it } from "vitest";
import { startSimulator } from "../../src/simulator/index.js";
import {
  compareSessions,
  type RecordedPair,
  readFixtures,
  runProductSession,
  writeFixtures,
} from "../simulator/product-rpc-session.js";
import { describeWithBitcoind, RegtestNode } from "../support/bitcoind.js";

describeWithBitcoind("the product's RPCs on Bitcoin Core and on the simulator", () => {
  it("answer alike, and the recorded fixtures are still what Core says", async () => {
    let core: RecordedPair[];
    const node = await RegtestNode.start();
    try {
      core = await runProductSession(node.url);
    } finally {
      await node.stop();
    }
    let simulated: RecordedPair[];
    const simulator = await startSimulator({ port: 0 });
    try {
      simulated = await runProductSession(simulator.url);
    } finally {
      await simulator.close();
    }
    if (process.env.CRYPTOASSETS_RECORD_FIXTURES === "1") writeFixtures(core);
    expect(compareSessions(core, simulated), "the simulator differs from Core").toEqual([]);
    expect(compareSessions(readFixtures(), core), "Core differs from the recorded fixtures").toEqual([]);
  }, 120_000);
});
