/**
 * A block tick moves the open transactions in transactions of `batchSize`, each committing
 * its own txupdates, and records the tip only in the last. A failure between two (here the
 * second chunk's transaction dies before its commit, as in a crash) leaves some moved and
 * the tip unrecorded; the next tick moves the rest, and each deposit gets each txupdate
 * exactly once, in order, with balances exact.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BlockConfirmationTracker, type TxUpdateSink } from "../../src/chain/index.js";
import type { Trx } from "../../src/db/serializable.js";
import type { NewEvent } from "../../src/events/outbox/write-events.js";
import type { TxUpdateData } from "../../src/events/types.js";
import { getChainState, listTrackedNetworkTransactions } from "../../src/ledger/index.js";
import { type ChainEnv, sats, sequences, startChainEnv } from "./support/env.js";

const DEPOSITS = 7;
const BATCH = 3; // chunks of 3, 3 and 1

/** The outbox, except that the `failOn`-th transaction writing txupdates throws before its commit. */
class FailingSink implements TxUpdateSink {
  calls = 0;
  constructor(
    readonly inner: TxUpdateSink,
    readonly failOn: number,
  ) {}
  async writeTxUpdates(trx: Trx, updates: readonly TxUpdateData[]): Promise<unknown> {
    this.calls++;
    if (this.calls === this.failOn) throw new Error("crash between chunks");
    return this.inner.writeTxUpdates(trx, updates);
  }
  write(trx: Trx, events: readonly NewEvent[]): Promise<unknown> {
    return this.inner.write(trx, events);
  }
  notifyCommitted(): void {
    this.inner.notifyCommitted();
  }
}

/** A chain env whose ledger holds `count` deposits to alice at 1 confirmation, the tip recorded. */
async function withOpenDeposits(engine: "sqlite" | "postgres" | "mysql", count: number) {
  const env = await startChainEnv({ engine });
  const ledger = env.runtime.ledger;
  const alice = await ledger.createAccount("alice");
  const address = (await ledger.createReceivingAddress(alice.id)).address;
  for (let i = 0; i < count; i++) await env.payer.call("sendtoaddress", [address, "0.1"]);
  await env.mine(1);
  await env.runtime.scan();
  return { env, ledger, alice };
}

/** The wallet's block tracker writing through `sink`, in transactions of `batchSize`. */
function trackerOf(env: ChainEnv, sink: TxUpdateSink, batchSize: number): BlockConfirmationTracker {
  const { runtime } = env;
  return new BlockConfirmationTracker({
    ledger: runtime.ledger,
    backend: runtime.backend,
    sink,
    lock: runtime.lock,
    batchSize,
  });
}

describe.each(["sqlite", "postgres", "mysql"] as const)("a tick in chunks on %s", (engine) => {
  let env: ChainEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("a failure between chunks leaves the tip unrecorded; the next tick finishes it without a duplicate event", async () => {
    const opened = await withOpenDeposits(engine, DEPOSITS); // all 7 at 1 confirmation, tip recorded
    env = opened.env;
    const { ledger, alice } = opened;
    const before = await ledger.run((trx, ctx) => getChainState(trx, ctx));
    await env.mine(2); // 3 confirmations: each deposit is credited by the tick

    const chainEnv = env;
    const tracker = (sink: TxUpdateSink) => trackerOf(chainEnv, sink, BATCH);
    const failing = new FailingSink(env.outbox, 2);
    await expect(tracker(failing).tick()).rejects.toThrow("crash between chunks");
    expect(failing.calls).toBe(2);

    // The first chunk committed, with its events; the others did not; the tip is not recorded.
    const open = () => ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
    expect((await open()).map((ntx) => ntx.confirmations)).toEqual([3, 3, 3, 1, 1, 1, 1]);
    expect(await ledger.run((trx, ctx) => getChainState(trx, ctx))).toEqual(before);
    expect(await ledger.accountBalance(alice.id)).toEqual({
      confirmed: sats("0.3"),
      unconfirmed: sats("0.4"),
    });
    expect((await env.events()).filter((e) => e.confirmations === 3)).toHaveLength(BATCH);

    const again = await tracker(env.outbox).tick();
    expect(again.advanced).toBe(DEPOSITS);
    expect(again.events).toBe(DEPOSITS - BATCH);
    expect((await open()).map((ntx) => ntx.confirmations)).toEqual(Array(DEPOSITS).fill(3));
    expect(await ledger.run((trx, ctx) => getChainState(trx, ctx))).toEqual({
      lastBlockHash: again.tip.hash,
      lastBlockHeight: again.tip.height,
    });
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("0.7"), unconfirmed: 0n });
    const perTransaction = sequences(await env.events());
    expect(perTransaction.size).toBe(DEPOSITS);
    for (const sequence of perTransaction.values())
      expect(sequence).toEqual([
        [1, false],
        [3, true],
      ]);

    // A tick at the same tip changes nothing and writes nothing.
    const idle = await tracker(env.outbox).tick({ force: true });
    expect(idle.events).toBe(0);
  });

  it("a last page that is full records the tip itself: no transaction more than the pages", async () => {
    const opened = await withOpenDeposits(engine, 6);
    const chainEnv = opened.env;
    env = chainEnv;
    const { ledger } = opened;
    const { stats } = ledger.database;
    /** Database transactions (attempts) of one tick after one more block, in pages of `batchSize`. */
    const tickCost = async (batchSize: number) => {
      await chainEnv.mine(1);
      const before = stats.transactions;
      const result = await trackerOf(chainEnv, chainEnv.outbox, batchSize).tick();
      expect(result.advanced).toBe(6);
      return stats.transactions - before;
    };
    // Six open transactions: one page of 7, and one page of exactly 6, cost the same.
    const oneRoomyPage = await tickCost(7);
    expect(await tickCost(6)).toBe(oneRoomyPage);
    // Pages of 3: two, one more than a single page.
    expect(await tickCost(3)).toBe(oneRoomyPage + 1);
    expect(await ledger.run((trx, ctx) => getChainState(trx, ctx))).toMatchObject({
      lastBlockHeight: (await chainEnv.runtime.backend.getTip()).height,
    });
  });
});
