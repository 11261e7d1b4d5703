import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NullBackend } from "../../src/backends/null.js";
import { getCoin, isValidAddress } from "../../src/coins/index.js";
import {
  InvalidAddressError,
  InvalidAmountError,
  NotEnoughBalanceError,
  SameAccountError,
  UnknownAccountError,
} from "../../src/errors.js";
import {
  applyBroadcastConfirmations,
  applyDeposit,
  closeBroadcast,
  Ledger,
  listInterruptedBroadcasts,
  listPendingSends,
  listTrackedNetworkTransactions,
  openBroadcast,
  releaseBroadcast,
} from "../../src/ledger/index.js";
import { ENGINES, type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

const BTC = 100_000_000n;
const EXTERNAL = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";
const txid = (n: number) => n.toString(16).padStart(64, "0");
// Fixed regtest addresses used as "ours" (receiving addresses are inserted directly here;
// the chain tests get them from the simulator).
const OURS = [
  "bcrt1q8pu7v8y2ywjqxp5uqeszq7qv3lqt3k0vvv6g7k",
  "bcrt1qkd2fg3vsl5y9f8pk8c3e9vztn0kgsqlxwxr7hc",
  "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
];

async function seedAddress(ledger: Ledger, accountId: number, address: string) {
  const { insertReceivingAddress } = await import("../../src/ledger/addresses.js");
  return ledger.run((trx, ctx) => insertReceivingAddress(trx, ctx, accountId, address, null));
}

/** Credits `amount` to an account through a real deposit reaching the threshold. */
async function fund(ledger: Ledger, _accountId: number, address: string, amount: bigint, id: number) {
  await ledger.run((trx, ctx) =>
    applyDeposit(trx, ctx, {
      txid: txid(id),
      confirmations: 3,
      blockHeight: 100,
      blockHash: txid(9000 + id),
      receives: [{ address, amount }],
    }),
  );
}

describe.each(ENGINES)("ledger on %s", (engine) => {
  let t: OpenTestDatabase;
  let ledger: Ledger;
  beforeAll(async () => {
    t = await openTestDatabase(engine, 24);
    ledger = await Ledger.open({ database: t.database, coin: "btc", network: "regtest" });
  });
  afterAll(async () => t?.cleanup());

  it("wallets are get-or-create by name; accounts by id and name; a network-fee account exists", async () => {
    const again = await Ledger.open({ database: t.database, coin: "btc", network: "regtest" });
    expect(again.walletId).toBe(ledger.walletId);
    const other = await Ledger.open({ database: t.database, coin: "ltc", network: "regtest" });
    expect(other.walletId).not.toBe(ledger.walletId);
    const alice = await ledger.createAccount("alice");
    expect((await ledger.getAccount("alice")).id).toBe(alice.id);
    expect((await ledger.getAccount(alice.id)).name).toBe("alice");
    expect((await ledger.account("alice")).id).toBe(alice.id);
    expect((await ledger.getNetworkFeeAccount()).kind).toBe("network_fee");
    await expect(ledger.getAccount("nobody")).rejects.toThrow(UnknownAccountError);
    await expect(other.getAccount(alice.id)).rejects.toThrow(/no ltc account with id/);
    const names = (await ledger.listAccounts()).map((a) => a.name);
    expect(names).toContain("alice");
    expect(names).toContain("network-fee");
  });

  it("receiving addresses come from the backend, with labels and archiving", async () => {
    const withBackend = await Ledger.open({
      database: t.database,
      coin: "btc",
      network: "regtest",
      backend: new NullBackend({ coin: "btc", seed: `ledger-${engine}` }),
    });
    const acct = await withBackend.createAccount("addresses");
    const first = await withBackend.createReceivingAddress(acct.id, { label: "order 1" });
    const second = await withBackend.createReceivingAddress("addresses");
    expect(isValidAddress(getCoin("btc"), "regtest", first.address)).toBe(true);
    expect(first.address).not.toBe(second.address);
    expect(first.label).toBe("order 1");
    await withBackend.setAddressLabel(second.address, "order 2");
    await withBackend.archiveAddress(first.address);
    const listed = await withBackend.listAddresses(acct.id);
    expect(listed.map((a) => [a.label, a.archived_at !== null])).toEqual([
      ["order 1", true],
      ["order 2", false],
    ]);
    await expect(withBackend.archiveAddress(EXTERNAL)).rejects.toThrow(/not a receiving address/);
    await expect(ledger.createReceivingAddress(acct.id)).rejects.toThrow(/no backend configured/);
  });

  it("credits a deposit at the threshold, un-credits on a reorg, and reports every change", async () => {
    const acct = await ledger.createAccount("deposits");
    await seedAddress(ledger, acct.id, OURS[0] as string);
    await seedAddress(ledger, acct.id, OURS[1] as string);
    const seen = (confirmations: number, extra = {}) =>
      ledger.run((trx, ctx) =>
        applyDeposit(trx, ctx, {
          txid: txid(1),
          confirmations,
          blockHeight: confirmations > 0 ? 200 : null,
          blockHash: confirmations > 0 ? txid(777) : null,
          receives: [
            { address: OURS[0] as string, amount: 50_000_000n },
            { address: OURS[1] as string, amount: 2099999999999999n },
            { address: EXTERNAL, amount: 123n }, // change of the payer: not ours, skipped
          ],
          ...extra,
        }),
      );
    const first = await seen(0);
    expect(first).toHaveLength(2);
    expect(first[0]).toMatchObject({
      coin_name: "btc",
      transaction_type: "deposit",
      txid: txid(1),
      account: acct.id,
      address: OURS[0],
      amount: "0.50000000",
      credited: false,
      confirmations: 0,
    });
    expect(first[1]?.amount).toBe("20999999.99999999");
    expect(await seen(0)).toEqual([]); // nothing changed, nothing reported
    expect((await ledger.accountBalance(acct.id)).unconfirmed).toBe(2100000049999999n);
    await seen(1);
    await seen(2);
    expect((await ledger.accountBalance(acct.id)).confirmed).toBe(0n);
    const third = await seen(3);
    expect(third.map((u) => [u.credited, u.confirmations])).toEqual([
      [true, 3],
      [true, 3],
    ]);
    expect(await ledger.accountBalance(acct.id)).toEqual({ confirmed: 2100000049999999n, unconfirmed: 0n });
    expect((await ledger.addressBalance(OURS[0] as string)).confirmed).toBe(50_000_000n);
    // Reorg: back to the mempool — balances revert, credited flips back.
    const reorg = await seen(0);
    expect(reorg.map((u) => [u.credited, u.confirmations])).toEqual([
      [false, 0],
      [false, 0],
    ]);
    expect((await ledger.accountBalance(acct.id)).confirmed).toBe(0n);
    await seen(3);
    expect((await ledger.accountBalance(acct.id)).confirmed).toBe(2100000049999999n);
    // Final at max_confirmation_count: no longer tracked.
    await seen(15);
    const tracked = await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
    expect(tracked.find((n) => n.txid === txid(1))).toBeUndefined();
  });

  it("normalizes conflicts to -1, reports once, and stops tracking after max blocks", async () => {
    const acct = await ledger.createAccount("conflicts");
    await seedAddress(ledger, acct.id, OURS[2] as string);
    const seen = (confirmations: number, tipHeight: number) =>
      ledger.run((trx, ctx) =>
        applyDeposit(trx, ctx, {
          txid: txid(2),
          confirmations,
          tipHeight,
          receives: [{ address: OURS[2] as string, amount: 1n }],
        }),
      );
    expect((await seen(0, 300)).map((u) => u.confirmations)).toEqual([0]);
    expect((await seen(-1, 301)).map((u) => u.confirmations)).toEqual([-1]);
    expect(await seen(-2, 302)).toEqual([]); // more negative every block: no new event
    expect(await seen(-5, 305)).toEqual([]);
    let tracked = await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
    expect(tracked.some((n) => n.txid === txid(2))).toBe(true);
    await seen(-16, 316);
    tracked = await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
    expect(tracked.some((n) => n.txid === txid(2))).toBe(false);
  });

  it("transfers between accounts and refuses bad transfers with clear errors", async () => {
    const a = await ledger.createAccount("t-a");
    const b = await ledger.createAccount("t-b");
    await seedAddress(ledger, a.id, "bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0g");
    await fund(ledger, a.id, "bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0g", 3n * BTC, 3);
    await ledger.transfer(a.id, b.id, "1.25");
    expect((await ledger.accountBalance(a.id)).confirmed).toBe(175_000_000n);
    expect((await ledger.accountBalance(b.id)).confirmed).toBe(125_000_000n);
    await expect(ledger.transfer(a.id, a.id, "1")).rejects.toThrow(SameAccountError);
    await expect(ledger.transfer(a.id, b.id, "2")).rejects.toThrow(NotEnoughBalanceError);
    await expect(ledger.transfer(a.id, b.id, "2")).rejects.toThrow(
      /has 1.75000000 btc, cannot spend 2.00000000/,
    );
    await expect(ledger.transfer(a.id, b.id, "0")).rejects.toThrow(InvalidAmountError);
    await expect(ledger.transfer(a.id, b.id, "0.000000001")).rejects.toThrow(/more than 8 decimal places/);
    await expect(ledger.transfer(a.id, 999_999, "1")).rejects.toThrow(UnknownAccountError);
  });

  it("sends: validates the address, debits now, and goes pending → broadcasted with the fee booked", async () => {
    const a = await ledger.createAccount("sender");
    const funding = "bcrt1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh";
    await seedAddress(ledger, a.id, funding);
    await fund(ledger, a.id, funding, 2n * BTC, 4);
    await expect(ledger.send(a.id, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "0.1")).rejects.toThrow(
      InvalidAddressError,
    );
    await expect(ledger.send(a.id, EXTERNAL, "5")).rejects.toThrow(NotEnoughBalanceError);
    const sendId = await ledger.send(a.id, EXTERNAL, "0.5", { label: "payout" });
    expect((await ledger.accountBalance(a.id)).confirmed).toBe(150_000_000n);
    const pending = await ledger.run((trx, ctx) => listPendingSends(trx, ctx));
    expect(pending.map((p) => [p.id, p.address, p.amount])).toContainEqual([sendId, EXTERNAL, 50_000_000n]);

    // A daemon refusal releases the sends for the next period.
    const refused = await ledger.run((trx, ctx) => openBroadcast(trx, ctx, [sendId]));
    await ledger.run((trx, ctx) => releaseBroadcast(trx, ctx, refused));
    expect((await ledger.run((trx, ctx) => listPendingSends(trx, ctx))).map((p) => p.id)).toContain(sendId);

    const ntxId = await ledger.run((trx, ctx) => openBroadcast(trx, ctx, [sendId]));
    expect((await ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx))).map((n) => n.id)).toContain(
      ntxId,
    );
    await ledger.run((trx, ctx) => closeBroadcast(trx, ctx, ntxId, txid(5), 1410n));
    expect(
      (await ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx))).map((n) => n.id),
    ).not.toContain(ntxId);
    expect((await ledger.getTransaction(sendId)).state).toBe("broadcasted");
    expect((await ledger.getNetworkFeeAccount()).balance).toBe(-1410n);
    const updates = await ledger.run((trx, ctx) =>
      applyBroadcastConfirmations(trx, ctx, {
        txid: txid(5),
        confirmations: 1,
        blockHeight: 400,
        blockHash: txid(401),
      }),
    );
    expect(updates).toEqual([
      expect.objectContaining({
        transaction: sendId,
        transaction_type: "broadcast",
        account: a.id,
        address: EXTERNAL,
        amount: "0.50000000",
        confirmations: 1,
        credited: false,
      }),
    ]);
  });

  it("marks credited deposits processed, and nothing else", async () => {
    const acct = await ledger.createAccount("processing");
    const address = "bcrt1qm3d8k6xgq9s6x2a5ycvv0xfr8jzywsye2h5p9p";
    await seedAddress(ledger, acct.id, address);
    const [update] = await ledger.run((trx, ctx) =>
      applyDeposit(trx, ctx, { txid: txid(6), confirmations: 0, receives: [{ address, amount: 10n }] }),
    );
    await expect(ledger.markProcessed(update?.transaction ?? 0)).rejects.toThrow(/only credited deposits/);
    await ledger.run((trx, ctx) =>
      applyDeposit(trx, ctx, {
        txid: txid(6),
        confirmations: 3,
        blockHeight: 10,
        receives: [{ address, amount: 10n }],
      }),
    );
    await ledger.markProcessed(update?.transaction ?? 0);
    expect((await ledger.getTransaction(update?.transaction ?? 0)).state).toBe("processed");
  });

  it("20 concurrent sends of 1 BTC from 10 BTC: exactly 10 succeed, balance ends at 0", async () => {
    const rich = await ledger.createAccount("concurrent");
    const address = "bcrt1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l";
    await seedAddress(ledger, rich.id, address);
    await fund(ledger, rich.id, address, 10n * BTC, 7);
    const retriesBefore = t.database.stats.retries;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => ledger.send(rich.id, EXTERNAL, "1")),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected");
    expect(ok).toBe(10);
    expect(refused).toHaveLength(10);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(NotEnoughBalanceError);
    expect((await ledger.accountBalance(rich.id)).confirmed).toBe(0n);
    console.log(
      `[figures] ${engine}: 20 concurrent sends, retries observed: ${t.database.stats.retries - retriesBefore}`,
    );
  });

  it("keeps the books balanced: sum of accounts = wallet balance = credited deposits − sends − fees", async () => {
    const wallet = await ledger.walletBalance();
    const accounts = await ledger.listAccounts();
    const sum = accounts.reduce((s, a) => s + a.balance, 0n);
    expect(wallet.confirmed).toBe(sum);
    const txs = await ledger.listTransactions({ limit: 10_000 });
    let expected = 0n;
    for (const tx of txs) {
      if (tx.type === "deposit" && (tx.state === "credited" || tx.state === "processed"))
        expected += tx.amount;
      if (tx.type === "broadcast" || tx.type === "network_fee") expected -= tx.amount;
    }
    expect(wallet.confirmed).toBe(expected);
  });
});
