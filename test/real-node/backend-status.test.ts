/**
 * backendstatus on real Bitcoin Core (one regtest node for the file): kill -9 of the node is
 * one `unreachable` however many calls fail, a restart of the helper service during the
 * outage reports nothing again, and the node back is one `up`. (The stuck tip is proven on
 * the simulator, test/events/backend-status.test.ts: on regtest it is off by default.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { sqliteUrl } from "../../src/db/url.js";
import { FunctionEventHandler } from "../../src/events/handlers/function.js";
import type { CryptoassetsEvent } from "../../src/events/types.js";
import { type HelperService, startHelperService } from "../../src/service/helper-service.js";
import { describeWithBitcoind, FUNDING_BLOCKS, RegtestNode } from "../support/bitcoind.js";
import { waitFor } from "../support/wait.js";

describeWithBitcoind("backendstatus on real Bitcoin Core", () => {
  let node: RegtestNode | undefined;
  let service: HelperService | undefined;
  const dir = mkdtempSync(join(tmpdir(), "ca-backend-status-core-"));
  const received: CryptoassetsEvent<"backendstatus">[] = [];
  const statuses = () => received.map((e) => `${e.data.previous_status}>${e.data.status}`);

  const start = () =>
    startHelperService(
      {
        database: { url: sqliteUrl(join(dir, "ledger.db")) },
        coins: {
          btc: {
            backend: { class: "bitcoind", url: (node as RegtestNode).url, wallet: "ours", timeout: 3 },
            network: "regtest",
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

  beforeAll(async () => {
    node = await RegtestNode.start();
    await node.createWallet("ours");
    const payer = await node.createWallet("payer");
    await node.mine(FUNDING_BLOCKS, "payer", String(await payer.call("getnewaddress")));
  }, 90_000);

  afterAll(async () => {
    await service?.stop();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("kill -9: one unreachable, nothing more across a helper restart during the outage, one up when the node is back", async () => {
    const started = node as RegtestNode;
    service = await start();
    await sleep(2000);
    expect(statuses()).toEqual([]); // a healthy first start reports nothing

    await started.kill9();
    await waitFor(
      () => `unreachable (have ${statuses().join(", ")})`,
      () => received.length >= 1,
      60_000,
    );
    expect(statuses()).toEqual(["up>unreachable"]);
    expect(received[0]?.data.error).toMatch(/127\.0\.0\.1/);
    expect(received[0]?.data.error).not.toContain(started.password);
    expect(received[0]?.data.tip_height).toBe(FUNDING_BLOCKS);
    await sleep(3000);
    expect(statuses()).toEqual(["up>unreachable"]);

    await service.stop();
    service = await start();
    await sleep(3000);
    expect(statuses()).toEqual(["up>unreachable"]);

    await started.restart();
    await waitFor(
      () => `up again (have ${statuses().join(", ")})`,
      () => received.length >= 2,
      90_000,
    );
    expect(statuses()).toEqual(["up>unreachable", "unreachable>up"]);
    expect(received[1]?.data).toMatchObject({ coin_name: "btc", status: "up", error: null });
  }, 240_000);
});
