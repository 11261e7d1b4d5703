/**
 * A daemon that is down, slow (beyond the RPC timeout), or answers HTTP 500 / 401: the
 * follower keeps running, reports a clear error, and once the daemon is back a follow-up
 * run catches up — nothing notified during the outage is lost.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RpcTransportError } from "../../src/errors.js";
import { findNetworkTransaction } from "../../src/ledger/index.js";
import { waitFor } from "../support/wait.js";
import { type ChainEnv, sats, startChainEnv } from "./support/env.js";
import { FaultyProxy } from "./support/faulty-proxy.js";

const PASSWORD = "s3cret-rpc-pw";

interface Fault {
  name: string;
  message: RegExp;
  failure: string;
  apply(proxy: FaultyProxy): Promise<void>;
  recover(proxy: FaultyProxy): Promise<void>;
}

const faults: Fault[] = [
  {
    name: "down",
    message:
      /cannot connect to bitcoind at http:\/\/cryptoassets:\*\*\*@127\.0\.0\.1:\d+\/wallet\/ours: connection refused/,
    failure: "refused",
    apply: (proxy) => proxy.down(),
    recover: (proxy) => proxy.up(),
  },
  {
    name: "slow",
    message: /did not answer within 400 ms \(timed out\)/,
    failure: "timeout",
    apply: async (proxy) => {
      proxy.mode = "slow";
    },
    recover: async (proxy) => {
      proxy.mode = "pass";
    },
  },
  {
    name: "HTTP 500",
    message: /answered HTTP 500 with a body that is not JSON/,
    failure: "http-status",
    apply: async (proxy) => {
      proxy.mode = "http500";
    },
    recover: async (proxy) => {
      proxy.mode = "pass";
    },
  },
  {
    name: "HTTP 401",
    message: /rejected the credentials \(HTTP 401\): check the RPC user and password/,
    failure: "unauthorized",
    apply: async (proxy) => {
      proxy.mode = "http401";
    },
    recover: async (proxy) => {
      proxy.mode = "pass";
    },
  },
];

describe("a misbehaving daemon", () => {
  let env: ChainEnv | undefined;
  let proxy: FaultyProxy | undefined;
  afterEach(async () => {
    await env?.close();
    await proxy?.close();
    env = undefined;
    proxy = undefined;
  });

  it.each(faults)(
    "$name: errors are clear, the follower keeps running, and catches up afterwards",
    async (fault) => {
      env = await startChainEnv({
        engine: "sqlite",
        simulator: () => ({ rpcPassword: PASSWORD }),
        backendUrl: async (sim) => {
          proxy = await FaultyProxy.start(sim.host, sim.port);
          return proxy.url(sim.rpcUser, PASSWORD);
        },
        backendTimeoutSeconds: 0.4,
        // Tip polling and retries every 200 ms.
        service: { poll_period: 0.2 },
      });
      const { runtime, payer } = env;
      const activeProxy = proxy as FaultyProxy;
      activeProxy.slowMs = 1200;
      await runtime.start();
      const alice = await runtime.ledger.createAccount("alice");
      const address = (await runtime.ledger.createReceivingAddress(alice.id)).address;
      const before = String(await payer.call("sendtoaddress", [address, "0.1"]));
      await env.mine(1);
      await waitFor(
        "the first deposit",
        async () => (await deposit(env as ChainEnv, before))?.confirmations === 1,
        10_000,
        20,
      );

      await fault.apply(activeProxy);
      // Paid and notified during the outage.
      const during = String(await payer.call("sendtoaddress", [address, "0.2"]));
      runtime.follower.walletNotify(during);
      const direct = await runtime.updater.update(during).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(direct).toBeInstanceOf(RpcTransportError);
      expect((direct as RpcTransportError).failure).toBe(fault.failure);
      expect((direct as Error).message).toMatch(fault.message);
      expect((direct as Error).message).not.toContain(PASSWORD);
      await expect(runtime.tracker.tick({ force: true })).rejects.toThrow(fault.message);

      await waitFor(
        "failures to be counted",
        () => (runtime.follower.status().consecutiveFailures ?? 0) >= 2,
        10_000,
        20,
      );
      const status = runtime.follower.status();
      expect(status.running).toBe(true);
      expect(status.lastError?.message).toMatch(fault.message);
      expect(JSON.stringify(status)).not.toContain(PASSWORD);
      expect(await deposit(env, during)).toBeUndefined();

      await env.mine(1);
      await fault.recover(activeProxy);
      // The retried notification and the next tip poll bring everything in.
      await waitFor(
        "the deposit made during the outage",
        async () => (await deposit(env as ChainEnv, during))?.confirmations === 1,
        15_000,
        20,
      );
      await waitFor(
        "the older deposit to advance",
        async () => (await deposit(env as ChainEnv, before))?.confirmations === 2,
        10_000,
        20,
      );
      await waitFor(
        "the follower to recover",
        () => runtime.follower.status().consecutiveFailures === 0,
        10_000,
        20,
      );
      expect(await runtime.ledger.accountBalance(alice.id)).toEqual({
        confirmed: 0n,
        unconfirmed: sats("0.3"),
      });
    },
  );
});

async function deposit(env: ChainEnv, txid: string) {
  return env.runtime.ledger.run((trx, ctx) => findNetworkTransaction(trx, ctx, txid, "deposit"));
}
