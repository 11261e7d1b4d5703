/**
 * Issue 6, service level: PostgreSQL restarted (a real `pg_ctlcluster … restart`: fast
 * shutdown, every session terminated, then start) in the middle of a run, while deposits,
 * confirmations and deliveries are flowing through the real helper service (CLI child).
 *
 * The server is a PRIVATE cluster (./support/external-postgres.ts) on its own port, so the
 * shared server other test files use is never touched; it is dropped in afterAll whatever
 * happens. The service either keeps running or exits 2 with a clear reason (then it is
 * started again, as systemd would); in the end every deposit is credited exactly once and
 * every txupdate is delivered in order.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notifyCommand } from "../service/regtest.js";
import { freePort } from "../service/support.js";
import { waitFor } from "../support/wait.js";
import { type ExternalChain, startExternalChain } from "./support/external-chain.js";
import { createPrivatePostgres, type PrivatePostgres } from "./support/external-postgres.js";
import { FaultyReceiver } from "./support/external-receiver.js";
import {
  type AppSide,
  type Deposit,
  expectNothingLost,
  logErrorText,
  type ServiceProcess,
  startServiceAndApp,
  tearDown,
  waitForSettled,
  writeServiceConfig,
} from "./support/external-service.js";

/** Whether the server takes a new session now. */
async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
/** How the known defect shows: node-postgres emits 'error' on a pooled client nobody listens to. */
const UNHANDLED_PG_ERROR = /Unhandled 'error' event[\s\S]*Emitted 'error' event on Client instance/;

describe("helper service across a PostgreSQL restart", () => {
  let dir: string;
  let postgres: PrivatePostgres | undefined;
  let chain: ExternalChain | undefined;
  let receiver: FaultyReceiver | undefined;
  let service: ServiceProcess | undefined;
  let app: AppSide | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-fault-pg-"));
    postgres = await createPrivatePostgres(await freePort());
    const walletnotifyPort = await freePort();
    const blocknotifyPort = await freePort();
    const statusPort = await freePort();
    receiver = await FaultyReceiver.start();
    chain = await startExternalChain({
      walletnotify: notifyCommand("txid", walletnotifyPort, true),
      blocknotify: notifyCommand("blockhash", blocknotifyPort, false),
    });
    const configPath = writeServiceConfig(dir, {
      databaseUrl: postgres.url,
      rpcUrl: chain.url,
      statusPort,
      walletnotify: { class: "http", port: walletnotifyPort },
      blocknotifyPort,
      receiverUrl: receiver.url,
      handlerTimeout: 2,
      pollPeriod: 0.5,
    });
    ({ service, app } = await startServiceAndApp(configPath, statusPort, postgres.url, chain, 30_000));
  }, 60_000);

  afterAll(async () => {
    await tearDown(dir, service, app, receiver, chain, postgres);
  }, 60_000);

  it("loses nothing across a restart under traffic (a service that died is started again, as systemd would)", async () => {
    const [svc, server, ch, ledger, rcv] = [
      service as ServiceProcess,
      postgres as PrivatePostgres,
      chain as ExternalChain,
      app as AppSide,
      receiver as FaultyReceiver,
    ];
    // The application made its addresses beforehand: its own connections die in the restart too.
    const deposits: Deposit[] = [];
    for (const [index, amount] of ["0.41", "0.42", "0.43", "0.44", "0.45", "0.46"].entries()) {
      deposits.push(await ledger.prepareDeposit(`pg-${index}`, amount));
    }
    const [d0, d1, d2, d3, d4, d5] = deposits as [Deposit, Deposit, Deposit, Deposit, Deposit, Deposit];

    await ledger.pay(ch, d0);
    await ch.mine(1);
    await waitFor(
      "deposit 0 delivered at 1 confirmation",
      () => rcv.arrivals.some((a) => a.data.txid === d0.txid && a.data.confirmations === 1) || undefined,
    );

    // Traffic in flight, then the restart while more deposits and blocks arrive.
    await ledger.pay(ch, d1);
    await ch.mine(1);
    const mark = svc.output().length;
    const restartedAt = Date.now();
    let restarted = false;
    const restart = server.restart().finally(() => {
      restarted = true;
    });
    // Traffic while the server is down (or, on a very fast restart, right after it).
    await waitFor(
      "PostgreSQL to go down for the restart",
      async () => restarted || !(await accepts(server.url)),
      20_000,
      20,
    );
    await ledger.pay(ch, d2);
    await ch.mine(1);
    await ledger.pay(ch, d3);
    await restart;
    const restartMs = Date.now() - restartedAt;
    await ledger.pay(ch, d4);
    await ch.mine(1);

    // The service noticed: PostgreSQL errors in its log (or it died of them).
    await waitFor(
      "the service to log the lost PostgreSQL connections",
      () =>
        !svc.running ||
        svc
          .logLines(mark)
          .some((line) =>
            /terminating connection|Connection terminated|ECONNREFUSED|the database system is (shutting down|starting up)|lock connection/.test(
              `${line.msg} ${logErrorText(line)} ${line.reason ?? ""}`,
            ),
          ) ||
        undefined,
      20_000,
    );

    // Whichever it does, it must be one of the two contracts: wait until it has done one.
    await waitFor(
      "the service to exit or to be healthy again",
      async () => !svc.running || (await svc.health()).status === 200,
      30_000,
    );
    if (!svc.running) {
      const code = await svc.current.exited;
      const output = svc.current.output();
      // The contract: keep running, or exit 2 naming the subsystem that failed.
      expect(code, `exit code after the restart; output:\n${output.slice(-3000)}`).toBe(2);
      expect(output).toMatch(/subsystem \S+ failed: /);
      expect(output).not.toMatch(UNHANDLED_PG_ERROR);
      svc.start();
    }
    await svc.waitHealthy(30_000);

    await ledger.pay(ch, d5);
    await ch.mine(1);
    await ch.mine(2);
    // A delivery whose outcome could not be recorded during the restart is retried after its
    // lease (handler timeout + 30 s): allow for it.
    await waitForSettled(ledger, rcv, 60_000);
    await expectNothingLost(ledger, rcv);
    expect(ledger.deposits).toHaveLength(6);
    expect(restartMs).toBeGreaterThan(500); // a real stop and start happened
    console.info(
      `postgres restart (${server.kind}) took ${restartMs} ms; helper service runs: ${svc.runs.length}; exit codes: ${svc.runs
        .map((run) => run.child.exitCode ?? "running")
        .join(", ")}`,
    );
  }, 110_000);

  // Found by this file: pg-pool listens for 'error' on IDLE clients only and Kysely adds no
  // listener, so a session the server terminated while checked out (inside a transaction,
  // or with a query waiting) crashed the process with exit 1. Made deterministic here: the
  // application locks ca_delivery, so the service's outbox work is waiting on a query when
  // PostgreSQL restarts. Fixed in src/db/open.ts (a listener on every pooled connection).
  it("keeps running or exits 2 when PostgreSQL restarts while the service waits on a query", async () => {
    const [svc, server, ch, ledger] = [
      service as ServiceProcess,
      postgres as PrivatePostgres,
      chain as ExternalChain,
      app as AppSide,
    ];
    if (!svc.running) svc.start();
    await svc.waitHealthy(30_000);
    const deposit = await ledger.prepareDeposit("locked", "0.47");
    const locker = new pg.Client({ connectionString: server.url });
    const monitor = new pg.Client({ connectionString: server.url });
    for (const client of [locker, monitor]) client.on("error", () => undefined);
    await locker.connect();
    await monitor.connect();
    try {
      const { rows } = await locker.query<{ pid: number }>("select pg_backend_pid() as pid");
      await locker.query("begin");
      await locker.query("lock table ca_delivery in access exclusive mode");
      // New outbox rows and the dispatcher's claims now wait on the lock.
      await ledger.pay(ch, deposit);
      await ch.mine(1);
      await waitFor("service sessions waiting on the lock", async () => {
        const waiting = await monitor.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and pid <> $1",
          [rows[0]?.pid],
        );
        return (waiting.rows[0]?.n ?? 0) >= 2 || undefined;
      });
      await server.restart();
    } finally {
      await locker.end().catch(() => undefined);
      await monitor.end().catch(() => undefined);
    }
    // The terminated sessions' errors arrive during the restart: by the time the service answers
    // healthy again, an unhandled one would already have ended the process.
    const healthy = svc.waitHealthy(30_000).then(() => "running" as const);
    healthy.catch(() => undefined); // lost the race to the exit
    const exit = await Promise.race([svc.current.exited, healthy]);
    const output = svc.current.output();
    if (UNHANDLED_PG_ERROR.test(output)) console.info("reproduced: unhandled pg 'error' event, exit", exit);
    // The contract: still running, or exit 2 with a reason.
    if (exit !== "running") {
      expect(exit, `exit after the restart; output:\n${output.slice(-2500)}`).toBe(2);
      expect(output).toMatch(/subsystem \S+ failed: /);
    } else {
      expect(svc.running).toBe(true);
    }
  }, 90_000);
});
