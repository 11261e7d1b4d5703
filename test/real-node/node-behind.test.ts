/**
 * A node that comes back BEHIND after kill -9 is not a reorg (src/chain/behind.ts), proven
 * on real Bitcoin Core with the production composition (CoinRuntime on an SQLite file):
 * after the crash the node's tip is below our last processed block and its wallet shows
 * the deposits of the lost blocks as unconfirmed. The tracker, the walletnotify updater and
 * the re-check all wait instead of un-crediting; once the lost blocks come back (as peers
 * would send them) confirmations only grow. Then a real reorg (invalidateblock, the block
 * known to the node but off its chain) still un-credits at once, and reconsiderblock
 * credits again.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseAmount } from "../../src/coins/amount.js";
import { Outbox } from "../../src/events/outbox/outbox.js";
import type { TxUpdateData } from "../../src/events/types.js";
import { CoinRuntime } from "../../src/service/coin-runtime.js";
import { describeWithBitcoind, FUNDING_BLOCKS, RegtestNode } from "../support/bitcoind.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

const btc = (text: string) => parseAmount(text, 8);

describeWithBitcoind("a node behind after kill -9 is waited for; a real reorg still un-credits", () => {
  let node: RegtestNode | undefined;
  let db: OpenTestDatabase | undefined;
  let runtime: CoinRuntime | undefined;

  beforeAll(async () => {
    node = await RegtestNode.start();
    await node.createWallet("payer");
    await node.createWallet("ours");
    await node.mine(FUNDING_BLOCKS, "payer");
    db = await openTestDatabase("sqlite");
    const { database } = db;
    runtime = await CoinRuntime.open({
      name: "btc",
      coin: {
        network: "regtest",
        credit_threshold: 3,
        max_confirmation_count: 15,
        backend: { class: "bitcoind", url: node.url, wallet: "ours", timeout: 30 },
      },
      // No timers: the test drives every path itself.
      service: { poll_period: 3600, recheck_period: 0, broadcast_period: 3600 },
      database,
      sink: new Outbox(database, ["test"]),
    });
  }, 90_000);

  afterAll(async () => {
    await runtime?.close();
    await db?.cleanup();
    await node?.stop();
  });

  async function events(): Promise<TxUpdateData[]> {
    const rows = await (db as OpenTestDatabase).database.db
      .selectFrom("ca_event")
      .select(["payload"])
      .orderBy("id")
      .execute();
    return rows.map((row) => JSON.parse(row.payload) as TxUpdateData);
  }

  function confirmationsOf(all: readonly TxUpdateData[], txid: string): number[] {
    return all.filter((event) => event.txid === txid).map((event) => event.confirmations);
  }

  it("waits while the node is behind, then only counts up; a real reorg un-credits and re-credits", async () => {
    const chain = node as RegtestNode;
    const { ledger, tracker, updater, rechecker } = runtime as CoinRuntime;
    await tracker.tick({ force: true });
    const alice = await ledger.createAccount("alice");
    const bob = await ledger.createAccount("bob");
    const early = await chain.pay("payer", (await ledger.createReceivingAddress(alice.id)).address, "0.5");
    await chain.mine(1, "payer");
    // Flushed: the block with the first deposit survives the crash, the later ones do not.
    await chain.flush();
    const late = await chain.pay("payer", (await ledger.createReceivingAddress(bob.id)).address, "0.25");
    const [lateBlock] = await chain.mine(3, "payer");
    await tracker.tick();
    expect((await ledger.accountBalance(alice.id)).confirmed).toBe(btc("0.5"));
    expect((await ledger.accountBalance(bob.id)).confirmed).toBe(btc("0.25"));
    const top = await chain.height();
    const before = (await events()).length;

    await chain.kill9();
    const cameBackAt = await chain.restart({ resupply: false });
    expect(cameBackAt, "the crash cost the node its unflushed blocks").toBeLessThan(top);
    const lost = (await chain.rpc("ours").call("gettransaction", [late])) as { confirmations: unknown };
    expect(String(lost.confirmations), "the wallet shows the lost block's deposit unconfirmed").toBe("0");

    // Every path meets the node behind: none un-credits, none writes an event.
    expect((await tracker.tick()).processed).toBe(false);
    expect((await updater.update(late)).status).toBe("unchanged");
    expect((await updater.update(early)).status).toBe("unchanged");
    expect((await rechecker.recheck()).updates).toEqual([]);
    expect((await tracker.tick({ force: true })).processed).toBe(false);
    expect((await events()).length).toBe(before);
    expect((await ledger.accountBalance(alice.id)).confirmed).toBe(btc("0.5"));
    expect((await ledger.accountBalance(bob.id)).confirmed).toBe(btc("0.25"));

    // Its peers hand the blocks back: counting goes on upwards.
    await chain.resupply();
    await chain.mine(1, "payer");
    expect((await tracker.tick()).processed).toBe(true);
    const afterCrash = await events();
    for (const txid of [early, late]) {
      const seen = confirmationsOf(afterCrash, txid);
      expect(seen, `confirmations of ${txid} only grow`).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).toBe(seen.length);
    }
    expect(confirmationsOf(afterCrash, late).at(-1)).toBe(4);

    // A real reorg: the node knows the block but left it. The walletnotify path applies it
    // at once, and so does the tracker for the rest.
    await chain.rpc().call("invalidateblock", [lateBlock]);
    const reorged = await updater.update(late);
    expect(reorged.status).toBe("updated");
    expect((await ledger.accountBalance(bob.id)).confirmed).toBe(0n);
    expect((await tracker.tick()).processed).toBe(true);
    expect(confirmationsOf(await events(), late).at(-1)).toBe(0);
    expect((await ledger.accountBalance(alice.id)).confirmed).toBe(0n); // 1 confirmation left

    await chain.rpc().call("reconsiderblock", [lateBlock]);
    expect((await tracker.tick()).processed).toBe(true);
    expect((await ledger.accountBalance(alice.id)).confirmed).toBe(btc("0.5"));
    expect((await ledger.accountBalance(bob.id)).confirmed).toBe(btc("0.25"));
    expect(confirmationsOf(await events(), late).at(-1)).toBe(4);
  }, 120_000);
});
