/**
 * Issue 6, service level: the daemon misbehaves under the real helper service (CLI child).
 * The service reaches the simulator only through a faulty proxy (test/chain/support/
 * faulty-proxy.ts); walletnotify/blocknotify still arrive (curl from the simulator), so the
 * service keeps being told about deposits and blocks it cannot fetch. In turn the daemon is
 * down (connection refused), slow beyond the configured RPC timeout, answers HTTP 200 with a
 * truncated (not JSON) body, then with an HTML page, and answers well-formed JSON-RPC with a
 * result of the wrong shape. During each outage a deposit is paid and a block mined.
 *
 * What the code does (asserted): the service keeps running (no exit), logs a clear error that
 * names the daemon's URL (password masked) and what was wrong, reports it on /health (503),
 * and once the daemon is back every deposit made during the outage is credited exactly once
 * and its txupdates are delivered in order.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqliteUrl } from "../../src/db/url.js";
import { FaultyProxy, TRUNCATED_JSON_BODY } from "../chain/support/faulty-proxy.js";
import { notifyCommand } from "../service/regtest.js";
import { freePort } from "../service/support.js";
import { waitFor } from "../support/wait.js";
import { type ExternalChain, RPC_USER, startExternalChain } from "./support/external-chain.js";
import { FaultyReceiver } from "./support/external-receiver.js";
import {
  type AppSide,
  expectNothingLost,
  logErrorText,
  type ServiceProcess,
  startServiceAndApp,
  tearDown,
  waitForSettled,
  writeServiceConfig,
} from "./support/external-service.js";

const PASSWORD = "rpc-s3cret-for-faults";
const RPC_TIMEOUT_S = 1;
/** Each outage lasts at least this long (and until its error is logged and on /health). */
const OUTAGE_MS = 2500;

interface DaemonFault {
  name: string;
  /** What the service's error says; `daemon` is the masked URL pattern of the proxy. */
  message: (daemon: string) => RegExp;
  apply(proxy: FaultyProxy): Promise<void>;
  recover(proxy: FaultyProxy): Promise<void>;
}

const setMode = (mode: FaultyProxy["mode"]) => async (proxy: FaultyProxy) => {
  proxy.mode = mode;
};

const FAULTS: DaemonFault[] = [
  {
    name: "down",
    message: (daemon) => new RegExp(`cannot connect to bitcoind at ${daemon}: connection refused`),
    apply: (proxy) => proxy.down(),
    recover: (proxy) => proxy.up(),
  },
  {
    name: "slow beyond the RPC timeout",
    message: (daemon) =>
      new RegExp(`bitcoind at ${daemon} did not answer within ${RPC_TIMEOUT_S * 1000} ms \\(timed out\\)`),
    apply: setMode("slow"),
    recover: setMode("pass"),
  },
  {
    name: "truncated JSON (HTTP 200)",
    message: (daemon) => new RegExp(`bitcoind at ${daemon} sent a body that is not JSON: "\\{\\\\"result`),
    apply: setMode("garbage"),
    recover: setMode("pass"),
  },
  {
    name: "an HTML page (HTTP 200)",
    message: (daemon) => new RegExp(`bitcoind at ${daemon} sent a body that is not JSON: "<html>`),
    apply: async (proxy) => {
      proxy.garbageBody = "<html><body>502 Bad Gateway (captive portal)</body></html>";
      proxy.mode = "garbage";
    },
    recover: async (proxy) => {
      proxy.garbageBody = TRUNCATED_JSON_BODY;
      proxy.mode = "pass";
    },
  },
  {
    name: "JSON of the wrong shape (HTTP 200)",
    message: () =>
      /(gettransaction|listsinceblock|getblockchaininfo)\.\w+: expected (a string|an array|an integer)/,
    apply: setMode("wrong-shape"),
    recover: setMode("pass"),
  },
];

describe("helper service with a misbehaving daemon", () => {
  /** The service's error line for each fault, as logged. */
  const logged = new Map<string, { err: string; coin: unknown }>();
  let dir: string;
  let chain: ExternalChain | undefined;
  let proxy: FaultyProxy | undefined;
  let receiver: FaultyReceiver | undefined;
  let service: ServiceProcess | undefined;
  let app: AppSide | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-fault-daemon-"));
    const walletnotifyPort = await freePort();
    const blocknotifyPort = await freePort();
    const statusPort = await freePort();
    receiver = await FaultyReceiver.start();
    chain = await startExternalChain({
      walletnotify: notifyCommand("txid", walletnotifyPort, true),
      blocknotify: notifyCommand("blockhash", blocknotifyPort, false),
      password: PASSWORD,
    });
    proxy = await FaultyProxy.start("127.0.0.1", chain.port, await freePort());
    proxy.slowMs = RPC_TIMEOUT_S * 1000 + 1500;
    const databaseUrl = sqliteUrl(join(dir, "service.db"));
    const configPath = writeServiceConfig(dir, {
      databaseUrl,
      rpcUrl: proxy.url(RPC_USER, PASSWORD),
      rpcTimeout: RPC_TIMEOUT_S,
      statusPort,
      walletnotify: { class: "http", port: walletnotifyPort },
      blocknotifyPort,
      receiverUrl: receiver.url,
      pollPeriod: 0.5,
    });
    ({ service, app } = await startServiceAndApp(configPath, statusPort, databaseUrl, chain));
  }, 40_000);

  afterAll(async () => {
    await tearDown(dir, service, app, proxy, receiver, chain);
  }, 30_000);

  it("keeps running through down / slow / truncated / HTML / wrong-shape, says why, and credits every outage deposit once", async () => {
    const [svc, px, ch, ledger, rcv] = [
      service as ServiceProcess,
      proxy as FaultyProxy,
      chain as ExternalChain,
      app as AppSide,
      receiver as FaultyReceiver,
    ];
    const daemon = `http://cryptoassets:\\*\\*\\*@127\\.0\\.0\\.1:${px.port}/wallet/ours`;

    // Baseline through the healthy proxy.
    const first = await ledger.prepareAndPay(ch, "before", "0.21");
    await ch.mine(1);
    await waitFor("the first deposit at 1 confirmation", async () =>
      (await ledger.confirmationsOf(first)) === 1 ? true : undefined,
    );

    for (const [index, fault] of FAULTS.entries()) {
      const message = fault.message(daemon);
      const mark = svc.output().length;
      const startedAt = Date.now();
      await fault.apply(px);
      const during = await ledger.prepareAndPay(ch, `outage-${index}`, `0.3${index + 1}`);
      await ch.mine(1);

      // A clear error in the log, naming the daemon (password masked) and what was wrong.
      const line = await waitFor(
        `the ${fault.name} error in the service log`,
        () => svc.logLines(mark).find((entry) => message.test(logErrorText(entry))),
        15_000,
      );
      expect(line.level).toBeGreaterThanOrEqual(40); // warn or error
      logged.set(fault.name, { err: logErrorText(line), coin: line.coin });
      expect(logErrorText(line)).toContain(`127.0.0.1:${px.port}/wallet/ours`);
      // The service says so on /health, and keeps running.
      const health = await waitFor(
        `/health to report the ${fault.name} daemon`,
        async () => {
          const h = await svc.health();
          return h.status === 503 && h.problems.some((problem) => message.test(problem)) ? h : undefined;
        },
        15_000,
        200,
      );
      expect(health.problems.some((problem) => /^btc\.(chain|backend) is degraded: /.test(problem))).toBe(
        true,
      );
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + OUTAGE_MS - Date.now())));
      expect(svc.running).toBe(true);
      // The service could not learn of the deposit through this daemon.
      expect(await ledger.confirmationsOf(during)).toBeUndefined();

      await fault.recover(px);
      await waitFor(
        `the deposit made during the ${fault.name} outage`,
        async () => ((await ledger.confirmationsOf(during)) ?? 0) >= 1 || undefined,
        20_000,
        200,
      );
      await svc.waitHealthy(20_000);
    }

    // More blocks: every deposit reaches the credit threshold; every event is delivered.
    await ch.mine(1);
    await ch.mine(2);
    await waitForSettled(ledger, rcv, 30_000);

    expect(svc.runs).toHaveLength(1);
    expect(svc.running).toBe(true);
    expect(svc.output()).not.toMatch(/subsystem failed/);
    expect(svc.output()).not.toContain(PASSWORD);
    await expectNothingLost(ledger, rcv);
    expect(px.faulted).toBeGreaterThan(0);
    expect(logged.size).toBe(FAULTS.length);
  }, 110_000);

  // A reply that is valid JSON-RPC but of the wrong shape names the daemon too (found by
  // this file: it used to say only "gettransaction.txid: expected a string, got nothing").
  it("the wrong-shape error names the daemon", () => {
    const line = logged.get("JSON of the wrong shape (HTTP 200)");
    expect(line, "the wrong-shape phase ran").toBeDefined();
    expect(line?.err).toMatch(/bitcoind at http:\/\/cryptoassets:\*\*\*@127\.0\.0\.1:\d+\/wallet\/ours/);
  });
});
