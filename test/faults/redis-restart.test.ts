/**
 * Issue 6, service level: Redis restarted under the Redis walletnotify listener of the real
 * helper service (CLI child). The simulator's walletnotify publishes each txid to a private
 * redis-server (`redis-cli publish <channel> %s`, as a bitcoin.conf would); blocknotify
 * reaches the service over HTTP (curl). Redis is shut down (`shutdown nosave`) and started
 * again on the same port in the middle of the run.
 *
 * A txid published while Redis is down is lost by pub/sub's nature. The service must still
 * credit that deposit — through its block-driven catch-up (listsinceblock on the next block)
 * — and deliver its events; and after the restart the listener must be subscribed again
 * (a deposit's mempool event arrives with no block mined).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqliteUrl } from "../../src/db/url.js";
import { notifyCommand } from "../service/regtest.js";
import { freePort } from "../service/support.js";
import { waitFor } from "../support/wait.js";
import { type ExternalChain, ONLY_OURS, startExternalChain } from "./support/external-chain.js";
import { FaultyReceiver } from "./support/external-receiver.js";
import { PrivateRedis } from "./support/external-redis.js";
import {
  type AppSide,
  type Deposit,
  expectNothingLost,
  type ServiceProcess,
  startServiceAndApp,
  tearDown,
  waitForSettled,
  writeServiceConfig,
} from "./support/external-service.js";

const CHANNEL = "bitcoind_walletnotify_faults";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("helper service across a Redis restart (Redis walletnotify listener)", () => {
  let dir: string;
  let redis: PrivateRedis | undefined;
  let chain: ExternalChain | undefined;
  let receiver: FaultyReceiver | undefined;
  let service: ServiceProcess | undefined;
  let app: AppSide | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-fault-redis-"));
    const redisPort = await freePort();
    const blocknotifyPort = await freePort();
    const statusPort = await freePort();
    redis = await PrivateRedis.start(redisPort);
    receiver = await FaultyReceiver.start();
    chain = await startExternalChain({
      // What bitcoin.conf would say; a failed publish (Redis down) is simply lost, like bitcoind's.
      walletnotify: `${ONLY_OURS}redis-cli -h 127.0.0.1 -p ${redisPort} publish ${CHANNEL} %s >/dev/null 2>&1; true`,
      blocknotify: notifyCommand("blockhash", blocknotifyPort, false),
    });
    const databaseUrl = sqliteUrl(join(dir, "service.db"));
    const configPath = writeServiceConfig(dir, {
      databaseUrl,
      rpcUrl: chain.url,
      statusPort,
      walletnotify: { class: "redis", port: redisPort, channel: CHANNEL },
      blocknotifyPort,
      receiverUrl: receiver.url,
    });
    ({ service, app } = await startServiceAndApp(configPath, statusPort, databaseUrl, chain));
  }, 40_000);

  afterAll(async () => {
    await tearDown(dir, service, app, receiver, chain, redis);
  }, 30_000);

  it("credits the deposit whose notification was lost while Redis was down, resubscribes, and loses no event", async () => {
    const [svc, server, ch, ledger, rcv] = [
      service as ServiceProcess,
      redis as PrivateRedis,
      chain as ExternalChain,
      app as AppSide,
      receiver as FaultyReceiver,
    ];
    const mempoolEvent = (deposit: Deposit) => () =>
      rcv.arrivals.some((a) => a.data.txid === deposit.txid && a.data.confirmations === 0) || undefined;
    expect(await server.subscribers(CHANNEL)).toBe(1);

    // Through Redis: the mempool event arrives without any block.
    const heightAtStart = await ch.height();
    const before = await ledger.prepareAndPay(ch, "before", "0.51");
    await waitFor("the mempool event of a deposit notified through Redis", mempoolEvent(before));
    expect(await ch.height()).toBe(heightAtStart);

    // Redis goes away: the next notification is published into the void.
    const mark = svc.output().length;
    await server.stop();
    const lost = await ledger.prepareAndPay(ch, "lost", "0.52");
    await waitFor(
      "the service to notice Redis is gone",
      () => svc.logLines(mark).some((line) => line.msg === "Redis notify connection error") || undefined,
      10_000,
    );
    // An absence can only be watched for a while (no tip polls run beside blocknotify): a
    // fixed time, not a condition.
    await sleep(2500);
    // Nothing told the service about it (no block yet): the ledger does not know it.
    expect(await ledger.confirmationsOf(lost)).toBeUndefined();
    expect(rcv.arrivals.some((a) => a.data.txid === lost.txid)).toBe(false);
    expect(svc.running).toBe(true);

    // Redis is back on the same port: the listener reconnects and subscribes again.
    await server.start();
    await waitFor(
      "the listener to subscribe again",
      async () => (await server.subscribers(CHANNEL)) === 1 || undefined,
      15_000,
    );
    const after = await ledger.prepareAndPay(ch, "after", "0.53");
    await waitFor("the mempool event of a deposit notified after the restart", mempoolEvent(after));
    expect(await ledger.confirmationsOf(lost)).toBeUndefined(); // still no block: still unknown

    // The next block brings the lost one in (listsinceblock), then on to the credit threshold.
    await ch.mine(1);
    await waitFor(
      "the lost deposit to be caught up by the next block",
      async () => (await ledger.confirmationsOf(lost)) === 1 || undefined,
    );
    await ch.mine(2);
    await waitForSettled(ledger, rcv, 30_000);

    expect(svc.runs).toHaveLength(1);
    expect(svc.running).toBe(true);
    expect((await svc.health()).status).toBe(200);
    const log = svc.logLines(mark).map((line) => line.msg);
    expect(log).toContain("reconnecting to Redis");
    expect(log).toContain("connected to Redis");
    await expectNothingLost(ledger, rcv);
    // The lost notification's deposit was first seen mined: its first event is 1 confirmation.
    const lostEvents = rcv.arrivals.filter((a) => a.data.txid === lost.txid);
    expect(lostEvents[0]?.data.confirmations).toBe(1);
    expect(rcv.arrivals.some((a) => a.data.txid === lost.txid && a.data.credited)).toBe(true);
  }, 90_000);
});
