/**
 * What the original's models offered an application, on every engine: the balance an
 * address received at N confirmations, the account of an address, the deposits of an
 * account, balances recomputed from transactions, labels, and `send` to an address of the
 * same wallet becoming an internal transfer without a network fee unless forceExternal.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerStateError, SameAccountError, UnknownTransactionError } from "../../src/errors.js";
import { applyDeposit, insertReceivingAddress, Ledger, listPendingSends } from "../../src/ledger/index.js";
import { ENGINES, type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

const BTC = 100_000_000n;
const EXTERNAL = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";
// Valid regtest addresses (P2WPKH of 20 bytes of 1s and 2s), taken as ours.
const ALICE = "bcrt1qqyqszqgpqyqszqgpqyqszqgpqyqszqgpvxat9t";
const BOB = "bcrt1qqgpqyqszqgpqyqszqgpqyqszqgpqyqszazmwwa";
const txid = (n: number) => n.toString(16).padStart(64, "0");

describe.each(ENGINES)("ledger API parity with the original on %s", (engine) => {
  let t: OpenTestDatabase;
  let ledger: Ledger;
  let alice: number;
  let bob: number;
  const deposit = (n: number, address: string, amount: bigint, confirmations: number) =>
    ledger.run((trx, ctx) =>
      applyDeposit(trx, ctx, {
        txid: txid(n),
        confirmations,
        blockHeight: confirmations > 0 ? 200 - confirmations : undefined,
        blockHash: confirmations > 0 ? txid(9000 + n) : undefined,
        receives: [{ address, amount }],
      }),
    );

  beforeAll(async () => {
    t = await openTestDatabase(engine, 25);
    ledger = await Ledger.open({ database: t.database, coin: "btc", network: "regtest" });
    alice = (await ledger.createAccount("alice")).id;
    bob = (await ledger.createAccount("bob")).id;
    await ledger.run((trx, ctx) => insertReceivingAddress(trx, ctx, alice, ALICE, null));
    await ledger.run((trx, ctx) => insertReceivingAddress(trx, ctx, bob, BOB, null));
    await deposit(1, ALICE, 2n * BTC, 5); // credited (threshold 3)
    await deposit(2, ALICE, BTC / 2n, 0); // mempool
    await deposit(3, BOB, BTC, 1); // seen, not credited
  });
  afterAll(async () => t?.cleanup());

  it("getBalanceByConfirmations: all received by an address at N confirmations", async () => {
    expect(await ledger.getBalanceByConfirmations(ALICE)).toBe(2n * BTC + BTC / 2n);
    expect(await ledger.getBalanceByConfirmations(ALICE, 1)).toBe(2n * BTC);
    expect(await ledger.getBalanceByConfirmations(ALICE, 5)).toBe(2n * BTC);
    expect(await ledger.getBalanceByConfirmations(ALICE, 6)).toBe(0n);
    expect(await ledger.getBalanceByConfirmations(EXTERNAL)).toBe(0n);
    await expect(ledger.getBalanceByConfirmations(ALICE, -1)).rejects.toThrow(LedgerStateError);
  });

  it("getAccountByAddress: the owner of a receiving address, nothing for others", async () => {
    expect(await ledger.getAccountByAddress(BOB)).toMatchObject({ id: bob, name: "bob" });
    expect(await ledger.getAccountByAddress(EXTERNAL)).toBeUndefined();
  });

  it("listDeposits: of one account, and only those not credited yet", async () => {
    const ofAlice = await ledger.listDeposits({ accountId: alice });
    expect(ofAlice.map((d) => [d.txid, d.amount, d.confirmations, d.state, d.address])).toEqual([
      [txid(2), BTC / 2n, 0, "incoming", ALICE],
      [txid(1), 2n * BTC, 5, "credited", ALICE],
    ]);
    const open = await ledger.listDeposits({ uncredited: true });
    expect(open.map((d) => d.txid)).toEqual([txid(3), txid(2)]);
  });

  it("labels any transaction, deposits included", async () => {
    const [first] = await ledger.listDeposits({ accountId: bob });
    await ledger.setTransactionLabel(first?.id as number, "invoice 17");
    expect((await ledger.getTransaction(first?.id as number)).label).toBe("invoice 17");
    await ledger.setTransactionLabel(first?.id as number, null);
    expect((await ledger.getTransaction(first?.id as number)).label).toBeNull();
    await expect(ledger.setTransactionLabel(first?.id as number, "x".repeat(256))).rejects.toThrow(
      /at most 255 characters/,
    );
    await expect(ledger.setTransactionLabel(999_999, "x")).rejects.toThrow(UnknownTransactionError);
  });

  it("send to an address of the same wallet is an internal transfer without a network fee", async () => {
    const feeBefore = (await ledger.getNetworkFeeAccount()).balance;
    const id = await ledger.send(alice, BOB, "0.25", { label: "to bob" });
    expect(await ledger.getTransaction(id)).toMatchObject({
      type: "internal",
      state: "done",
      amount: BTC / 4n,
      sending_account_id: alice,
      receiving_account_id: bob,
      label: "to bob",
    });
    expect((await ledger.accountBalance(bob)).confirmed).toBe(BTC / 4n);
    expect((await ledger.accountBalance(alice)).confirmed).toBe(2n * BTC - BTC / 4n);
    expect(await ledger.run((trx, ctx) => listPendingSends(trx, ctx))).toEqual([]);
    expect((await ledger.getNetworkFeeAccount()).balance).toBe(feeBefore);
    // To one's own address: the original's SameAccount.
    await expect(ledger.send(alice, ALICE, "0.1")).rejects.toThrow(SameAccountError);
  });

  it("forceExternal pays an address of the same wallet through the network", async () => {
    const id = await ledger.send(alice, BOB, "0.1", { forceExternal: true });
    expect(await ledger.getTransaction(id)).toMatchObject({ type: "broadcast", state: "pending" });
    const pending = await ledger.run((trx, ctx) => listPendingSends(trx, ctx));
    expect(pending.map((p) => [p.id, p.address, p.amount])).toEqual([[id, BOB, BTC / 10n]]);
  });

  it("recomputeBalances: every account matches its transactions, and a hand edit shows", async () => {
    const checks = await ledger.recomputeBalances();
    expect(checks.map((c) => [c.account.name, c.stored, c.difference])).toEqual([
      ["network-fee", 0n, 0n],
      ["alice", 2n * BTC - BTC / 4n - BTC / 10n, 0n],
      ["bob", BTC / 4n, 0n],
    ]);
    await t.database.db.updateTable("ca_account").set({ balance: 7n }).where("id", "=", bob).execute();
    expect(await ledger.recomputeBalances(bob)).toEqual([
      {
        account: { id: bob, name: "bob", kind: "user" },
        stored: 7n,
        computed: BTC / 4n,
        difference: 7n - BTC / 4n,
      },
    ]);
  });
});
