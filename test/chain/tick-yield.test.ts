/**
 * A large block tick on SQLite (better-sqlite3 runs every statement synchronously) lets the
 * event loop run between chunks, and nothing else uses the connection meanwhile: a query
 * issued from the loop while the tick's transaction is open waits for its commit and sees all
 * of it, never part.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { advanceToTip } from "../../src/chain/apply.js";
import { Outbox } from "../../src/events/outbox/outbox.js";
import { insertReceivingAddress } from "../../src/ledger/addresses.js";
import { Ledger, listTrackedNetworkTransactions } from "../../src/ledger/index.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

const OPEN = 1_600; // several chunks of 500
const txid = (n: number) => n.toString(16).padStart(64, "0");

let t: OpenTestDatabase;
let ledger: Ledger;
beforeAll(async () => {
  t = await openTestDatabase("sqlite");
  ledger = await Ledger.open({ database: t.database, coin: "btc", network: "regtest" });
  const account = await ledger.createAccount("shop");
  const address = await ledger.run((trx, ctx) =>
    insertReceivingAddress(trx, ctx, account.id, "bcrt1q8pu7v8y2ywjqxp5uqeszq7qv3lqt3k0vvv6g7k", null),
  );
  await ledger.run(async (trx, ctx) => {
    const now = Date.now();
    for (let i = 0; i < OPEN; i += 400) {
      const ids = await trx
        .insertInto("ca_network_transaction")
        .values(
          Array.from({ length: 400 }, (_, j) => ({
            wallet_id: ctx.walletId,
            txid: txid(i + j + 1),
            transaction_type: "deposit" as const,
            confirmations: 4,
            block_hash: txid(100_000),
            block_height: 100,
            conflicted_at_height: null,
            tracked: 1,
            fee: null,
            opened_at: null,
            closed_at: null,
            created_at: now,
            updated_at: now,
          })),
        )
        .returning("id")
        .execute();
      await trx
        .insertInto("ca_transaction")
        .values(
          ids.map(({ id }) => ({
            wallet_id: ctx.walletId,
            type: "deposit",
            state: "credited",
            amount: 1000n,
            sending_account_id: null,
            receiving_account_id: account.id,
            address_id: address.id,
            network_transaction_id: id,
            label: null,
            credited_at: now,
            processed_at: null,
            created_at: now,
            updated_at: now,
          })),
        )
        .execute();
    }
  });
});
afterAll(async () => t?.cleanup());

it("a tick moving 1,600 open transactions yields the event loop, and a query meanwhile sees all of it or none", async () => {
  const outbox = new Outbox(t.database, ["app"]);
  let turns = 0;
  let seenMeanwhile: Promise<number> | undefined;
  let running = true;
  const spin = () => {
    if (!running) return;
    turns++;
    // Issued while the tick's transaction is open: it must wait for the commit.
    seenMeanwhile ??= t.database.db
      .selectFrom("ca_event")
      .select((eb) => eb.fn.countAll<number>().as("count"))
      .executeTakeFirstOrThrow()
      .then((row) => Number(row.count));
    setImmediate(spin);
  };
  const tick = ledger.run(async (trx, ctx) => {
    setImmediate(spin);
    const open = await listTrackedNetworkTransactions(trx, ctx);
    const updates = await advanceToTip(trx, ctx, open, 104);
    await outbox.writeTxUpdates(trx, updates);
    return { updates: updates.length, turnsInside: turns };
  });
  const { updates, turnsInside } = await tick;
  running = false;
  expect(updates).toBe(OPEN);
  expect(turnsInside).toBeGreaterThan(1);
  expect(await seenMeanwhile).toBe(OPEN);
});
