/**
 * A long daemon outage (issue 10, fault 4): every failed tick used to schedule one more retry
 * beside the periodic tick, so the retry chains grew by one per poll period (1, 2, 3 … 13
 * failed calls per 10 s after three minutes). Now there is at most one pending retry per kind
 * of work, the delay doubles up to a cap, and the first success resets it.
 *
 * Time is simulated (fake timers drive the follower's periods and retries); the daemon side
 * is real: an HTTP proxy in front of the simulator that answers every request with HTTP 500
 * during the outage and counts them.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ChainEnv, startChainEnv } from "./support/env.js";
import { FaultyProxy } from "./support/faulty-proxy.js";
import { captureLogs } from "./support/logs.js";

const POLL_S = 10;
const RECHECK_S = 600;
const CAP_S = 60;
const OUTAGE_S = 30 * 60;
/** Far above what the fixed follower makes, far below the storm's ~16,000: the loop stops early. */
const STORM = 2_000;

describe("a long daemon outage", () => {
  let env: ChainEnv | undefined;
  let proxy: FaultyProxy | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await env?.close();
    await proxy?.close();
    env = undefined;
  });

  /** Advances simulated time in steps, letting the follower's real I/O finish after each. */
  async function advance(seconds: number, stop: () => boolean = () => false): Promise<void> {
    for (let t = 0; t < seconds && !stop(); t += 5) {
      await vi.advanceTimersByTimeAsync(5_000);
      await env?.runtime.follower.idle();
    }
  }

  it("30 minutes of HTTP 500: one retry per kind of work with capped backoff, bounded calls and log lines, reset on success", async () => {
    const { logger, lines } = captureLogs();
    env = await startChainEnv({
      engine: "sqlite",
      backendUrl: async (sim) => {
        proxy = await FaultyProxy.start(sim.host, sim.port);
        return proxy.url(sim.rpcUser, sim.rpcPassword);
      },
      service: { poll_period: POLL_S, recheck_period: RECHECK_S, retry_backoff_cap: CAP_S },
      logger,
    });
    const daemon = proxy as FaultyProxy;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    await env.runtime.startChain();
    expect(env.runtime.follower.status().consecutiveFailures).toBe(0);

    daemon.mode = "http500";
    const linesBefore = lines.length;
    await advance(OUTAGE_S, () => daemon.faulted > STORM);
    const calls = daemon.faulted;
    const logged = lines.slice(linesBefore).filter((line) => Number(line.level) >= 40);
    const followerLogged = logged.filter((line) => line.module === "chain.follower");

    // Tip work: failures at 10, 20, 40, 60, 60 … s apart ≈ 32 calls in 30 min; the re-check
    // (every 600 s) adds ≈ 22 from its first failure on. The storm made ~16,000.
    expect(calls).toBeGreaterThan(20);
    expect(calls).toBeLessThanOrEqual(70);
    // One warning per failed call from the RPC client, and the follower's own lines only at the
    // first failure of each kind and every tenth one after it.
    expect(logged.length).toBeLessThanOrEqual(calls + 12);
    expect(followerLogged.length).toBeGreaterThanOrEqual(2);
    expect(followerLogged.length).toBeLessThanOrEqual(12);
    const status = env.runtime.follower.status();
    expect(status.consecutiveFailures).toBeGreaterThan(0);
    expect(status.lastError?.message).toMatch(/HTTP 500/);

    // The daemon is back: the next retry (within the cap) succeeds and resets the backoff, so
    // a new block is seen within one poll period again — not one cap.
    daemon.mode = "pass";
    await advance(CAP_S + 5);
    expect(env.runtime.follower.status().consecutiveFailures).toBe(0);
    const height = env.runtime.tracker.lastTip?.height ?? 0;
    await env.payer.call("generatetoaddress", [1, env.payerAddress]);
    await advance(POLL_S);
    expect(env.runtime.tracker.lastTip?.height).toBe(height + 1);

    // Another outage: once the daemon answers the service's probe (daemonReachable), the work
    // that backs off retries at once instead of at the end of its delay.
    daemon.mode = "http500";
    await advance(3 * CAP_S);
    expect(env.runtime.follower.status().consecutiveFailures).toBeGreaterThan(0);
    daemon.mode = "pass";
    env.runtime.follower.daemonReachable();
    await env.runtime.follower.idle();
    expect(env.runtime.follower.status().consecutiveFailures).toBe(0);
  });
});
