/**
 * Sends from many accounts and from the same account, transfers, deposits crossing the credit
 * threshold and broadcasts closing with fees — eight at a time. Afterwards the books balance:
 * no user account below zero, sum of accounts = wallet balance = credited deposits − sends − fees.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotEnoughBalanceError } from "../../src/errors.js";
import {
  applyDeposit,
  closeBroadcast,
  insertReceivingAddress,
  Ledger,
  listPendingSends,
  openBroadcast,
} from "../../src/ledger/index.js";
import { ENGINES, type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

const EXTERNAL = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";
const txid = (n: number) => n.toString(16).padStart(64, "0");

describe.each(ENGINES)("concurrent money movements on %s", (engine) => {
  let t: OpenTestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine, 24);
  });
  afterAll(async () => t?.cleanup());

  it("never overdraws and keeps every balance consistent", async () => {
    const ledger = await Ledger.open({ database: t.database, coin: "btc", network: "regtest" });
    const accounts = [];
    for (let i = 0; i < 6; i++) {
      const account = await ledger.createAccount(`user-${i}`);
      const address = await ledger.run((trx, ctx) =>
        insertReceivingAddress(trx, ctx, account.id, `addr-${i}`, null),
      );
      accounts.push({ id: account.id, address: address.address });
    }
    // Every account starts with 1 BTC credited.
    for (const [i, a] of accounts.entries()) {
      await ledger.run((trx, ctx) =>
        applyDeposit(trx, ctx, {
          txid: txid(i + 1),
          confirmations: 3,
          receives: [{ address: a.address, amount: 100_000_000n }],
        }),
      );
    }
    let rejected = 0;
    const attempt = async (work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        if (!(error instanceof NotEnoughBalanceError)) throw error;
        rejected++;
      }
    };
    const work: Array<() => Promise<unknown>> = [];
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let k = 0; k < 60; k++) {
      const from = accounts[random(accounts.length)];
      const to = accounts[random(accounts.length)];
      if (!from || !to) throw new Error("unreachable: index within bounds");
      const amount = BigInt(1 + random(30_000_000));
      switch (k % 4) {
        case 0:
          work.push(() => ledger.send(from.id, EXTERNAL, amount));
          break;
        case 1:
          if (from.id !== to.id) work.push(() => ledger.transfer(from.id, to.id, amount));
          break;
        case 2:
          // A new deposit to a random account, seen and then credited.
          work.push(async () => {
            const deposit = { txid: txid(1000 + k), receives: [{ address: to.address, amount }] };
            await ledger.run((trx, ctx) => applyDeposit(trx, ctx, { ...deposit, confirmations: 0 }));
            await ledger.run((trx, ctx) => applyDeposit(trx, ctx, { ...deposit, confirmations: 3 }));
          });
          break;
        default:
          // The broadcaster picking up whatever is pending and closing it with a fee.
          work.push(async () => {
            await ledger.run(async (trx, ctx) => {
              const pending = await listPendingSends(trx, ctx);
              if (pending.length === 0) return;
              const ntx = await openBroadcast(
                trx,
                ctx,
                pending.map((p) => p.id),
              );
              await closeBroadcast(trx, ctx, ntx, txid(5000 + k), 1_000n);
            });
          });
      }
    }
    // 60 operations, 8 in flight at any time (a busy application's connection pool): the
    // database serializes them, retrying conflicts. All 60 at once on one wallet can exhaust
    // the retries on PostgreSQL — the caller then gets TransactionRetryExhaustedError.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < work.length) {
          const job = work[next++];
          if (job) await attempt(job);
        }
      }),
    );

    const all = await ledger.listAccounts();
    for (const a of all.filter((x) => x.kind === "user")) expect(a.balance).toBeGreaterThanOrEqual(0n);
    const sum = all.reduce((s, a) => s + a.balance, 0n);
    const wallet = await ledger.walletBalance();
    expect(wallet.confirmed).toBe(sum);
    let expected = 0n;
    for (const tx of await ledger.listTransactions({ limit: 100_000 })) {
      if (tx.type === "deposit" && (tx.state === "credited" || tx.state === "processed"))
        expected += tx.amount;
      if (tx.type === "broadcast" || tx.type === "network_fee") expected -= tx.amount;
    }
    expect(wallet.confirmed).toBe(expected);
    console.log(
      `[figures] ${engine}: 60 operations, 8 in flight, ${rejected} refused for balance, ${t.database.stats.retries} retries`,
    );
  }, 60_000);
});
