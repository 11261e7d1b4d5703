/**
 * backendstatus on the simulator behind a proxy that can refuse connections, with the helper
 * service following it: a tip that stands still past stuck_after_blocks × block_interval is
 * `stuck`, a refused daemon is `unreachable`, each recovery is `up` — one event per change,
 * never one per failed call or per probe — and a restart during an outage (state in the
 * database) does not report the outage again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqliteUrl } from "../../src/db/url.js";
import { FunctionEventHandler } from "../../src/events/handlers/function.js";
import { listDeliveries, showEvent } from "../../src/events/outbox/queries.js";
import type { BackendStatusData, CryptoassetsEvent } from "../../src/events/types.js";
import { type HelperService, startHelperService } from "../../src/service/helper-service.js";
import { FaultyProxy } from "../chain/support/faulty-proxy.js";
import { type Regtest, startRegtestInProcess } from "../service/regtest.js";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";

const PASSWORD = "backend-status-rpc";

describe("backendstatus", () => {
  let regtest: Regtest;
  let proxy: FaultyProxy;
  let dir: string;
  let service: HelperService | undefined;
  const received: CryptoassetsEvent<"backendstatus">[] = [];
  let mining: NodeJS.Timeout | undefined;

  const start = () =>
    startHelperService(
      {
        database: { url: sqliteUrl(join(dir, "ledger.db")) },
        coins: {
          btc: {
            backend: {
              class: "bitcoind",
              url: proxy.url(decodeURIComponent(new URL(regtest.url).username), PASSWORD),
              wallet: "ours",
              timeout: 2,
            },
            network: "regtest",
            // Stuck after 2 s without a new block (the probe then runs every 500 ms).
            block_interval: 1,
            stuck_after_blocks: 2,
          },
        },
        "status-server": { enabled: false },
        service: { poll_period: 0.5, shutdown_grace_period: 5, dispatcher: { poll_interval: 0.2 } },
      },
      {
        handlers: [
          new FunctionEventHandler("ops", (name, _data, event) => {
            if (name === "backendstatus") received.push(event as CryptoassetsEvent<"backendstatus">);
          }),
        ],
      },
    );
  const statuses = () => received.map((e) => `${e.data.previous_status}>${e.data.status}`);
  const waitForStatuses = (expected: string[], timeoutMs = 30_000) =>
    waitFor(
      () => `backendstatus ${expected.join(", ")} (have ${statuses().join(", ")})`,
      () => statuses().length >= expected.length,
      timeoutMs,
      100,
    ).then(() => expect(statuses()).toEqual(expected));
  const keepMining = () => {
    mining = setInterval(() => void regtest.mine(1).catch(() => undefined), 300);
  };
  const stopMining = () => clearInterval(mining);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-backend-status-"));
    regtest = await startRegtestInProcess(PASSWORD);
    proxy = await FaultyProxy.start("127.0.0.1", Number(new URL(regtest.url).port), await freePort());
  }, 60_000);

  afterAll(async () => {
    stopMining();
    await service?.stop();
    await proxy?.close();
    await regtest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports a still tip as stuck once, and its recovery", async () => {
    service = await start();
    // A healthy first start reports nothing; a tip standing still 2 s is stuck.
    await waitForStatuses(["up>stuck"]);
    const stuck = received[0]?.data as BackendStatusData;
    expect(stuck).toMatchObject({ coin_name: "btc", status: "stuck", stuck_after_seconds: 2, error: null });
    expect(stuck.tip_height).toBe(101);
    // Several more probes of the same still tip: still one event.
    await sleep(2000);
    expect(statuses()).toEqual(["up>stuck"]);
    keepMining();
    await waitForStatuses(["up>stuck", "stuck>up"]);
    expect(received[1]?.data.tip_height).toBeGreaterThan(101);
  }, 60_000);

  it("reports an unreachable daemon once however many calls fail, and not again after a restart during the outage", async () => {
    const callsBefore = proxy.forwarded;
    await proxy.down();
    await waitForStatuses(["up>stuck", "stuck>up", "up>unreachable"]);
    const down = received[2]?.data as BackendStatusData;
    expect(down.error).toMatch(/127\.0\.0\.1/);
    expect(down.error).not.toContain(PASSWORD);
    // Probes and chain work keep failing for a while: no second event.
    await sleep(3000);
    expect(statuses()).toHaveLength(3);

    // Restart while the daemon is still unreachable: the stored state says so already.
    await service?.stop();
    service = await start();
    await sleep(4000);
    expect(statuses()).toHaveLength(3);

    await proxy.up();
    await waitForStatuses(["up>stuck", "stuck>up", "up>unreachable", "unreachable>up"], 60_000);
    expect(proxy.forwarded).toBeGreaterThan(callsBefore);

    // Durable events like any other: in events list/show, ordered under one key per coin.
    const database = (service as HelperService).database;
    const rows = await listDeliveries(database, { handler: "ops" });
    const recovery = received[3] as CryptoassetsEvent<"backendstatus">;
    expect(rows.filter((r) => r.event_name === "backendstatus")).toHaveLength(4);
    const shown = await showEvent(database, recovery.event_id);
    expect(shown).toMatchObject({
      event_name: "backendstatus",
      ordering_key: "btc:backendstatus",
      data: { status: "up", previous_status: "unreachable" },
    });
    stopMining();
  }, 120_000);
});
