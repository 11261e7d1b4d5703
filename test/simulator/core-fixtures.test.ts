/**
 * The simulator against the request/response pairs recorded from real Bitcoin Core for every
 * RPC the product uses (test/fixtures/bitcoind/, recorded by test/real-node/rpc-shapes.test.ts
 * running test/simulator/product-rpc-session.ts). Runs without a bitcoind: it is what keeps
 * the simulator speaking like Core in CI for a clone without ../shared.
 */
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/simulator/index.js";
import { compareSessions, readFixtures, runProductSession } from "./product-rpc-session.js";

describe("the simulator answers the product's RPCs as recorded from Bitcoin Core", () => {
  it("same status, errors, keys, types, decimals and deterministic values, call by call", async () => {
    const recorded = readFixtures();
    expect(recorded.length).toBeGreaterThan(50);
    const simulator = await startSimulator({ port: 0 });
    try {
      expect(compareSessions(recorded, await runProductSession(simulator.url))).toEqual([]);
    } finally {
      await simulator.close();
    }
  });

  it("the comparison can fail (a changed amount, key or error code is reported)", () => {
    const recorded = readFixtures();
    const altered = recorded.map((pair) => ({ ...pair }));
    const index = recorded.findIndex((pair) => pair.request.method === "gettransaction");
    const pair = altered[index] as (typeof altered)[number];
    pair.raw_response = pair.raw_response.replace('"confirmations":0', '"confirmations":1');
    expect(compareSessions(recorded, altered).some((diff) => diff.includes("confirmations"))).toBe(true);
  });
});
