/**
 * reconcile and import-balance on real Bitcoin Core (one regtest node for the file): the
 * scenario of test/cli/reconcile.test.ts, so getbalances' real answers (trusted change of
 * our own sends, untrusted payments, lastprocessedblock) are what the figures rest on.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, it } from "vitest";
import { type ReconcileDaemon, reconcileScenario } from "../cli/reconcile-scenario.js";
import { describeWithBitcoind, FUNDING_BLOCKS, RegtestNode } from "../support/bitcoind.js";

describeWithBitcoind("cryptoassets wallet reconcile / import-balance on real Bitcoin Core", () => {
  let node: RegtestNode | undefined;
  let daemon: ReconcileDaemon;
  const dir = mkdtempSync(join(tmpdir(), "ca-reconcile-core-"));
  beforeAll(async () => {
    node = await RegtestNode.start();
    const started = node;
    const payer = await started.createWallet("payer");
    const ours = await started.createWallet("ours");
    const payerAddress = String(await payer.call("getnewaddress"));
    const mine = async (blocks = 1) => {
      await started.mine(blocks, "payer", payerAddress);
    };
    await mine(FUNDING_BLOCKS);
    daemon = {
      url: started.url,
      payerAddress,
      ours,
      mine,
      pay: (address, amount) => started.pay("payer", address, amount),
    };
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("books the wallet's unaccounted balance once, stays balanced through a deposit and a send, and refuses when short", async () => {
    const figures = await reconcileScenario(daemon, dir);
    console.log(`[figures] reconcile on Bitcoin Core: ${JSON.stringify(figures)}`);
  }, 180_000);
});
