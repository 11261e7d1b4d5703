/**
 * What a new block costs in RPC, with 10 and with 1,000 open transactions, for both
 * confirmation strategies — counted by the JSON-RPC client itself (HTTP requests and calls
 * per method) against the simulator over real HTTP. The block-driven tracker must cost the
 * same whatever the number of open transactions; the original's per-transaction polling
 * costs one gettransaction per open transaction per poll.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BitcoindBackend, RpcStats } from "../../src/backends/bitcoind/index.js";
import { listTrackedNetworkTransactions } from "../../src/ledger/index.js";
import { type ChainEnv, startChainEnv } from "./support/env.js";

interface Cost {
  open: number;
  strategy: string;
  requests: number;
  calls: string;
  ms: number;
}

describe("RPC cost of a new block", () => {
  let env: ChainEnv;
  let backend: BitcoindBackend;
  let ourAddress: string;
  const costs: Cost[] = [];

  beforeAll(async () => {
    env = await startChainEnv({ engine: "sqlite" });
    backend = env.runtime.backend as BitcoindBackend;
    const alice = await env.runtime.ledger.createAccount("alice");
    ourAddress = (await env.runtime.ledger.createReceivingAddress(alice.id)).address;
    // Give the payer 1,000 confirmed coins so 1,000 payments need no long unconfirmed chains.
    const addresses = await env.payer.batch(
      Array.from({ length: 1000 }, () => ({ method: "getnewaddress" })),
    );
    const outputs: Record<string, string> = {};
    for (const outcome of addresses) if (outcome.ok) outputs[String(outcome.result)] = "0.01";
    await env.payer.call("sendmany", ["", outputs]);
    await env.mine(1);
  }, 120_000);

  afterAll(async () => {
    await env?.close();
  });

  async function pay(count: number) {
    const outcomes = await env.payer.batch(
      Array.from({ length: count }, () => ({ method: "sendtoaddress", params: [ourAddress, "0.001"] })),
    );
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    await env.mine(1);
  }

  async function openCount() {
    return (await env.runtime.ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx))).length;
  }

  async function measure(open: number, strategy: string, work: () => Promise<unknown>): Promise<RpcStats> {
    backend.resetRpcStats();
    const started = performance.now();
    await work();
    const ms = Math.round(performance.now() - started);
    const stats = backend.rpcStats();
    const calls = Object.entries(stats.calls)
      .map(([method, count]) => `${method}×${count}`)
      .join(" ");
    costs.push({ open, strategy, requests: stats.requests, calls, ms });
    return stats;
  }

  async function measureAll(open: number) {
    expect(await openCount()).toBe(open);
    await env.mine(1);
    const block = await measure(open, "block (tick)", () => env.runtime.tracker.tick());
    await env.mine(1);
    const poll = await measure(open, "poll (per-transaction)", () => env.runtime.poller.recheck());
    const recheck = await measure(open, "re-check (batched)", () => env.runtime.rechecker.recheck());
    return { block, poll, recheck };
  }

  it("is constant for the block-driven tracker and linear for per-transaction polling", async () => {
    await pay(10);
    await env.runtime.scan();
    const small = await measureAll(10);

    await pay(990);
    await env.runtime.tracker.tick();
    const large = await measureAll(1000);

    console.log(
      `\nRPC cost per new block (simulator over HTTP, SQLite ledger)\n${"open".padStart(6)}  ${"strategy".padEnd(24)}${"HTTP requests".padStart(14)}  ${"ms".padStart(6)}  calls\n${costs
        .map(
          (c) =>
            `${String(c.open).padStart(6)}  ${c.strategy.padEnd(24)}${String(c.requests).padStart(14)}  ${String(c.ms).padStart(6)}  ${c.calls}`,
        )
        .join("\n")}\n`,
    );

    // Block-driven: two requests per block, 10 or 1,000 open transactions alike.
    for (const { block } of [small, large]) {
      expect(block.requests).toBe(2);
      expect(block.calls).toEqual({ getblockchaininfo: 1, listsinceblock: 1 });
    }
    // Per-transaction polling: one request per open transaction.
    expect(small.poll.calls.gettransaction).toBe(10);
    expect(large.poll.calls.gettransaction).toBe(1000);
    expect(large.poll.requests).toBe(1000);
    // The batched re-check: every open transaction, but 250 per HTTP request.
    expect(large.recheck.calls.gettransaction).toBe(1000);
    expect(large.recheck.requests).toBe(4);
    expect(small.recheck.requests).toBe(1);

    // And the tracker really did move all 1,000 forward: every one at the confirmations the daemon reports.
    const open = await env.runtime.ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
    const sample = await backend.getTransactions(open.slice(0, 50).map((ntx) => ntx.txid as string));
    for (const ntx of open.slice(0, 50))
      expect(ntx.confirmations).toBe(sample.get(ntx.txid as string)?.confirmations);
  }, 180_000);
});
