/**
 * The scenario scripts of the real-node suite. Each runs against a ScenarioEnv (real Core or
 * the simulator, the real helper-service CLI in front of it), asserts what a correct service
 * does through the ledger rows, the delivered txupdates and the daemon, and leaves every
 * transaction it made final (no longer tracked), so the next scenario starts clean. They
 * run in this order in one world; the double spend goes last (a conflicted transaction is
 * watched for max_confirmation_count blocks, which the other scenarios need not wait for).
 */
import { LosslessNumber } from "lossless-json";
import { expect } from "vitest";
import { parseAmount } from "../../../src/coins/amount.js";
import type { TxUpdateData } from "../../../src/events/types.js";
import { CREDIT_THRESHOLD } from "../../faults/support/external-service.js";
import { waitFor } from "../../support/wait.js";
import type { ScenarioRun } from "./scenario-run.js";

export interface Scenario {
  /** Short and unique: prefixes the scenario's account names. */
  id: string;
  name: string;
  run(run: ScenarioRun): Promise<void>;
}

const FINAL = 15;
const btc = (amount: string) => parseAmount(amount, 8);
const confirmationsOf = (events: TxUpdateData[]) => events.map((event) => event.confirmations);
const upTo = (n: number) => [...Array(n + 1).keys()];

/** One transaction's txupdates from the mempool to final (0…15), each carrying `fields`. */
function expectMempoolToFinal(events: TxUpdateData[], fields: Partial<TxUpdateData>): void {
  expect(confirmationsOf(events)).toEqual(upTo(FINAL));
  for (const event of events) expect(event).toMatchObject(fields);
}

async function daemonTransaction(run: ScenarioRun, txid: string, wallet: "ours" | "payer" = "ours") {
  const client = wallet === "ours" ? run.chain.ours : run.chain.payer;
  const tx = (await client.call("gettransaction", [txid])) as Record<string, unknown>;
  return { confirmations: Number(String(tx.confirmations)), amount: String(tx.amount), fee: tx.fee };
}

/** A fresh account and address paid `amount` by the payer, its mempool event delivered. */
async function paidAccount(run: ScenarioRun, name: string, amount: string, txName = "payment") {
  const account = await run.account(name);
  const address = await run.address(account, name);
  const txid = await run.pay(address, amount, txName);
  await run.waitForEvent(`the mempool event of ${name}`, address, (e) => e.confirmations === 0);
  await run.settle();
  return { account, address, txid };
}

/** A credited deposit to a fresh account, for the scenarios that send. */
async function fundedAccount(run: ScenarioRun, name: string, amount: string): Promise<number> {
  const { account } = await paidAccount(run, name, amount, `${name}-funding`);
  await run.mine(CREDIT_THRESHOLD);
  expect((await run.ledger.accountBalance(account)).confirmed).toBe(btc(amount));
  return account;
}

/** Waits until the broadcast carrying the sends of `account` is closed; returns its row. */
async function closedBroadcast(run: ScenarioRun, account: number, sends: number) {
  return waitFor(
    "the broadcast closed with its txid",
    async () => {
      const rows = (await run.rows()).filter(
        (row) => row.type === "broadcast" && row.sending_account_id === account,
      );
      return rows.length === sends && rows.every((row) => row.txid && row.closed_at !== null)
        ? rows
        : undefined;
    },
    45_000,
  );
}

export const deposit0to15: Scenario = {
  id: "deposit",
  name: "deposit 0→15, credited at 3, final after",
  async run(run) {
    const { account: alice, address, txid } = await paidAccount(run, "alice", "0.25");
    await run.mine(FINAL);
    await run.mine(1); // final: no event for confirmation 16

    const events = run.events(address);
    expectMempoolToFinal(events, { txid, account: alice, amount: "0.25000000", transaction_type: "deposit" });
    expect(events.map((e) => e.credited)).toEqual(upTo(FINAL).map((n) => n >= CREDIT_THRESHOLD));
    const [row, ...more] = await run.rows();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: "deposit", state: "credited", txid, confirmations: FINAL, tracked: 0 });
    expect(await run.ledger.accountBalance(alice)).toMatchObject({ confirmed: btc("0.25") });
    expect(await daemonTransaction(run, txid)).toMatchObject({
      confirmations: FINAL + 1,
      amount: "0.25000000",
    });
  },
};

export const twoAddressesOneTransaction: Scenario = {
  id: "two-addresses",
  name: "one transaction paying two of our addresses",
  async run(run) {
    const bob = await run.account("bob");
    const carol = await run.account("carol");
    const toBob = await run.address(bob, "bob");
    const toCarol = await run.address(carol, "carol");
    const txid = await run.payMany({ [toBob]: "0.1", [toCarol]: "0.2" }, "payment");
    for (const address of [toBob, toCarol]) {
      await run.waitForEvent("the mempool event", address, (e) => e.confirmations === 0);
    }
    await run.settle();
    await run.finish();

    const rows = await run.rows();
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((row) => row.network_transaction_id)).size).toBe(1);
    for (const [account, address, amount] of [
      [bob, toBob, "0.10000000"],
      [carol, toCarol, "0.20000000"],
    ] as const) {
      expectMempoolToFinal(run.events(address), { txid, account, amount, transaction_type: "deposit" });
      expect((await run.ledger.accountBalance(account)).confirmed).toBe(btc(amount));
    }
    // Two rows of our ledger, two event streams, one network transaction.
    expect(run.events(toBob)[0]?.transaction).not.toBe(run.events(toCarol)[0]?.transaction);
    expect(run.events(toBob)[0]?.network_transaction).toBe(run.events(toCarol)[0]?.network_transaction);
  },
};

export const sendWithFee: Scenario = {
  id: "send",
  name: "a send with its fee booked",
  async run(run) {
    const dave = await fundedAccount(run, "dave", "1");
    const payee = await run.external("payee");
    const feeAccount = await run.ledger.getNetworkFeeAccount();
    const feeBalanceBefore = (await run.ledger.accountBalance(feeAccount.id)).confirmed;
    await run.ledger.send(dave, payee, "0.4");
    const [send] = await closedBroadcast(run, dave, 1);
    const txid = run.name(String(send?.txid), "send");
    await run.settle();
    await run.finish();

    // The fee the daemon charged is the fee the ledger booked, on the network-fee account.
    const daemonSide = await daemonTransaction(run, txid);
    const fee = -btc(String(daemonSide.fee));
    expect(fee).toBeGreaterThan(0n);
    expect(BigInt(String(send?.fee))).toBe(fee);
    expect((await run.ledger.accountBalance(feeAccount.id)).confirmed).toBe(feeBalanceBefore - fee);
    expect((await run.ledger.accountBalance(dave)).confirmed).toBe(btc("0.6"));
    expect(await daemonTransaction(run, txid, "payer")).toMatchObject({ amount: "0.40000000" });
    // Every satoshi of the daemon's wallet is in some account of the ledger.
    expect((await run.ledger.walletBalance()).confirmed).toBe(
      btc(String(await run.chain.ours.call("getbalance"))),
    );

    expectMempoolToFinal(run.events(payee), {
      txid,
      account: dave,
      amount: "0.40000000",
      transaction_type: "broadcast",
    });
  },
};

export const reorg: Scenario = {
  id: "reorg",
  name: "a reorg un-credits and re-credits",
  async run(run) {
    const { account: erin, address, txid } = await paidAccount(run, "erin", "0.3");
    await run.mine(1);
    const block = await run.chain.bestBlockHash();
    await run.mine(CREDIT_THRESHOLD - 1);
    expect((await run.ledger.accountBalance(erin)).confirmed).toBe(btc("0.3"));

    // The block holding the deposit and the two above it leave the chain.
    await run.chain.root.call("invalidateblock", [block]);
    await run.settle();
    await run.waitForEvent("the un-credit", address, (e) => e.confirmations === 0 && !e.credited);
    await run.settle();
    expect((await run.ledger.accountBalance(erin)).confirmed).toBe(0n);
    expect(await daemonTransaction(run, txid)).toMatchObject({ confirmations: 0 });

    await run.chain.root.call("reconsiderblock", [block]);
    await run.settle();
    await run.waitForEvent("the re-credit", address, (e) => e.credited && run.events(address).length > 5);
    await run.settle();
    expect((await run.ledger.accountBalance(erin)).confirmed).toBe(btc("0.3"));
    await run.finish();

    const events = run.events(address);
    expect(events.map((e) => [e.confirmations, e.credited])).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, true],
      [0, false],
      [3, true],
      ...upTo(FINAL)
        .slice(4)
        .map((n) => [n, true]),
    ]);
    const [row] = await run.rows();
    expect(row).toMatchObject({ state: "credited", txid, tracked: 0 });
  },
};

export const interruptedBroadcast: Scenario = {
  id: "interrupted",
  name: "an interrupted broadcast recovered by its sendmany comment",
  async run(run) {
    const frank = await fundedAccount(run, "frank", "1");
    const payees = [await run.external("payee-1"), await run.external("payee-2")];
    const { service, proxy } = run.env;

    // The sends are queued while the service is stopped, so one sendmany carries both.
    await service.stop();
    await run.ledger.send(frank, payees[0] as string, "0.1");
    await run.ledger.send(frank, payees[1] as string, "0.2");
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let daemonReply: string | undefined;
    proxy.holdReply = (request, reply) => {
      if (!request.includes('"sendmany"')) return undefined;
      daemonReply = reply;
      return held;
    };
    try {
      service.start();
      // The daemon has paid; the service dies before it hears so.
      await waitFor("the sendmany to reach the daemon", () => daemonReply, 45_000);
      service.current.child.kill("SIGKILL");
      await service.current.exited;
    } finally {
      proxy.holdReply = undefined;
      release();
    }
    const paid = (JSON.parse(daemonReply as string) as { result: string }).result;
    run.name(paid, "send");
    expect((await run.rows()).filter((row) => row.type === "broadcast").map((row) => row.txid)).toEqual([
      null,
      null,
    ]);

    service.start();
    await service.waitHealthy(60_000);
    const sends = await closedBroadcast(run, frank, 2);
    expect(sends.map((row) => row.txid)).toEqual([paid, paid]);
    await run.settle();
    await run.finish();

    // Paid once: one wallet transaction carries the payments, and the ledger books its fee.
    const sent = (await run.chain.ours.call("listtransactions", ["*", 100, 0, true])) as Array<
      Record<string, unknown>
    >;
    const toPayees = sent.filter(
      (entry) => entry.category === "send" && payees.includes(String(entry.address)),
    );
    expect(toPayees.map((entry) => entry.txid)).toEqual([paid, paid]);
    const received = (await run.chain.payer.call("gettransaction", [paid])) as {
      details: Array<Record<string, unknown>>;
    };
    expect(
      received.details
        .filter((entry) => entry.category === "receive")
        .map((entry) => [entry.address, String(entry.amount)])
        .sort(),
    ).toEqual(
      [
        [payees[0], "0.10000000"],
        [payees[1], "0.20000000"],
      ].sort(),
    );
    const fee = -btc(String((await daemonTransaction(run, paid)).fee));
    expect(sends.every((row) => BigInt(String(row.fee)) === fee)).toBe(true);
    expect((await run.ledger.accountBalance(frank)).confirmed).toBe(btc("0.7"));
    expect((await run.ledger.walletBalance()).confirmed).toBe(
      btc(String(await run.chain.ours.call("getbalance"))),
    );
    for (const [index, payee] of payees.entries()) {
      const events = run.events(payee);
      expect(confirmationsOf(events).at(-1)).toBe(FINAL);
      expect(events.every((e) => e.txid === paid && e.amount === ["0.10000000", "0.20000000"][index])).toBe(
        true,
      );
    }
  },
};

export const doubleSpend: Scenario = {
  id: "double-spend",
  name: "a double spend of an unconfirmed deposit: one −1 event, no credit",
  async run(run) {
    const { account: gina, address, txid } = await paidAccount(run, "gina", "0.2");

    // The payer replaces the payment with one paying itself (full RBF: bumpfee with new outputs).
    const back = await run.external("payer-change");
    const replacement = (await run.chain.payer.call("bumpfee", [
      txid,
      { outputs: [{ [back]: new LosslessNumber("0.2") }] },
    ])) as { txid: string };
    run.name(replacement.txid, "replacement");
    await run.settle();
    await run.mine(1);
    await run.waitForEvent("the −1 event", address, (e) => e.confirmations === -1);
    await run.mine(3);

    const events = run.events(address);
    expect(confirmationsOf(events)).toEqual([0, -1]);
    expect(events.some((e) => e.credited)).toBe(false);
    await run.waitForReplacement(txid);
    expect(run.replacements()).toEqual([txid]);
    const [row, ...more] = await run.rows();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ type: "deposit", confirmations: -1, credited_at: null });
    expect(row?.state).not.toBe("credited");
    expect(await run.ledger.accountBalance(gina)).toMatchObject({ confirmed: 0n, unconfirmed: 0n });
    expect(await daemonTransaction(run, txid)).toMatchObject({ confirmations: -4 });
  },
};

/** In the order they run in one world. */
export const SCENARIOS: Scenario[] = [
  deposit0to15,
  twoAddressesOneTransaction,
  sendWithFee,
  reorg,
  interruptedBroadcast,
  doubleSpend,
];
