/**
 * The walletnotify path in detail: txids that are not ours, repeated notifications, and the
 * original's per-transaction polling strategy (kept for comparison) following a deposit.
 */
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import type { BitcoindBackend } from "../../src/backends/bitcoind/index.js";
import { ChainFollower } from "../../src/chain/index.js";
import { findNetworkTransaction } from "../../src/ledger/index.js";
import { waitFor } from "../support/wait.js";
import { type ChainEnv, sats, startChainEnv } from "./support/env.js";

describe.each(["sqlite", "postgres", "mysql"] as const)("transaction updater on %s", (engine) => {
  let env: ChainEnv | undefined;
  let follower: ChainFollower | undefined;
  afterEach(async () => {
    await follower?.stop();
    await env?.close();
    env = undefined;
    follower = undefined;
  });

  it("ignores txids that are not ours, applies ours once, and coalesces repeated notifications", async () => {
    env = await startChainEnv({ engine });
    const { runtime, payer, ours } = env;
    const alice = await runtime.ledger.createAccount("alice");
    const address = (await runtime.ledger.createReceivingAddress(alice.id)).address;

    // Not in the daemon's wallet at all.
    expect(await runtime.updater.update("ab".repeat(32))).toEqual({
      status: "ignored",
      txid: "ab".repeat(32),
      reason: "not a transaction of this wallet",
    });
    // In the daemon's wallet, but to an address the ledger never handed out.
    const stray = String(
      await payer.call("sendtoaddress", [String(await ours.call("getnewaddress")), "0.1"]),
    );
    expect(await runtime.updater.update(stray)).toMatchObject({
      status: "ignored",
      reason: "touches no address of ours",
    });

    const txid = String(await payer.call("sendtoaddress", [address, "0.3"]));
    const first = await runtime.updater.update(txid);
    expect(first.status).toBe("updated");
    expect(await runtime.updater.update(txid)).toEqual({ status: "unchanged", txid });

    // bitcoind notifies the same txid many times; the queue runs it at most twice more.
    await env.mine(1);
    const before = runtime.updater.stats().notifications;
    for (let i = 0; i < 50; i++) runtime.follower.walletNotify(txid);
    await runtime.follower.idle();
    expect(runtime.updater.stats().notifications - before).toBeLessThanOrEqual(2);
    expect((await env.events()).map((e) => [e.txid, e.confirmations])).toEqual([
      [txid, 0],
      [txid, 1],
    ]);
    expect(
      await env.runtime.ledger.run((trx, ctx) => findNetworkTransaction(trx, ctx, stray, "deposit")),
    ).toBeUndefined();
    expect(runtime.updater.stats()).toMatchObject({ ignored: 2, events: 2 });
  });

  it("the poll strategy follows confirmations with one gettransaction per open transaction", async () => {
    env = await startChainEnv({ engine });
    const { runtime, payer } = env;
    const alice = await runtime.ledger.createAccount("alice");
    const address = (await runtime.ledger.createReceivingAddress(alice.id)).address;
    follower = new ChainFollower({
      updater: runtime.updater,
      tracker: runtime.tracker,
      rechecker: runtime.rechecker,
      poller: runtime.poller,
      strategy: "poll",
      pollPeriodMs: 50,
      scanOnStart: false,
    });
    await follower.start();
    const txid = String(await payer.call("sendtoaddress", [address, "0.25"]));
    follower.walletNotify(txid);
    await follower.idle();
    for (let block = 1; block <= 3; block++) {
      await env.mine(1);
      await waitFor(
        `confirmation ${block} by polling`,
        async () =>
          (await runtime.ledger.run((trx, ctx) => findNetworkTransaction(trx, ctx, txid, "deposit")))
            ?.confirmations === block,
        10_000,
        20,
      );
    }
    expect(await runtime.ledger.accountBalance(alice.id)).toEqual({
      confirmed: sats("0.25"),
      unconfirmed: 0n,
    });
    expect((await env.events()).map((e) => [e.confirmations, e.credited])).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, true],
    ]);
    // The block tracker never ran: polling alone did it.
    expect(runtime.tracker.lastTip).toBeUndefined();
    expect(follower.status()).toMatchObject({ strategy: "poll", lastError: undefined });
    expect(follower.status().ticks).toBeGreaterThanOrEqual(3);
  });

  it("commits txids that arrive together as one batch: one gettransaction request, one transaction", async () => {
    // A cap below the 42 txids, to see it split them (the default, 256, would take them at once).
    env = await startChainEnv({ engine, service: { update_batch_size: 32 } });
    const { runtime, payer, ours } = env;
    const alice = await runtime.ledger.createAccount("alice");
    const addresses: string[] = [];
    for (let i = 0; i < 5; i++)
      addresses.push((await runtime.ledger.createReceivingAddress(alice.id)).address);
    const deposits: string[] = [];
    for (let i = 0; i < 40; i++) {
      deposits.push(String(await payer.call("sendtoaddress", [addresses[i % 5], "0.01"])));
    }
    const stray = String(
      await payer.call("sendtoaddress", [String(await ours.call("getnewaddress")), "0.1"]),
    );
    const before = runtime.updater.stats();
    const backend = runtime.backend as BitcoindBackend;
    backend.resetRpcStats();

    const outcomes = await Promise.all(
      [...deposits, stray, "cd".repeat(32)].map((txid) => runtime.updater.update(txid)),
    );
    expect(outcomes.filter((o) => o.status === "updated").map((o) => o.txid)).toEqual(deposits);
    expect(outcomes.slice(40).map((o) => o.status)).toEqual(["ignored", "ignored"]);
    const after = runtime.updater.stats();
    // 42 txids: batches of at most 32, so 2 database transactions and 2 batched RPC requests.
    expect(after.notifications - before.notifications).toBe(42);
    expect(after.batches - before.batches).toBe(2);
    expect(backend.rpcStats()).toMatchObject({ requests: 2, calls: { gettransaction: 42 } });
    const events = await env.events();
    expect(new Set(events.map((e) => e.txid))).toEqual(new Set(deposits));
    expect(events.every((e) => e.confirmations === 0 && e.amount === "0.01000000")).toBe(true);
    expect((await runtime.ledger.accountBalance(alice.id)).unconfirmed).toBe(sats("0.4"));
  });
});

describe("group commit with a transaction the database refuses", () => {
  let env: ChainEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("falls back to one transaction per txid: only the refused one fails, the rest commit", async () => {
    env = await startChainEnv({ engine: "sqlite" });
    const { runtime, payer } = env;
    const alice = await runtime.ledger.createAccount("alice");
    const address = (await runtime.ledger.createReceivingAddress(alice.id)).address;
    const txids: string[] = [];
    for (let i = 0; i < 10; i++) txids.push(String(await payer.call("sendtoaddress", [address, "0.02"])));
    const poisoned = txids[4] as string;
    // A real failure inside the batch's transaction: the database itself rejects one row.
    await sql
      .raw(
        `create trigger poison before insert on ca_network_transaction when new.txid = '${poisoned}' begin select raise(abort, 'poisoned row'); end`,
      )
      .execute(env.db.database.db);

    const results = await Promise.allSettled(txids.map((txid) => runtime.updater.update(txid)));
    const rejected = results.flatMap((r, i) =>
      r.status === "rejected" ? [[txids[i], String(r.reason)]] : [],
    );
    expect(rejected).toEqual([[poisoned, expect.stringMatching(/poisoned row/)]]);
    const committed = new Set((await env.events()).map((e) => e.txid));
    expect(committed).toEqual(new Set(txids.filter((t) => t !== poisoned)));
    // One failed batch, then one transaction per txid.
    expect(runtime.updater.stats()).toMatchObject({ notifications: 10, updated: 9, batches: 11 });
  });
});
