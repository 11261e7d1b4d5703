/**
 * What `send` refuses before anything reaches the broadcaster (issue 10, fault 1): an amount
 * below the coin's dust limit — one such output made the daemon refuse every batch, every
 * period — and the address spellings that would make one destination two (an upper-case
 * bech32 address is the same address as its lower-case form; the daemon refuses a sendmany
 * naming both as "duplicated address").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalAddress, getCoin } from "../../src/coins/index.js";
import { configSchema } from "../../src/config/schema.js";
import { AmountBelowDustError, InvalidAddressError, InvalidAmountError } from "../../src/errors.js";
import { insertReceivingAddress } from "../../src/ledger/addresses.js";
import { applyDeposit, Ledger, listPendingSends } from "../../src/ledger/index.js";
import { ENGINES, type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

const EXTERNAL = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";
const OURS = "bcrt1q8pu7v8y2ywjqxp5uqeszq7qv3lqt3k0vvv6g7k";

describe("canonical address spelling", () => {
  const btc = getCoin("btc");
  it("an all-upper-case bech32 address of any network is lower-cased; anything else is kept", () => {
    expect(canonicalAddress(btc, EXTERNAL.toUpperCase())).toBe(EXTERNAL);
    expect(canonicalAddress(btc, "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")).toBe(
      "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    );
    expect(canonicalAddress(btc, EXTERNAL)).toBe(EXTERNAL);
    // Mixed case is not bech32 at all: left for validation to refuse, never "repaired".
    const mixed = `BCRT1Q${EXTERNAL.slice(6)}`;
    expect(canonicalAddress(btc, mixed)).toBe(mixed);
    // Base58 is case-sensitive: never touched.
    expect(canonicalAddress(btc, "MZBZKHVBEFVKS5RUNQSDQEFLGFMRFWBHGT")).toBe(
      "MZBZKHVBEFVKS5RUNQSDQEFLGFMRFWBHGT",
    );
    expect(canonicalAddress(getCoin("ltc"), "RLTC1QABC")).toBe("rltc1qabc");
  });
});

describe("coins.<coin>.dust_limit in the configuration", () => {
  const parse = (dust: unknown) =>
    configSchema.safeParse({
      database: { url: "sqlite://" },
      coins: { btc: { backend: { class: "null" }, dust_limit: dust } },
    });
  it("takes a decimal string or a plain YAML number, refuses what is not an amount", () => {
    const ok = parse("0.00001");
    expect(ok.success && ok.data.coins.btc?.dust_limit).toBe("0.00001");
    const number = parse(0.0001);
    expect(number.success && number.data.coins.btc?.dust_limit).toBe("0.0001");
    for (const bad of [1e-7, "-1", "0.000000001", "lots"]) {
      const result = parse(bad);
      expect(result.success, String(bad)).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/expected an amount in coin units/);
      expect(result.error?.issues[0]?.path).toEqual(["coins", "btc", "dust_limit"]);
    }
  });
});

describe.each(ENGINES)("send checks on %s", (engine) => {
  let t: OpenTestDatabase;
  let ledger: Ledger;
  let alice: number;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
    ledger = await Ledger.open({ database: t.database, coin: "btc", network: "regtest" });
    alice = (await ledger.createAccount("alice")).id;
    await ledger.run((trx, ctx) => insertReceivingAddress(trx, ctx, alice, OURS, null));
    await ledger.run((trx, ctx) =>
      applyDeposit(trx, ctx, {
        txid: "ab".repeat(32),
        confirmations: 3,
        blockHeight: 100,
        blockHash: "cd".repeat(32),
        receives: [{ address: OURS, amount: 100_000_000n }],
      }),
    );
  });
  afterAll(async () => t?.cleanup());

  it("an external send below the coin's dust limit is refused at send, naming the limit and its key", async () => {
    const before = await ledger.accountBalance(alice);
    const refused = ledger.send(alice, EXTERNAL, "0.00000001");
    await expect(refused).rejects.toThrow(AmountBelowDustError);
    await expect(ledger.send(alice, EXTERNAL, "0.00000545")).rejects.toMatchObject({
      code: "CA_ERR_AMOUNT_BELOW_DUST",
      message:
        "cannot send 0.00000545 btc: below the dust limit of 0.00000546 btc (coins.btc.dust_limit); the daemon refuses outputs worth less than the fee to spend them",
    });
    // Still an InvalidAmountError for code that catches those.
    await expect(ledger.send(alice, EXTERNAL, "0.00000001")).rejects.toThrow(InvalidAmountError);
    expect(await ledger.accountBalance(alice)).toEqual(before);
    expect(await ledger.run((trx, ctx) => listPendingSends(trx, ctx))).toEqual([]);
    // At the limit it is accepted.
    const id = await ledger.send(alice, EXTERNAL, "0.00000546");
    expect((await ledger.getTransaction(id)).state).toBe("pending");
    // An internal transfer never touches the chain: no dust limit.
    const bob = await ledger.createAccount("bob");
    await ledger.run((trx, ctx) =>
      insertReceivingAddress(trx, ctx, bob.id, "bcrt1qkd2fg3vsl5y9f8pk8c3e9vztn0kgsqlxwxr7hc", null),
    );
    const internal = await ledger.send(alice, "bcrt1qkd2fg3vsl5y9f8pk8c3e9vztn0kgsqlxwxr7hc", "0.00000001");
    expect((await ledger.getTransaction(internal)).type).toBe("internal");
  });

  it("the limit is configurable per coin (a decimal string as in the config, or base units)", async () => {
    const strict = await Ledger.open({
      database: t.database,
      coin: "btc",
      network: "regtest",
      dustLimit: "0.0001",
    });
    await expect(strict.send(alice, EXTERNAL, "0.00009999")).rejects.toThrow(
      /below the dust limit of 0\.00010000 btc/,
    );
    const loose = await Ledger.open({ database: t.database, coin: "btc", network: "regtest", dustLimit: 1n });
    expect(await loose.send(alice, EXTERNAL, "0.00000001")).toBeGreaterThan(0);
    expect(getCoin("ltc").dustLimit).toBe(5_460n);
    expect(getCoin("doge").dustLimit).toBe(1_000_000n);
    await expect(
      Ledger.open({ database: t.database, coin: "btc", network: "regtest", dustLimit: "0.1x" }),
    ).rejects.toThrow(/coins\.btc\.dust_limit: expected a decimal number/);
  });

  it("an upper-case bech32 address is stored and looked up in lower case: one address row, one output", async () => {
    const upper = EXTERNAL.toUpperCase();
    const first = await ledger.send(alice, upper, "0.001");
    const second = await ledger.send(alice, EXTERNAL, "0.002");
    const pending = await ledger.run((trx, ctx) => listPendingSends(trx, ctx));
    const ours = pending.filter((p) => p.id === first || p.id === second);
    expect(ours.map((p) => p.address)).toEqual([EXTERNAL, EXTERNAL]);
    const rows = await t.database.db
      .selectFrom("ca_address")
      .select("address")
      .where((eb) => eb(eb.fn("lower", ["address"]), "=", EXTERNAL))
      .execute();
    expect(rows).toEqual([{ address: EXTERNAL }]);
    // Our own receiving address in upper case: found (an internal transfer), and looked up by it.
    const bob = await ledger.getAccount("bob");
    const own = await ledger.send(bob.id, OURS.toUpperCase(), "0.00000001");
    expect((await ledger.getTransaction(own)).type).toBe("internal");
    expect((await ledger.getAccountByAddress(OURS.toUpperCase()))?.id).toBe(alice);
    expect((await ledger.addressBalance(OURS.toUpperCase())).confirmed).toBeGreaterThan(0n);
    expect(await ledger.getBalanceByConfirmations(OURS.toUpperCase(), 3)).toBe(100_000_000n);
    // Mixed case is no address: refused, never "repaired".
    await expect(ledger.send(alice, `BCRT1Q${EXTERNAL.slice(6)}`, "0.001")).rejects.toThrow(
      InvalidAddressError,
    );
  });
});
