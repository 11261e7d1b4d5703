/**
 * The walletnotify path through the two other transports: a named pipe (`echo %s > fifo`)
 * and Redis pub/sub (`redis-cli publish`). Shorter than the HTTP run: mempool to credited.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { NotifyConfig } from "../../src/config/schema.js";
import { type ChainEnv, expectedSequence, sats, sequences, startChainEnv } from "./support/env.js";

const REDIS_PORT = Number(process.env.CRYPTOASSETS_TEST_REDIS_PORT ?? 6379);

interface Transport {
  name: string;
  command: (dir: string) => string;
  spec: (dir: string) => NotifyConfig;
}

const channel = `ca-test-walletnotify-${randomBytes(4).toString("hex")}`;
const transports: Transport[] = [
  {
    name: "named pipe",
    command: (dir) => `test -p ${join(dir, "walletnotify")} && echo %s > ${join(dir, "walletnotify")}`,
    spec: (dir) => ({ class: "pipe", fname: join(dir, "walletnotify") }),
  },
  {
    name: "Redis pub/sub",
    command: () => `redis-cli -h 127.0.0.1 -p ${REDIS_PORT} publish ${channel} %s > /dev/null`,
    spec: () => ({ class: "redis", host: "127.0.0.1", port: REDIS_PORT, channel }),
  },
];

describe.each(transports)("walletnotify through a $name", (transport) => {
  let env: ChainEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("brings a deposit in at 0 confirmations; blocks then take it to credited", async () => {
    env = await startChainEnv({
      engine: "sqlite",
      simulator: (dir) => ({ walletNotify: transport.command(dir) }),
      notify: (dir) => ({ walletnotify: transport.spec(dir) }),
    });
    const { runtime, payer, sim } = env;
    await runtime.start();
    const alice = await runtime.ledger.createAccount("alice");
    const address = (await runtime.ledger.createReceivingAddress(alice.id)).address;
    const txid = String(await payer.call("sendtoaddress", [address, "0.42"]));
    await sim.notificationsIdle();
    await runtime.follower.idle();
    // Only walletnotify can have brought it in: no tick has run since the start-up scan.
    expect(await env.events()).toMatchObject([{ txid, address, amount: "0.42000000", confirmations: 0 }]);
    expect(runtime.updater.stats().updated).toBe(1);

    for (let block = 1; block <= 3; block++) {
      await env.mine(1);
      runtime.follower.blockNotify();
      await runtime.follower.idle();
    }
    const perTransaction = [...sequences(await env.events()).values()];
    expect(perTransaction).toEqual([expectedSequence(3, 3)]);
    expect(await runtime.ledger.accountBalance(alice.id)).toEqual({
      confirmed: sats("0.42"),
      unconfirmed: 0n,
    });
    expect(runtime.follower.status().lastError).toBeUndefined();
  });
});
