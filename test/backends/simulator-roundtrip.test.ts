/**
 * The bitcoind backend against the bundled regtest simulator over real HTTP: the same client
 * the product uses for a real daemon, exercised through a deposit, a reorg and the errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindBackend, BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { TransactionNotFoundError } from "../../src/errors.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";

let sim: Simulator;
let root: BitcoindRpcClient;
let payer: BitcoindBackend;
let ours: BitcoindBackend;
let minerAddress: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  root = new BitcoindRpcClient({ url: sim.url });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  payer = new BitcoindBackend({ url: sim.url, wallet: "payer" });
  ours = new BitcoindBackend({ url: sim.url, wallet: "ours" });
  minerAddress = await payer.getNewAddress();
  await root.call("generatetoaddress", [101, minerAddress]);
});

afterAll(async () => {
  await Promise.all([root.close(), payer.close(), ours.close()]);
  await sim.close();
});

describe("BitcoindBackend ↔ simulate-bitcoind", () => {
  it("follows a sendmany deposit from the mempool into a block, then through a reorg", async () => {
    expect(await ours.getTip()).toMatchObject({ height: 101 });
    const first = await ours.getNewAddress("alice");
    const second = await ours.getNewAddress();
    expect(await ours.validateAddress(first)).toBe(true);
    expect(await ours.validateAddress("notanaddress")).toBe(false);

    const txid = await payer.sendMany(
      new Map([
        [first, 150_000_000n],
        [second, 12_500_001n],
      ]),
    );
    const deposit = await ours.getTransaction(txid);
    expect(deposit.confirmations).toBe(0);
    expect(deposit.amount).toBe(162_500_001n);
    expect(deposit.details.map((d) => [d.address, d.amount]).sort()).toEqual(
      [
        [first, 150_000_000n],
        [second, 12_500_001n],
      ].sort(),
    );
    const sent = await payer.getTransaction(txid);
    expect(sent.fee).toBeLessThan(0n);
    expect(sent.details.every((d) => d.category === "send" && d.amount < 0n)).toBe(true);

    const all = await ours.listSinceBlock();
    expect(all.transactions.filter((e) => e.txid === txid)).toHaveLength(2);

    await root.call("generatetoaddress", [1, minerAddress]);
    const tip = await ours.getTip();
    expect(tip.height).toBe(102);
    const mined = await ours.getTransactions([txid, "00".repeat(32)]);
    expect(mined.get(txid)?.confirmations).toBe(1);
    expect(mined.get(txid)?.blockheight).toBe(102);
    expect(mined.get("00".repeat(32))).toBeNull();
    expect((await ours.getBalances()).trusted).toBe(162_500_001n);

    await root.call("invalidateblock", [tip.hash]);
    const afterReorg = await ours.listSinceBlock(tip.hash);
    expect(afterReorg.removed.some((e) => e.txid === txid)).toBe(true);
    expect(afterReorg.lastblock).not.toBe(tip.hash);
    expect((await ours.getTransaction(txid)).confirmations).toBe(0);
  });

  it("maps the simulator's not-in-wallet error like bitcoind's", async () => {
    await expect(ours.getTransaction("11".repeat(32))).rejects.toBeInstanceOf(TransactionNotFoundError);
  });
});
