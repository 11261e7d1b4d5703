/**
 * Graceful shutdown of the helper service: a delivery in flight is finished and recorded
 * within the grace period; one that overruns it is abandoned without a half-written record
 * (the delivery stays pending and will be delivered again, at-least-once).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/open.js";
import { sqliteUrl } from "../../src/db/url.js";
import { FunctionEventHandler } from "../../src/events/handlers/function.js";
import { startHelperService } from "../../src/service/helper-service.js";
import { waitFor } from "../support/wait.js";
import { type Regtest, startRegtestInProcess } from "./regtest.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("graceful shutdown", () => {
  let dir: string;
  let regtest: Regtest;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-shutdown-"));
    regtest = await startRegtestInProcess();
  });

  afterAll(async () => {
    await regtest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runWithSlowHandler(name: string, handlerMs: number, graceSeconds: number) {
    const calls: string[] = [];
    const slow = new FunctionEventHandler("slow", async (_name, data) => {
      calls.push(`begin ${String((data as { confirmations: number }).confirmations)}`);
      await sleep(handlerMs);
      calls.push("end");
    });
    const url = sqliteUrl(join(dir, `${name}.db`));
    const service = await startHelperService(
      {
        database: { url },
        coins: {
          btc: { backend: { class: "bitcoind", url: regtest.url, wallet: "ours" }, network: "regtest" },
        },
        "status-server": { enabled: false },
        service: { poll_period: 0.2, shutdown_grace_period: graceSeconds },
      },
      { handlers: [slow] },
    );
    const ledger = service.ledger("btc");
    const account = await ledger.createAccount(name);
    const { address } = await ledger.createReceivingAddress(account.id);
    await regtest.pay(address, "0.01");
    await regtest.mine(1);
    await waitFor("the delivery to be in flight", () => (calls.length > 0 ? true : undefined), 10_000, 10);
    const started = Date.now();
    const exit = await service.stop("test");
    const tookMs = Date.now() - started;
    const database = await openDatabase(url);
    const deliveries = await database.db
      .selectFrom("ca_delivery")
      .select(["state", "attempts", "claimed_by"])
      .where("handler", "=", "slow")
      .execute();
    const attempts = await database.db.selectFrom("ca_delivery_attempt").selectAll().execute();
    await database.close();
    return { exit, tookMs, calls, deliveries, attempts };
  }

  it("finishes and records a delivery in flight before stopping", async () => {
    const result = await runWithSlowHandler("finish", 800, 5);
    expect(result.exit).toEqual({ code: 0, reason: "test" });
    expect(result.calls).toEqual(["begin 1", "end"]);
    expect(result.deliveries).toEqual([{ state: "delivered", attempts: 1, claimed_by: null }]);
    expect(result.attempts).toHaveLength(1);
    expect(result.tookMs).toBeGreaterThanOrEqual(400);
    expect(result.tookMs).toBeLessThan(5000);
  });

  it("abandons work that overruns the grace period without writing half of it", async () => {
    const result = await runWithSlowHandler("abandon", 8000, 1);
    expect(result.exit.code).toBe(0);
    expect(result.tookMs).toBeLessThan(1000 + 1500);
    expect(result.calls).toEqual(["begin 1"]);
    // Still pending, no attempt recorded: the lease expires and the event is delivered again.
    expect(result.deliveries).toHaveLength(1);
    expect(result.deliveries[0]).toMatchObject({ state: "pending", attempts: 0 });
    expect(result.attempts).toEqual([]);
  });
});
