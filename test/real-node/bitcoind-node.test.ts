/**
 * The real-node test helper itself (test/support/bitcoind.ts) against real Bitcoin Core:
 * wallets, mining, a payment, walletnotify/blocknotify commands, kill -9 and restart with
 * the wallets loaded again and nothing lost, and stop() leaving neither process nor datadir.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeWithBitcoind, FUNDING_BLOCKS, RegtestNode } from "../support/bitcoind.js";

describeWithBitcoind("a throwaway regtest bitcoind", () => {
  let node: RegtestNode | undefined;
  const logs = mkdtempSync(join(tmpdir(), "ca-bitcoind-notify-"));
  afterAll(async () => {
    await node?.stop();
    rmSync(logs, { recursive: true, force: true });
  });

  it("pays, notifies, survives kill -9 with its wallets, and stops without leftovers", async () => {
    node = await RegtestNode.start({
      walletnotify: `echo %s %w >> ${logs}/wallet.log`,
      blocknotify: `echo %s >> ${logs}/block.log`,
    });
    const payer = await node.createWallet("payer");
    const ours = await node.createWallet("ours");
    await node.mine(FUNDING_BLOCKS, "payer");
    const address = String(await ours.call("getnewaddress"));
    const txid = await node.pay("payer", address, "1.25");
    const [block] = await node.mine(1, "payer");
    expect(await node.height()).toBe(FUNDING_BLOCKS + 1);
    expect(String(await ours.call("getbalance"))).toBe("1.25000000");

    // bitcoind runs notify commands asynchronously: wait for ours (mempool + block).
    const walletLog = () =>
      existsSync(`${logs}/wallet.log`) ? readFileSync(`${logs}/wallet.log`, "utf8") : "";
    await expect.poll(() => walletLog().split(`${txid} ours`).length - 1, { timeout: 10_000 }).toBe(2);
    await expect.poll(() => readFileSync(`${logs}/block.log`, "utf8"), { timeout: 10_000 }).toContain(block);

    const pid = node.pid;
    await node.kill9();
    expect(node.running).toBe(false);
    await expect(node.rpc().call("getblockcount")).rejects.toThrow(/connection refused/);
    // Nothing was flushed: Core comes back at an older tip; restart() hands the blocks back.
    expect(await node.restart()).toBeLessThan(FUNDING_BLOCKS + 1);
    expect(node.pid).not.toBe(pid);
    expect(await node.height()).toBe(FUNDING_BLOCKS + 1);
    expect(String(await node.rpc().call("getbestblockhash"))).toBe(block);
    const deposit = (await ours.call("gettransaction", [txid])) as { confirmations: unknown };
    expect(String(deposit.confirmations)).toBe("1");
    expect(await node.rpc().call("listwallets")).toEqual(["payer", "ours"]);
    expect(String(await ours.call("getbalance"))).toBe("1.25000000");
    expect(String(await payer.call("getbalance"))).not.toBe("0.00000000");

    const datadir = node.datadir;
    const lastPid = node.pid as number;
    await node.stop();
    expect(existsSync(datadir)).toBe(false);
    expect(() => process.kill(lastPid, 0)).toThrow(); // no such process
  }, 120_000);
});
