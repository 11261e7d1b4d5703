/**
 * End to end over real HTTP: the simulator runs `curl` for walletnotify and blocknotify
 * into the runtime's own HTTP listeners; the runtime updates the ledger and writes events
 * to the real outbox. Deposits are followed from the mempool to final, one block at a time.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BlockConfirmationTracker, scanReceived } from "../../src/chain/index.js";
import { listTrackedNetworkTransactions } from "../../src/ledger/index.js";
import type { HttpNotifyListener } from "../../src/notify/http-listener.js";
import { type ChainEnv, expectedSequence, sats, sequences, startChainEnv } from "./support/env.js";

const notifyCommand = (dir: string, file: string, field: string) =>
  `test -f ${dir}/${file} && curl -s --max-time 5 --data "${field}=%s" "http://127.0.0.1:$(cat ${dir}/${file})/"`;

// Each test first funds the payer: 101 blocks whose walletnotify and blocknotify commands the
// simulator runs one at a time, as curls (~200): 5–10 s alone, 17–31 s on a loaded machine,
// against the 30 s default. What these tests check is correctness, not speed.
vi.setConfig({ testTimeout: 90_000 });

describe.each(["sqlite", "postgres", "mysql"] as const)("following the chain on %s", (engine) => {
  let env: ChainEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("walletnotify and blocknotify over HTTP: 0..15 confirmations, credited at 3, final at 15, balances exact", async () => {
    env = await startChainEnv({
      engine,
      simulator: (dir) => ({
        walletNotify: notifyCommand(dir, "walletnotify.port", "txid"),
        blockNotify: notifyCommand(dir, "blocknotify.port", "blockhash"),
      }),
      notify: () => ({
        walletnotify: { class: "http", ip: "127.0.0.1", port: 0 },
        blocknotify: { class: "http", ip: "127.0.0.1", port: 0 },
      }),
    });
    const { runtime, payer, sim, dir } = env;
    await runtime.start();
    const [walletListener, blockListener] = runtime.listeners.map(
      ({ listener }) => listener as HttpNotifyListener,
    );
    writeFileSync(join(dir, "walletnotify.port"), String(walletListener?.port));
    writeFileSync(join(dir, "blocknotify.port"), String(blockListener?.port));

    const ledger = runtime.ledger;
    const alice = await ledger.createAccount("alice");
    const bob = await ledger.createAccount("bob");
    const carol = await ledger.createAccount("carol");
    const addrA = (await ledger.createReceivingAddress(alice.id)).address;
    const addrB = (await ledger.createReceivingAddress(bob.id)).address;
    const addrC = (await ledger.createReceivingAddress(carol.id)).address;

    // Two of our addresses in one transaction (plus the payer's change: a foreign output),
    // and one address paid twice in separate transactions.
    const merged = String(await payer.call("sendmany", ["", { [addrA]: "1.25", [addrB]: "0.75" }]));
    const firstC = String(await payer.call("sendtoaddress", [addrC, "0.5"]));
    const secondC = String(await payer.call("sendtoaddress", [addrC, "0.30000001"]));
    await sim.notificationsIdle();
    await runtime.follower.idle();

    const afterMempool = await env.events();
    const byTxidAndAddress = (a: unknown[], b: unknown[]) =>
      JSON.stringify(a).localeCompare(JSON.stringify(b));
    expect(
      afterMempool
        .map((e) => [e.txid, e.address, e.amount, e.confirmations, e.credited])
        .sort(byTxidAndAddress),
    ).toEqual(
      [
        [merged, addrA, "1.25000000", 0, false],
        [merged, addrB, "0.75000000", 0, false],
        [firstC, addrC, "0.50000000", 0, false],
        [secondC, addrC, "0.30000001", 0, false],
      ].sort(byTxidAndAddress),
    );
    expect(await ledger.accountBalance(carol.id)).toEqual({ confirmed: 0n, unconfirmed: sats("0.80000001") });

    for (let block = 1; block <= 16; block++) {
      await env.mine(1);
      await runtime.follower.idle();
      const credited = block >= 3;
      expect(await ledger.accountBalance(alice.id)).toEqual(
        credited
          ? { confirmed: sats("1.25"), unconfirmed: 0n }
          : { confirmed: 0n, unconfirmed: sats("1.25") },
      );
      const tracked = await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
      expect(tracked.length).toBe(block >= 15 ? 0 : 3);
      if (block < 15) expect(tracked.map((ntx) => ntx.confirmations)).toEqual([block, block, block]);
    }

    const events = await env.events();
    const perTransaction = sequences(events);
    expect(perTransaction.size).toBe(4);
    for (const sequence of perTransaction.values()) expect(sequence).toEqual(expectedSequence(15, 3));
    expect(events.every((e) => e.coin_name === "btc")).toBe(true);
    expect(new Set(events.filter((e) => e.address === addrA).map((e) => e.account))).toEqual(
      new Set([alice.id]),
    );

    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("1.25"), unconfirmed: 0n });
    expect(await ledger.accountBalance(bob.id)).toEqual({ confirmed: sats("0.75"), unconfirmed: 0n });
    expect(await ledger.accountBalance(carol.id)).toEqual({ confirmed: sats("0.80000001"), unconfirmed: 0n });
    expect((await ledger.addressBalance(addrC)).confirmed).toBe(sats("0.80000001"));
    expect((await ledger.walletBalance()).confirmed).toBe(sats("2.80000001"));
    // The daemon agrees to the satoshi.
    expect(String(await env.ours.call("getbalance"))).toBe("2.80000001");

    // The payer's coinbase notifications reached us too: looked up, not ours, ignored.
    const stats = runtime.updater.stats();
    expect(stats.ignored).toBeGreaterThanOrEqual(16);
    expect(runtime.follower.status().lastError).toBeUndefined();
    expect(runtime.follower.status().lastTip?.height).toBe(101 + 16);
  });

  it("a reorg un-credits and re-credits; a double spend goes to -1 once and stops being tracked", async () => {
    env = await startChainEnv({ engine });
    const { runtime, payer } = env;
    const ledger = runtime.ledger;
    const alice = await ledger.createAccount("alice");
    const address = (await ledger.createReceivingAddress(alice.id)).address;
    const original = String(await payer.call("sendtoaddress", [address, "1.0"]));
    await runtime.scan();
    const [minedIn] = await env.mine(1);
    await runtime.tracker.tick();
    await env.mine(2);
    await runtime.tracker.tick();
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("1"), unconfirmed: 0n });

    // The block holding the deposit is invalidated: back to the mempool, un-credited.
    await payer.call("invalidateblock", [minedIn]);
    await runtime.tracker.tick();
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: 0n, unconfirmed: sats("1") });
    expect((await env.events()).at(-1)).toMatchObject({ txid: original, confirmations: 0, credited: false });

    // Reconsidered: the same chain is back and the deposit is credited again.
    await payer.call("reconsiderblock", [minedIn]);
    await runtime.tracker.tick();
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("1"), unconfirmed: 0n });
    expect((await env.events()).at(-1)).toMatchObject({ txid: original, confirmations: 3, credited: true });

    // Invalidated again, and this time the payer replaces it (RBF bumpfee): the replacement
    // is mined and the original becomes conflicted.
    await payer.call("invalidateblock", [minedIn]);
    await runtime.tracker.tick();
    const bumped = (await payer.call("bumpfee", [original])) as { txid: string };
    const replacement = String(bumped.txid);
    await env.mine(1);
    await runtime.tracker.tick();
    const daemonView = (await env.ours.call("gettransaction", [original])) as { confirmations: unknown };
    expect(Number(daemonView.confirmations)).toBe(-1);
    let events = await env.events();
    expect(events.filter((e) => e.txid === original).map((e) => [e.confirmations, e.credited])).toEqual([
      [0, false],
      [1, false],
      [3, true],
      [0, false],
      [3, true],
      [0, false],
      [-1, false],
    ]);
    // The -1 came with its txreplaced, naming the replacement (our wallet's only conflict).
    const replaced = await env.db.database.db
      .selectFrom("ca_event")
      .select("payload")
      .where("event_name", "=", "txreplaced")
      .execute();
    expect(replaced.map((row) => JSON.parse(row.payload))).toEqual([
      expect.objectContaining({ txid: original, replaced_by_txid: replacement, conflicts: [replacement] }),
    ]);
    expect(events.filter((e) => e.txid === replacement).map((e) => e.confirmations)).toEqual([1]);
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: 0n, unconfirmed: sats("1") });

    // More blocks: the daemon's number grows more negative, we fire nothing more for it…
    for (let i = 0; i < 3; i++) {
      await env.mine(1);
      await runtime.tracker.tick();
    }
    expect(
      Number(
        ((await env.ours.call("gettransaction", [original])) as { confirmations: unknown }).confirmations,
      ),
    ).toBe(-4);
    events = await env.events();
    expect(events.filter((e) => e.txid === original).length).toBe(7);
    const tracked = async () =>
      (await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx))).map((ntx) => ntx.txid);
    expect(await tracked()).toContain(original);

    // …and stop tracking it after max_confirmation_count (15) blocks conflicted.
    for (let i = 0; i < 12; i++) {
      await env.mine(1);
      await runtime.tracker.tick();
    }
    expect(await tracked()).toEqual([]);
    events = await env.events();
    expect(events.filter((e) => e.txid === original).length).toBe(7);
    expect(events.filter((e) => e.txid === replacement).map((e) => e.confirmations)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ]);
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("1"), unconfirmed: 0n });
    expect(String(await env.ours.call("getbalance"))).toBe("1.00000000");
  });

  it("the start-up scan catches up on everything since the last processed block, in batches, with progress", async () => {
    env = await startChainEnv({ engine });
    const { runtime, payer } = env;
    const ledger = runtime.ledger;
    const alice = await ledger.createAccount("alice");
    const address = (await ledger.createReceivingAddress(alice.id)).address;
    // Paid while nobody was watching: 5 old (final) deposits and 2 recent ones.
    for (let i = 0; i < 5; i++) await payer.call("sendtoaddress", [address, "0.1"]);
    await env.mine(20);
    for (let i = 0; i < 2; i++) await payer.call("sendtoaddress", [address, "0.2"]);
    await env.mine(1);

    // A tracker with tiny pages: listtransactions 3 at a time, the oldest transaction of each
    // page carried over to the next (its other outputs could be there): 2 + 3 + 2 applied.
    const batched = new BlockConfirmationTracker({
      ledger,
      backend: runtime.backend,
      sink: env.outbox,
      lock: runtime.lock,
      batchSize: 3,
      scanPageSize: 3,
    });
    const progress: Array<[string, number, number]> = [];
    const first = await scanReceived(batched, {
      onProgress: (p) => progress.push([p.phase, p.done, p.total]),
    });
    expect(first.fromBlock).toBeNull();
    expect(first.scanned).toBe(7);
    expect(first.events).toBe(7);
    expect(progress).toEqual([
      ["listing", 0, 0],
      ["applying", 2, 2],
      ["applying", 5, 5],
      ["applying", 7, 7],
      ["done", 7, 7],
    ]);
    expect(await ledger.accountBalance(alice.id)).toEqual({
      confirmed: sats("0.5"),
      unconfirmed: sats("0.4"),
    });
    const tracked = await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
    expect(tracked.length).toBe(2);

    // A second scan resumes from the block recorded by the first: nothing new, nothing re-sent.
    const again = await runtime.scan();
    expect(again.fromBlock).toBe(first.tipHash);
    expect(again.scanned).toBe(0);
    expect(again.events).toBe(0);

    // Two more blocks while "down": the scan reads only what changed and credits the recent ones.
    await env.mine(2);
    const third = await runtime.scan();
    expect(third.scanned).toBe(0);
    expect(third.advanced).toBe(2);
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("0.9"), unconfirmed: 0n });
    expect(String(await env.ours.call("getbalance"))).toBe("0.90000000");
  });
});
