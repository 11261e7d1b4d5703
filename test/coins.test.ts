import { describe, expect, it } from "vitest";
import {
  formatAmount,
  getCoin,
  isValidAddress,
  parseAmount,
  parsePositiveAmount,
  validateAddress,
} from "../src/coins/index.js";
import { InvalidAddressError, InvalidAmountError } from "../src/errors.js";

describe("amounts", () => {
  it("round-trips the largest and smallest bitcoin amounts exactly", () => {
    expect(parseAmount("20999999.99999999", 8)).toBe(2099999999999999n);
    expect(formatAmount(2099999999999999n, 8)).toBe("20999999.99999999");
    expect(parseAmount("0.00000001", 8)).toBe(1n);
    expect(formatAmount(1n, 8)).toBe("0.00000001");
    expect(formatAmount(50_000_000n, 8)).toBe("0.50000000");
    expect(formatAmount(-150_000_000n, 8)).toBe("-1.50000000");
    expect(parseAmount("-1.5", 8)).toBe(-150_000_000n);
    expect(parseAmount("7", 8)).toBe(700_000_000n);
  });

  it("rejects more decimals than the coin has, but accepts trailing zeros", () => {
    expect(() => parseAmount("0.000000001", 8)).toThrow(InvalidAmountError);
    expect(() => parseAmount("0.000000001", 8)).toThrow(/more than 8 decimal places/);
    expect(parseAmount("1.5000000000", 8)).toBe(150_000_000n);
  });

  it("rejects non-numbers and non-positive sends, naming the input", () => {
    expect(() => parseAmount("1e5", 8)).toThrow(/expected a decimal number, got "1e5"/);
    expect(() => parseAmount("", 8)).toThrow(InvalidAmountError);
    expect(() => parsePositiveAmount("0", 8)).toThrow(/greater than zero/);
    expect(() => parsePositiveAmount("-0.1", 8)).toThrow(/greater than zero/);
  });
});

describe("addresses", () => {
  const btc = getCoin("btc");
  it("accepts real addresses of each network", () => {
    expect(isValidAddress(btc, "mainnet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")).toBe(true);
    expect(isValidAddress(btc, "mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")).toBe(true);
    expect(isValidAddress(btc, "mainnet", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")).toBe(true);
    expect(
      isValidAddress(btc, "mainnet", "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"),
    ).toBe(true);
    // From the recorded Bitcoin Core regtest session.
    expect(isValidAddress(btc, "regtest", "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm")).toBe(true);
  });

  it("rejects bad checksums and other networks' addresses with a reason", () => {
    expect(() => validateAddress(btc, "mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3")).toThrow(
      InvalidAddressError,
    );
    expect(isValidAddress(btc, "regtest", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")).toBe(false);
    expect(isValidAddress(btc, "mainnet", "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm")).toBe(false);
    expect(() => validateAddress(btc, "mainnet", "not-an-address")).toThrow(/not a btc mainnet address/);
    expect(isValidAddress(getCoin("ltc"), "mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")).toBe(false);
  });

  it("knows litecoin and dogecoin", () => {
    expect(isValidAddress(getCoin("ltc"), "mainnet", "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz")).toBe(true);
    expect(isValidAddress(getCoin("doge"), "mainnet", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L")).toBe(true);
    expect(() => getCoin("xyz")).toThrow(/unknown coin "xyz"/);
  });
});
