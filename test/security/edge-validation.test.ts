/**
 * Bad values refused at the edge, with an error that names the key and says why: weak
 * webhook secrets, a credit threshold that credits unconfirmed deposits, and amounts the
 * ledger's 64-bit columns cannot hold (they used to fail deep in the database driver).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAmount } from "../../src/coins/amount.js";
import { parseConfig } from "../../src/config/index.js";
import { ConfigError, EventHandlerConfigError, InvalidAmountError } from "../../src/errors.js";
import { HttpEventHandler } from "../../src/events/handlers/http.js";
import { Ledger } from "../../src/ledger/index.js";
import { ENGINES, type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

const coins = { btc: { backend: { class: "null" } } };
const webhook = (secret: string) => ({
  coins,
  events: { shop: { class: "http", url: "http://127.0.0.1:9/hook", secret } },
});

function configError(input: unknown): string {
  try {
    parseConfig(input, { env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("the configuration was accepted");
}

describe("webhook secrets", () => {
  it("refuses secrets shorter than 24 bytes, naming the key, the length and how to make one", () => {
    for (const [secret, bytes] of [
      ["hunter2", 7],
      ["correct horse battery", 21],
      // whsec_ secrets count by their decoded bytes: 16 random bytes are too few.
      [`whsec_${Buffer.alloc(16, 7).toString("base64")}`, 16],
    ] as const) {
      const message = configError(webhook(secret));
      expect(message).toContain(
        `events.shop.secret: expected a webhook secret of at least 24 bytes, this one has ${bytes}`,
      );
      expect(message).toContain("openssl rand -base64 32");
      expect(message).not.toContain(secret);
      expect(() => new HttpEventHandler("shop", { url: "http://127.0.0.1:9/", secret })).toThrow(
        EventHandlerConfigError,
      );
    }
  });

  it("accepts 24 bytes and more, plain or whsec_ (by decoded length)", () => {
    for (const secret of [
      "x".repeat(24),
      `whsec_${Buffer.alloc(24, 1).toString("base64")}`,
      `whsec_${Buffer.alloc(32, 2).toString("base64")}`,
    ]) {
      expect(parseConfig(webhook(secret), { env: {} }).events.shop).toMatchObject({ secret });
      expect(() => new HttpEventHandler("shop", { url: "http://127.0.0.1:9/", secret })).not.toThrow();
    }
  });

  it("refuses a whsec_ secret that is not base64, without quoting it", () => {
    const message = configError(webhook("whsec_!!not-base64-at-all-but-long-enough"));
    expect(message).toMatch(/events\.shop\.secret: .*base64/);
    expect(message).not.toContain("not-base64-at-all");
  });
});

describe("credit_threshold", () => {
  it("must be at least 1: a deposit with no confirmation could be spent", () => {
    const message = configError({ coins: { btc: { backend: { class: "null" }, credit_threshold: 0 } } });
    expect(message).toContain("coins.btc.credit_threshold");
    expect(message).toContain("at least 1");
    expect(message).toContain("a deposit with no confirmation could be spent");
    expect(
      parseConfig({ coins: { btc: { backend: { class: "null" }, credit_threshold: 1 } } }, { env: {} }).coins
        .btc?.credit_threshold,
    ).toBe(1);
  });
});

describe("amounts beyond the 64-bit range", () => {
  const MAX = 2n ** 63n - 1n;

  it("parseAmount refuses them with InvalidAmountError", () => {
    expect(parseAmount("92233720368.54775807", 8)).toBe(MAX);
    expect(() => parseAmount("92233720368.54775808", 8)).toThrow(InvalidAmountError);
    expect(() => parseAmount("-92233720368.54775809", 8)).toThrow(/64-bit/);
    expect(() => parseAmount("1".repeat(400), 8)).toThrow(/64-bit/);
  });

  describe.each(ENGINES)("the ledger on %s", (engine) => {
    let t: OpenTestDatabase;
    let ledger: Ledger;
    beforeAll(async () => {
      t = await openTestDatabase(engine);
      ledger = await Ledger.open({ database: t.database, coin: "btc", network: "regtest" });
    });
    afterAll(async () => t?.cleanup());

    it("refuses them before the database sees them", async () => {
      const from = await ledger.createAccount("from");
      const to = await ledger.createAccount("to");
      for (const amount of [2n ** 63n, 2n ** 64n + 5n, "92233720368.54775808", "1000000000000000000000"]) {
        await expect(ledger.transfer(from.id, to.id, amount)).rejects.toThrow(InvalidAmountError);
        await expect(
          ledger.send(from.id, "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm", amount),
        ).rejects.toThrow(/64-bit/);
      }
      // In range but more than the balance: the ordinary refusal, so the check above is the range.
      await expect(ledger.transfer(from.id, to.id, MAX)).rejects.toThrow(/cannot spend/);
    });
  });
});
