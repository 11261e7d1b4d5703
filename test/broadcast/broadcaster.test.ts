/**
 * The broadcaster against the simulator over HTTP: pending sends become one sendmany, the
 * fee is charged to the network-fee account, confirmations are tracked to final, balances
 * agree with the daemon to the satoshi. Then the failure modes: refusals leave the sends
 * pending and a later period sends them; an ambiguous failure (the request may have reached
 * the daemon) leaves the broadcast interrupted and never re-sends it.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BitcoindBackend } from "../../src/backends/bitcoind/index.js";
import { Broadcaster } from "../../src/broadcast/index.js";
import { InsufficientFundsError, RpcTransportError } from "../../src/errors.js";
import { closeBroadcast, listPendingSends, openBroadcast } from "../../src/ledger/index.js";
import { type ChainEnv, expectedSequence, sats, sequences, startChainEnv } from "../chain/support/env.js";
import { FaultyProxy } from "../chain/support/faulty-proxy.js";
import { captureLogs } from "../chain/support/logs.js";
import { CLI } from "../service/support.js";

/** Pays `amount` to a new address of `account` and mines it to credited. */
async function fund(env: ChainEnv, accountId: number, amount: string) {
  const address = (await env.runtime.ledger.createReceivingAddress(accountId)).address;
  await env.payer.call("sendtoaddress", [address, amount]);
  await env.mine(3);
  await env.runtime.tracker.tick();
}

async function daemonBalance(env: ChainEnv): Promise<bigint> {
  return sats(String(await env.ours.call("getbalance")));
}

describe.each(["sqlite", "postgres", "mysql"] as const)("broadcasting on %s", (engine) => {
  let env: ChainEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("batches pending sends into one sendmany, charges the fee, tracks confirmations to final", async () => {
    env = await startChainEnv({ engine });
    const { runtime } = env;
    const ledger = runtime.ledger;
    const alice = await ledger.createAccount("alice");
    await fund(env, alice.id, "2.0");
    const external1 = String(await env.payer.call("getnewaddress"));
    const external2 = String(await env.payer.call("getnewaddress"));
    const eventsBefore = (await env.events()).length;

    const s1 = await ledger.send(alice.id, external1, "0.5");
    const s2 = await ledger.send(alice.id, external2, "0.25");
    const s3 = await ledger.send(alice.id, external1, "0.1"); // same address: paid together
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("1.15"), unconfirmed: 0n });

    const outcome = await runtime.broadcaster.broadcastPending();
    if (outcome.status !== "broadcasted") throw new Error(`expected a broadcast, got ${outcome.status}`);
    expect(outcome.sendIds).toEqual([s1, s2, s3]);
    expect(outcome.feeKnown).toBe(true);
    const sent = (await env.ours.call("gettransaction", [outcome.txid])) as {
      fee: unknown;
      details: { address: string; amount: unknown; category: string }[];
    };
    expect(outcome.fee).toBe(-sats(String(sent.fee)));
    expect(outcome.fee).toBeGreaterThan(0n);
    const paid = new Map(sent.details.map((d) => [d.address, sats(String(d.amount).replace("-", ""))]));
    expect(paid).toEqual(
      new Map([
        [external1, sats("0.6")],
        [external2, sats("0.25")],
      ]),
    );
    expect(await runtime.broadcaster.broadcastPending()).toEqual({ status: "idle" });

    const fees = await ledger.getNetworkFeeAccount();
    expect((await ledger.accountBalance(fees.id)).confirmed).toBe(-outcome.fee);
    expect(await ledger.accountBalance(alice.id)).toEqual({ confirmed: sats("1.15"), unconfirmed: 0n });
    // Ledger total (accounts incl. the fee account) = what the daemon's wallet holds.
    expect((await ledger.walletBalance()).confirmed).toBe(await daemonBalance(env));
    expect((await ledger.getTransaction(s1)).state).toBe("broadcasted");

    for (let block = 1; block <= 16; block++) {
      await env.mine(1);
      await runtime.tracker.tick();
    }
    const later = (await env.events()).slice(eventsBefore);
    // The funding deposit keeps getting its own confirmations; the rest are the broadcast's.
    const broadcastEvents = later.filter((e) => e.transaction_type === "broadcast");
    expect(later.filter((e) => e.transaction_type === "deposit").every((e) => e.txid !== outcome.txid)).toBe(
      true,
    );
    expect(broadcastEvents.every((e) => e.txid === outcome.txid)).toBe(true);
    expect(broadcastEvents.every((e) => e.account === alice.id)).toBe(true);
    const perSend = sequences(broadcastEvents);
    expect([...perSend.keys()]).toEqual([s1, s2, s3]);
    for (const sequence of perSend.values()) expect(sequence).toEqual(expectedSequence(15, 3));
    expect(broadcastEvents.find((e) => e.transaction === s3)).toMatchObject({
      address: external1,
      amount: "0.10000000",
    });
    expect((await ledger.walletBalance()).confirmed).toBe(await daemonBalance(env));
    expect(sats("2.0") - sats("0.85") - outcome.fee).toBe(await daemonBalance(env));
  });

  it("a daemon that refuses (insufficient funds) leaves the sends pending; the next period sends them", async () => {
    env = await startChainEnv({ engine });
    const { runtime, ours } = env;
    const ledger = runtime.ledger;
    const alice = await ledger.createAccount("alice");
    await fund(env, alice.id, "1.0");
    // Someone spends the daemon's coins behind the ledger's back.
    await ours.call("sendtoaddress", [env.payerAddress, "1.0", "", "", true]);
    await env.mine(1);
    await runtime.tracker.tick();
    const external = String(await env.payer.call("getnewaddress"));
    const send = await ledger.send(alice.id, external, "0.4");

    const refused = await runtime.broadcaster.broadcastPending();
    expect(refused.status).toBe("released");
    if (refused.status === "released") expect(refused.error).toBeInstanceOf(InsufficientFundsError);
    expect((await ledger.run((trx, ctx) => listPendingSends(trx, ctx))).map((p) => p.id)).toEqual([send]);
    expect(await runtime.broadcaster.listInterrupted()).toEqual([]);
    expect(runtime.broadcaster.stats()).toMatchObject({ released: 1, lastOutcome: "released" });

    // The operator tops up the daemon's wallet (an address the ledger does not know: no deposit).
    const topUp = String(await ours.call("getnewaddress"));
    await env.payer.call("sendtoaddress", [topUp, "1.0"]);
    await env.mine(1);
    await runtime.tracker.tick();
    expect((await ledger.accountBalance(alice.id)).confirmed).toBe(sats("0.6"));

    const retried = await runtime.broadcaster.broadcastPending();
    expect(retried.status).toBe("broadcasted");
    expect(await ledger.run((trx, ctx) => listPendingSends(trx, ctx))).toEqual([]);
  });

  it("a fee the daemon could not tell at close is booked on a later period", async () => {
    env = await startChainEnv({ engine });
    const { runtime, ours } = env;
    const ledger = runtime.ledger;
    const alice = await ledger.createAccount("alice");
    await fund(env, alice.id, "1.0");
    const external = String(await env.payer.call("getnewaddress"));
    const send = await ledger.send(alice.id, external, "0.4");
    // The state the broadcaster leaves when gettransaction keeps failing right after sendmany:
    // sent and closed with its txid, fee unknown (null).
    const ntxId = await ledger.run((trx, ctx) => openBroadcast(trx, ctx, [send]));
    const txid = String(await ours.call("sendmany", ["", { [external]: "0.4" }]));
    await ledger.run((trx, ctx) => closeBroadcast(trx, ctx, ntxId, txid, null));
    const fee = -sats(String(((await ours.call("gettransaction", [txid])) as { fee: unknown }).fee));
    expect(fee).toBeGreaterThan(0n);
    expect((await ledger.walletBalance()).confirmed - (await daemonBalance(env))).toBe(fee);

    expect(await runtime.broadcaster.bookMissingFees()).toBe(1);
    expect(await runtime.broadcaster.bookMissingFees()).toBe(0); // booked once
    const fees = await ledger.getNetworkFeeAccount();
    expect((await ledger.accountBalance(fees.id)).confirmed).toBe(-fee);
    expect((await ledger.walletBalance()).confirmed).toBe(await daemonBalance(env));
    expect(runtime.broadcaster.stats().feesBookedLater).toBe(1);

    // Closing it a second time (a raced recovery) is refused: the fee is never booked twice.
    await expect(ledger.run((trx, ctx) => closeBroadcast(trx, ctx, ntxId, txid, fee))).rejects.toThrow(
      /broadcast \d+ is not open: it was closed already/,
    );
    expect((await ledger.accountBalance(fees.id)).confirmed).toBe(-fee);
  });
});

describe("broadcasting through a misbehaving connection", () => {
  let env: ChainEnv | undefined;
  let proxy: FaultyProxy | undefined;
  let backend: BitcoindBackend | undefined;
  afterEach(async () => {
    await backend?.close();
    await env?.close();
    await proxy?.close();
    env = undefined;
    proxy = undefined;
    backend = undefined;
  });

  async function setUp() {
    env = await startChainEnv({ engine: "sqlite" });
    proxy = await FaultyProxy.start(env.sim.host, env.sim.port);
    proxy.slowMs = 1000;
    backend = new BitcoindBackend({
      url: proxy.url(env.sim.rpcUser, env.sim.rpcPassword),
      wallet: "ours",
      timeoutMs: 300,
    });
    const broadcaster = new Broadcaster({
      ledger: env.runtime.ledger,
      backend,
      sink: env.outbox,
      lock: env.runtime.lock,
    });
    const alice = await env.runtime.ledger.createAccount("alice");
    await fund(env, alice.id, "1.0");
    const external = String(await env.payer.call("getnewaddress"));
    return { broadcaster, alice, external, proxy, env };
  }

  it("refused connection or HTTP 401 before sending: released, retried, sent exactly once", async () => {
    const { broadcaster, alice, external, proxy, env } = await setUp();
    const send = await env.runtime.ledger.send(alice.id, external, "0.3");

    await proxy.down();
    const down = await broadcaster.broadcastPending();
    expect(down.status).toBe("released");
    if (down.status === "released") {
      expect(down.error).toBeInstanceOf(RpcTransportError);
      expect(down.error.message).toMatch(/connection refused/);
    }
    await proxy.up();

    proxy.mode = "http401";
    const unauthorized = await broadcaster.broadcastPending();
    expect(unauthorized.status).toBe("released");
    if (unauthorized.status === "released") expect(unauthorized.error.message).toMatch(/HTTP 401/);
    expect(proxy.forwarded).toBe(0);

    proxy.mode = "pass";
    const sent = await broadcaster.broadcastPending();
    expect(sent.status).toBe("broadcasted");
    if (sent.status === "broadcasted") expect(sent.sendIds).toEqual([send]);
    const sends = (await env.ours.call("listsinceblock", [])) as {
      transactions: { category: string; address: string }[];
    };
    expect(sends.transactions.filter((t) => t.category === "send" && t.address === external).length).toBe(1);
    expect(await broadcaster.listInterrupted()).toEqual([]);
  });

  it.each([
    ["a timeout after the request was sent", "slow" as const, /timed out/],
    ["an HTTP 500 without a JSON-RPC answer", "http500" as const, /HTTP 500/],
  ])("%s: interrupted, reported, never re-sent", async (_label, mode, message) => {
    const { broadcaster, alice, external, proxy, env } = await setUp();
    const balanceBefore = await daemonBalance(env);
    await env.runtime.ledger.send(alice.id, external, "0.3");

    proxy.mode = mode;
    const outcome = await broadcaster.broadcastPending();
    expect(outcome.status).toBe("interrupted");
    if (outcome.status !== "interrupted") return;
    expect(outcome.error.message).toMatch(message);

    proxy.mode = "pass";
    // Not pending any more, so the next periods do nothing: no second payment.
    expect(await broadcaster.broadcastPending()).toEqual({ status: "idle" });
    expect(await broadcaster.broadcastPending()).toEqual({ status: "idle" });
    const interrupted = await broadcaster.listInterrupted();
    expect(interrupted.map((ntx) => ntx.id)).toEqual([outcome.networkTransactionId]);
    expect(interrupted[0]).toMatchObject({ txid: null, closed_at: null });
    expect(interrupted[0]?.opened_at).toBeGreaterThan(0);
    expect(broadcaster.stats()).toMatchObject({ interrupted: 1, lastOutcome: "interrupted" });

    // After a restart, the broadcaster reports it loudly — once — and still does not re-send it.
    const { logger, lines } = captureLogs();
    const restarted = new Broadcaster({
      ledger: env.runtime.ledger,
      backend: env.runtime.backend,
      sink: env.outbox,
      logger,
    });
    await restarted.reportInterrupted();
    await restarted.reportInterrupted();
    const reports = lines.filter((line) => String(line.msg).startsWith("interrupted broadcast"));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ level: 50, networkTransaction: outcome.networkTransactionId });
    expect(await restarted.broadcastPending()).toEqual({ status: "idle" });

    const sends = (await env.ours.call("listsinceblock", [])) as {
      transactions: { category: string; address: string; txid: string }[];
    };
    const payments = sends.transactions.filter((t) => t.category === "send" && t.address === external);
    // Slow: the daemon did pay (only the answer was lost) — exactly once. 500: it never got the request.
    expect(payments.length).toBe(mode === "slow" ? 1 : 0);
    const spent = balanceBefore - (await daemonBalance(env));
    if (mode === "slow")
      expect(spent).toBeGreaterThan(sats("0.3")); // 0.3 plus the fee
    else expect(spent).toBe(0n);

    // Recovery by the sendmany comment: the paid one is found and closed as sent, with its
    // fee and a txupdate; the unpaid one stays interrupted (never re-sent automatically).
    const eventsBefore = (await env.events()).length;
    expect(await restarted.recoverInterrupted()).toBe(mode === "slow" ? 1 : 0);
    const left = await restarted.listInterrupted();
    if (mode === "slow") {
      expect(left).toEqual([]);
      const closed = await env.runtime.ledger.run((trx) =>
        trx
          .selectFrom("ca_network_transaction")
          .selectAll()
          .where("id", "=", outcome.networkTransactionId)
          .executeTakeFirstOrThrow(),
      );
      expect(closed.txid).toBe(payments[0]?.txid);
      expect(closed.fee).toBe(spent - sats("0.3"));
      expect((await env.runtime.ledger.walletBalance()).confirmed).toBe(await daemonBalance(env));
      const events = (await env.events()).slice(eventsBefore);
      expect(events.map((e) => [e.txid, e.confirmations])).toEqual([[payments[0]?.txid, 0]]);
      expect(restarted.stats().recovered).toBe(1);
    } else {
      expect(left.map((ntx) => ntx.id)).toEqual([outcome.networkTransactionId]);
      expect((await env.events()).length).toBe(eventsBefore);
    }
  });

  it("the operator CLI lists interrupted broadcasts and releases only one the daemon did not pay", async () => {
    const { broadcaster, alice, proxy, env } = await setUp();
    const paidTo = String(await env.payer.call("getnewaddress"));
    const unpaidTo = String(await env.payer.call("getnewaddress"));
    await env.runtime.ledger.send(alice.id, paidTo, "0.2");
    proxy.mode = "slow"; // sendmany executes, the answer is lost
    const paid = await broadcaster.broadcastPending();
    await env.runtime.ledger.send(alice.id, unpaidTo, "0.1");
    proxy.mode = "http500"; // the request never reaches the daemon
    const unpaid = await broadcaster.broadcastPending();
    proxy.mode = "pass";
    if (paid.status !== "interrupted" || unpaid.status !== "interrupted") {
      throw new Error(`expected two interrupted broadcasts, got ${paid.status} and ${unpaid.status}`);
    }

    const config = join(env.dir, "operator.yaml");
    writeFileSync(
      config,
      `database: { url: "${env.db.url}" }\ncoins:\n  btc:\n    network: regtest\n    backend: { class: bitcoind, url: "${env.sim.url}", wallet: ours }\n`,
    );
    // Asynchronous: the simulator lives in this process and must keep answering.
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [CLI, "broadcasts", ...args],
          { timeout: 20_000 },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      });
    const listed = await cli("list", config, "--json");
    expect(listed.stderr).toBe("");
    const views = JSON.parse(listed.stdout) as {
      id: number;
      sends: number;
      amount: string;
      found_txid: string | null;
    }[];
    const payment = (await env.ours.call("listtransactions", ["*", 50])) as {
      address: string;
      txid: string;
      category: string;
    }[];
    const paidTxid = payment.find((t) => t.category === "send" && t.address === paidTo)?.txid;
    expect(paidTxid).toMatch(/^[0-9a-f]{64}$/);
    expect(views).toEqual([
      expect.objectContaining({
        id: paid.networkTransactionId,
        sends: 1,
        amount: "0.20000000",
        found_txid: paidTxid,
      }),
      expect.objectContaining({
        id: unpaid.networkTransactionId,
        sends: 1,
        amount: "0.10000000",
        found_txid: null,
      }),
    ]);

    // Paid: refused, it would pay twice. Unpaid but just opened: refused, the call may still run.
    const refusedPaid = await cli("release", config, String(paid.networkTransactionId));
    expect(refusedPaid.code).toBe(1);
    expect(refusedPaid.stderr).toMatch(
      new RegExp(`broadcast ${paid.networkTransactionId} was paid: .*${paidTxid}`),
    );
    const tooSoon = await cli("release", config, String(unpaid.networkTransactionId));
    expect(tooSoon.code).toBe(1);
    expect(tooSoon.stderr).toMatch(/may still be running at the daemon/);

    // A minute later (moved back in the database rather than waited for), release goes through.
    await env.db.database.db
      .updateTable("ca_network_transaction")
      .set({ opened_at: Date.now() - 120_000 })
      .where("id", "=", unpaid.networkTransactionId)
      .execute();
    const released = await cli("release", config, String(unpaid.networkTransactionId));
    expect(released.stderr).toBe("");
    expect(released.code).toBe(0);
    expect(released.stdout).toMatch(
      /released broadcast \d+: its 1 send\(s\) \(0\.10000000 BTC\) are pending again/,
    );
    expect((await cli("release", config, String(unpaid.networkTransactionId))).stderr).toMatch(
      /is not interrupted/,
    );

    // The service's next period: the paid one is recovered by its comment, the released one sent once.
    expect(await broadcaster.recoverInterrupted()).toBe(1);
    const resent = await broadcaster.broadcastPending();
    expect(resent.status).toBe("broadcasted");
    expect(await broadcaster.listInterrupted()).toEqual([]);
    const all = (await env.ours.call("listtransactions", ["*", 50])) as {
      address: string;
      category: string;
    }[];
    expect(all.filter((t) => t.category === "send" && t.address === paidTo)).toHaveLength(1);
    expect(all.filter((t) => t.category === "send" && t.address === unpaidTo)).toHaveLength(1);
    expect((await env.runtime.ledger.walletBalance()).confirmed).toBe(await daemonBalance(env));
  });
});
