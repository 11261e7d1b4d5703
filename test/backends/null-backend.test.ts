import { describe, expect, it } from "vitest";
import { NullBackend, REGTEST_GENESIS_HASH } from "../../src/backends/null.js";
import { getCoin, isValidAddress } from "../../src/coins/registry.js";
import { TransactionNotFoundError, UnsupportedOperationError } from "../../src/errors.js";

describe("NullBackend", () => {
  it("hands out distinct, valid regtest addresses, the same sequence for the same seed", async () => {
    const first = new NullBackend();
    const second = new NullBackend();
    const a = [await first.getNewAddress(), await first.getNewAddress(), await first.getNewAddress("label")];
    const b = [await second.getNewAddress(), await second.getNewAddress(), await second.getNewAddress()];
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(3);
    for (const address of a) {
      expect(address.startsWith("bcrt1q")).toBe(true);
      expect(isValidAddress(getCoin("btc"), "regtest", address)).toBe(true);
      expect(await first.validateAddress(address)).toBe(true);
    }
    expect(first.issuedAddresses).toEqual(a);
  });

  it("another seed gives other addresses", async () => {
    const one = await new NullBackend({ seed: "one" }).getNewAddress();
    const two = await new NullBackend({ seed: "two" }).getNewAddress();
    expect(one).not.toBe(two);
  });

  it("uses the coin's address format: ltc bech32, doge base58", async () => {
    const ltc = await new NullBackend({ coin: "ltc" }).getNewAddress();
    expect(ltc.startsWith("rltc1q")).toBe(true);
    expect(isValidAddress(getCoin("ltc"), "regtest", ltc)).toBe(true);
    const doge = new NullBackend({ coin: "doge" });
    const dogeAddress = await doge.getNewAddress();
    expect(isValidAddress(getCoin("doge"), "regtest", dogeAddress)).toBe(true);
    expect(doge.coin).toBe("doge");
  });

  it("rejects addresses of other networks", async () => {
    const backend = new NullBackend();
    expect(await backend.validateAddress("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")).toBe(false);
    expect(await backend.validateAddress("garbage")).toBe(false);
  });

  it("knows no transactions", async () => {
    const backend = new NullBackend();
    const txid = "89741a71cd611375e8e0e4e8f398ad79d57e690de39a293cd0b1bc7464c2025d";
    const err = await backend.getTransaction(txid).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionNotFoundError);
    expect((err as TransactionNotFoundError).rpcCode).toBe(-5);
    expect((err as Error).message).toContain(txid);
    expect(await backend.getTransactions([txid])).toEqual(new Map([[txid, null]]));
    expect(await backend.listSinceBlock()).toEqual({
      transactions: [],
      removed: [],
      lastblock: REGTEST_GENESIS_HASH,
    });
    expect(await backend.getTip()).toEqual({ height: 0, hash: REGTEST_GENESIS_HASH, chain: "regtest" });
    expect(await backend.getBalances()).toEqual({
      trusted: 0n,
      untrustedPending: 0n,
      immature: 0n,
      lastProcessedBlock: undefined,
    });
  });

  it("cannot send, and says so", async () => {
    const backend = new NullBackend();
    const address = await backend.getNewAddress();
    const err = await backend.sendMany(new Map([[address, 1n]])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedOperationError);
    expect((err as Error).message).toMatch(/null backend cannot send/);
    await backend.close();
  });
});
