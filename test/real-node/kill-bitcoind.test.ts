/**
 * kill -9 of Bitcoin Core while deposits flow, then a restart: nothing is lost.
 *
 * The real helper service follows a real regtest node while the payer pays our addresses
 * one after another and a block is mined every few payments. Mid-stream the node is
 * SIGKILLed; payments and blocks fail while it is down; it comes back as a crashed node
 * does (older tip, empty mempool) and gets its blocks and unconfirmed transactions back as
 * it would from peers (RegtestNode.restart). Then: every deposit the payer made is in the
 * ledger once, credited, for its amount; every txupdate is delivered in order; the ledger's
 * wallet balance is the daemon's. Real Core only: the simulator keeps its chain in memory,
 * so killing it loses the chain itself — there is nothing to compare.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseAmount } from "../../src/coins/amount.js";
import {
  expectConfirmationsOnlyGrow,
  expectNothingLost,
  type OutboxRow,
  waitForSettled,
} from "../faults/support/external-service.js";
import { describeWithBitcoind } from "../support/bitcoind.js";
import { waitFor } from "../support/wait.js";
import { type ScenarioEnv, startScenarioEnv } from "./support/environment.js";

const DEPOSITS = 24;
/** Four blocks mined after the last flush by then: the first deposits are credited (3). */
const KILL_AFTER = 17;
const BLOCK_EVERY = 4;

describeWithBitcoind("kill -9 of bitcoind under load, then a restart", () => {
  let env: ScenarioEnv | undefined;
  let outbox: OutboxRow[] | undefined;

  beforeAll(async () => {
    env = await startScenarioEnv("bitcoind");
  }, 120_000);

  afterAll(async () => {
    await env?.close();
  }, 60_000);

  it("credits every deposit once and delivers every txupdate in order", async () => {
    const { chain, app, receiver, service, proxy } = env as ScenarioEnv;
    const node = chain.node;
    if (!node) throw new Error("a real node is needed");
    // Addresses come from the daemon: take them all before it goes down.
    for (let i = 0; i < DEPOSITS; i++) await app.prepareDeposit(`kill-${i}`, `0.0${(i % 9) + 1}`);
    // A long-running node has flushed its older blocks; the crash loses only the recent ones.
    await node.flush();

    let down = false;
    const uncertain: typeof app.deposits = [];
    const load = (async () => {
      for (const [index, deposit] of app.deposits.entries()) {
        if (down) await waitFor("bitcoind back", () => (down ? undefined : true), 60_000);
        try {
          await app.pay(chain, deposit);
        } catch {
          uncertain.push(deposit); // killed mid-call: the payer may or may not have paid
        }
        if ((index + 1) % BLOCK_EVERY === 0) await chain.mine(1).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    await waitFor(
      "deposits flowing",
      () => (app.deposits.filter((d) => d.txid).length >= KILL_AFTER ? true : undefined),
      60_000,
    );
    down = true;
    await node.kill9();
    await waitFor(
      "the service to notice",
      async () => ((await service.health()).status === 200 ? undefined : true),
      30_000,
    );
    const cameBackAt = await node.restart({ resupply: false });
    // The service meets the node as it came back (behind, empty mempool) for two polls…
    const polls = proxy.forwardedCalls("getblockchaininfo");
    await waitFor(
      "two polls of the restarted node",
      () => (proxy.forwardedCalls("getblockchaininfo") >= polls + 2 ? true : undefined),
      // The outage grew the service's retry delay (capped at 30 s): two polls can take two caps.
      75_000,
    );
    // …then its "peers" hand back the blocks and transactions the crash lost.
    await node.resupply();
    down = false;
    await load;

    // A payment the kill interrupted counts if the daemon has it.
    const received = (await chain.ours.call("listtransactions", ["*", 1000, 0, true])) as Array<{
      address: string;
      txid: string;
      category: string;
    }>;
    for (const deposit of uncertain) {
      const paid = received.find(
        (entry) => entry.category === "receive" && entry.address === deposit.address,
      );
      if (paid) deposit.txid = paid.txid;
      else app.deposits.splice(app.deposits.indexOf(deposit), 1);
    }
    expect(app.deposits.length).toBeGreaterThanOrEqual(DEPOSITS - 1);
    await chain.mine(3);
    await waitForSettled(app, receiver, 90_000);
    // That confirmations only grow is asserted separately below.
    outbox = await expectNothingLost(app, receiver, { confirmationsOnlyGrow: false });
    const ledgerTotal = (await app.ledger.walletBalance()).confirmed;
    expect(ledgerTotal).toBeGreaterThan(0n);
    expect(parseAmount(String(await chain.ours.call("getbalance")), 8)).toBe(ledgerTotal);
    expect(cameBackAt, "the crash cost the node its recent blocks").toBeLessThan(await chain.height());
  }, 240_000);

  // A node that comes back behind after a crash has not reorganised: it lost blocks it will
  // get back. The service waits for it (src/chain/behind.ts) instead of un-crediting the
  // deposits of the lost blocks and crediting them again.
  it("no deposit goes back after the crash: the node came back behind, not reorganised", () => {
    expect(outbox, "the run above completed").toBeDefined();
    expectConfirmationsOnlyGrow(outbox as OutboxRow[]);
  });
});
