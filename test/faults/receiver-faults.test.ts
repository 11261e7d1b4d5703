/**
 * Issue 6, service level: the webhook receiver misbehaves while the real helper service
 * (CLI child) follows the simulator (CLI child) and deposits and confirmations keep coming.
 * The receiver is down (nothing listening), then slow (answers after the handler timeout),
 * then answers HTTP 500, then closes connections in the middle of its response, then
 * recovers. The service never exits; every failed attempt is recorded in the outbox; once
 * the receiver is back every txupdate is delivered, in order per transaction.
 *
 * Retries are kept short by configuration (`service.dispatcher.retry_schedule`, seconds,
 * fractions allowed), and the handler timeout is 1 s (`events.app.timeout`).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqliteUrl } from "../../src/db/url.js";
import { notifyCommand } from "../service/regtest.js";
import { freePort, runCli } from "../service/support.js";
import { waitFor } from "../support/wait.js";
import { type ExternalChain, startExternalChain } from "./support/external-chain.js";
import { FaultyReceiver } from "./support/external-receiver.js";
import {
  type AppSide,
  type AttemptRow,
  type Deposit,
  expectNothingLost,
  HANDLER,
  type ServiceProcess,
  startServiceAndApp,
  tearDown,
  waitForSettled,
  writeServiceConfig,
} from "./support/external-service.js";

const HANDLER_TIMEOUT_S = 1;
/** Each fault lasts at least this long (and until its failures are on record). */
const PHASE_MS = 3000;

const holdUntil = (start: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, start + PHASE_MS - Date.now())));

describe("helper service with a misbehaving webhook receiver", () => {
  let dir: string;
  let chain: ExternalChain | undefined;
  let receiver: FaultyReceiver | undefined;
  let service: ServiceProcess | undefined;
  let app: AppSide | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-fault-receiver-"));
    const walletnotifyPort = await freePort();
    const blocknotifyPort = await freePort();
    const statusPort = await freePort();
    receiver = await FaultyReceiver.start();
    receiver.slowMs = HANDLER_TIMEOUT_S * 1000 + 1000;
    chain = await startExternalChain({
      walletnotify: notifyCommand("txid", walletnotifyPort, true),
      blocknotify: notifyCommand("blockhash", blocknotifyPort, false),
    });
    const databaseUrl = sqliteUrl(join(dir, "service.db"));
    const configPath = writeServiceConfig(dir, {
      databaseUrl,
      rpcUrl: chain.url,
      statusPort,
      walletnotify: { class: "http", port: walletnotifyPort },
      blocknotifyPort,
      receiverUrl: receiver.url,
      handlerTimeout: HANDLER_TIMEOUT_S,
    });
    ({ service, app } = await startServiceAndApp(configPath, statusPort, databaseUrl, chain));
  }, 40_000);

  afterAll(async () => {
    await tearDown(dir, service, app, receiver, chain);
  }, 30_000);

  it("keeps running through down / slow / 500 / cut connections, records every failed attempt, and loses nothing", async () => {
    const [svc, rcv, ch, ledger] = [
      service as ServiceProcess,
      receiver as FaultyReceiver,
      chain as ExternalChain,
      app as AppSide,
    ];
    const attemptsSince = async (since: number, match: (row: AttemptRow) => boolean) =>
      (await ledger.attempts()).filter((row) => row.at >= since && row.outcome === "failed" && match(row));
    const accepted = (deposit: Deposit, confirmations: number) => () =>
      rcv.arrivals.some(
        (a) =>
          a.data.txid === deposit.txid &&
          a.data.confirmations === confirmations &&
          (a.outcome === "ok" || a.outcome === "cut-body"),
      )
        ? true
        : undefined;

    // Baseline: everything healthy.
    const a = await ledger.prepareAndPay(ch, "a", "0.11");
    // The simulator runs notify commands one at a time: the 101 funding blocks' curls come
    // first, which on a loaded machine takes tens of seconds.
    await waitFor("deposit a in the mempool delivered", accepted(a, 0), 60_000);
    await ch.mine(1);
    await waitFor("deposit a at 1 confirmation delivered", accepted(a, 1));

    // 1. Nothing listens: connection refused.
    await rcv.down();
    const downAt = Date.now();
    const b = await ledger.prepareAndPay(ch, "b", "0.12");
    await ch.mine(1);
    const refused = await waitFor(
      "refused attempts",
      async () => {
        const rows = await attemptsSince(downAt, (row) => /ECONNREFUSED/.test(row.error ?? ""));
        return rows.length >= 3 ? rows : undefined;
      },
      20_000,
      200,
    );
    expect(refused[0]?.error).toMatch(
      /^POST http:\/\/127\.0\.0\.1:\d+\/hooks\/cryptoassets failed: .*ECONNREFUSED/,
    );
    expect(refused.every((row) => row.httpStatus === null)).toBe(true);
    // The chain side does not wait for the receiver.
    await waitFor("deposit b to reach the ledger while the receiver is down", async () =>
      (await ledger.confirmationsOf(b)) === 1 ? true : undefined,
    );
    await holdUntil(downAt);
    expect(svc.running).toBe(true);

    // 2. Slow: the answer comes after the handler's timeout.
    rcv.mode = "slow";
    await rcv.up();
    const slowAt = Date.now();
    const c = await ledger.prepareAndPay(ch, "c", "0.13");
    await ch.mine(1);
    const timedOut = await waitFor(
      "timed-out attempts",
      async () => {
        const rows = await attemptsSince(slowAt, (row) => /timed out/.test(row.error ?? ""));
        return rows.length >= 2 ? rows : undefined;
      },
      20_000,
      200,
    );
    expect(timedOut[0]?.error).toMatch(
      /POST http:\/\/127\.0\.0\.1:\d+\/hooks\/cryptoassets timed out after 1 s/,
    );
    expect(rcv.count("slow")).toBeGreaterThanOrEqual(2);
    await holdUntil(slowAt);
    expect(svc.running).toBe(true);

    // 3. HTTP 500.
    rcv.mode = "http500";
    const errorAt = Date.now();
    const d = await ledger.prepareAndPay(ch, "d", "0.14");
    await ch.mine(1);
    const http500 = await waitFor(
      "HTTP 500 attempts",
      async () => {
        const rows = await attemptsSince(errorAt, (row) => row.httpStatus === 500);
        return rows.length >= 3 ? rows : undefined;
      },
      20_000,
      200,
    );
    expect(http500[0]?.error).toMatch(/answered HTTP 500: <html><body><h1>500 Internal Server Error/);
    await holdUntil(errorAt);
    expect(svc.running).toBe(true);

    // 4. Connections closed mid-response: inside the header block, or inside the body of a 200.
    rcv.mode = "cut";
    const cutAt = Date.now();
    const e = await ledger.prepareAndPay(ch, "e", "0.15");
    await ch.mine(1);
    const cut = await waitFor(
      "attempts cut inside the response headers",
      async () => {
        const rows = await attemptsSince(
          cutAt,
          (row) => row.httpStatus === null && !/timed out|ECONNREFUSED/.test(row.error ?? ""),
        );
        return rows.length >= 2 && rcv.count("cut-body", cutAt) >= 1 ? rows : undefined;
      },
      20_000,
      200,
    );
    expect(cut[0]?.error).toMatch(/failed: (socket hang up|.*ECONNRESET|Parse Error)/);
    await holdUntil(cutAt);
    expect(svc.running).toBe(true);

    // 5. Recovery, with more blocks: every deposit goes to the credit threshold and beyond.
    rcv.mode = "ok";
    await ch.mine(1);
    await ch.mine(2);
    await waitForSettled(ledger, rcv, 40_000);

    // The service never exited and is healthy; nothing failed as a subsystem.
    expect(svc.runs).toHaveLength(1);
    expect(svc.running).toBe(true);
    expect((await svc.health()).status).toBe(200);
    expect(svc.output()).not.toMatch(/subsystem failed/);
    expect(
      svc.logLines().filter((line) => line.msg === "delivery failed; will retry").length,
    ).toBeGreaterThan(5);
    expect(svc.output()).not.toMatch(/now dead/);

    const outbox = await expectNothingLost(ledger, rcv);
    expect(ledger.deposits.map((deposit) => deposit.label)).toEqual(["a", "b", "c", "d", "e"]);
    for (const deposit of [b, c, d, e]) {
      expect(await ledger.confirmationsOf(deposit)).toBeGreaterThanOrEqual(3);
    }

    // A 200 status line followed by a cut body counts as delivered: the receiver said yes.
    const attempts = await ledger.attempts();
    const cutBody = rcv.arrivals.filter((arrival) => arrival.outcome === "cut-body");
    for (const arrival of cutBody) {
      const recorded = attempts.filter(
        (row) => row.eventId === arrival.event.event_id && row.at >= arrival.at - 50,
      );
      expect(
        recorded[0]?.outcome,
        `outcome recorded for the cut-body arrival of ${arrival.event.event_id}`,
      ).toBe("delivered");
      expect(recorded[0]?.httpStatus).toBe(200);
    }

    // The operator's view (CLI): every delivery delivered, and one event's full attempt history.
    const list = runCli([
      "events",
      "list",
      svc.configPath,
      "--handler",
      HANDLER,
      "--limit",
      "1000",
      "--json",
    ]);
    expect(await list.exited).toBe(0);
    const listed = JSON.parse(list.output()) as Array<{ event_id: string; state: string; attempts: number }>;
    expect(listed).toHaveLength(outbox.length);
    expect(listed.every((row) => row.state === "delivered")).toBe(true);
    const retried = [...listed].sort((x, y) => y.attempts - x.attempts)[0];
    expect(retried?.attempts).toBeGreaterThan(3);
    const show = runCli(["events", "show", svc.configPath, retried?.event_id ?? "", "--json"]);
    expect(await show.exited).toBe(0);
    const detail = JSON.parse(show.output()) as {
      deliveries: Array<{
        handler: string;
        state: string;
        history: Array<{ outcome: string; error: string | null }>;
      }>;
    };
    const history = detail.deliveries.find((delivery) => delivery.handler === HANDLER)?.history ?? [];
    expect(history.length).toBe(retried?.attempts);
    expect(history.slice(0, -1).every((h) => h.outcome === "failed" && h.error)).toBe(true);
    expect(history[history.length - 1]?.outcome).toBe("delivered");

    // Every kind of failure left its trace in the attempt records.
    const failed = attempts.filter((row) => row.outcome === "failed");
    expect(failed.some((row) => /ECONNREFUSED/.test(row.error ?? ""))).toBe(true);
    expect(failed.some((row) => /timed out after 1 s/.test(row.error ?? ""))).toBe(true);
    expect(failed.some((row) => row.httpStatus === 500)).toBe(true);
    expect(failed.some((row) => /socket hang up|ECONNRESET|Parse Error/.test(row.error ?? ""))).toBe(true);
  }, 110_000);
});
