/**
 * The status server of a running helper service (in this process, over real HTTP): health,
 * status.json, Prometheus metrics, the dashboard's escaping, secrets kept out, and the admin
 * token guarding redelivery.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { parseConfigYaml } from "../../src/config/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { FunctionEventHandler } from "../../src/events/handlers/function.js";
import { type HelperService, startHelperService } from "../../src/service/helper-service.js";
import type { StatusSnapshot } from "../../src/service/status.js";
import { startSimulator } from "../../src/simulator/index.js";
import { waitFor } from "../support/wait.js";
import { type Regtest, startRegtestInProcess } from "./regtest.js";
import { freePort, getJson } from "./support.js";

const RPC_PASSWORD = "hunter2-rpc-secret";
const ADMIN_TOKEN = "tok-0123456789-admin";
const HOSTILE_ERROR = "receiver down <script>alert(1)</script>";

/** Prometheus text → value of one sample ("name{labels}" exactly as exposed). */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe("status server", () => {
  let dir: string;
  let regtest: Regtest;
  let service: HelperService;
  let base: string;
  let failing = true;
  let txid: string;
  let address: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-status-"));
    regtest = await startRegtestInProcess(RPC_PASSWORD);
    const flaky = new FunctionEventHandler("flaky", () => {
      if (failing) throw new Error(HOSTILE_ERROR);
    });
    service = await startHelperService(
      {
        database: { url: sqliteUrl(join(dir, "status.db")) },
        coins: {
          btc: {
            backend: { class: "bitcoind", url: regtest.url, wallet: "ours", timeout: 5 },
            network: "regtest",
          },
        },
        "status-server": { ip: "127.0.0.1", port: 0, admin_token: ADMIN_TOKEN },
        service: {
          poll_period: 0.2,
          shutdown_grace_period: 5,
          dispatcher: { poll_interval: 0.2, retry_schedule: [0.05] },
        },
      },
      { handlers: [flaky] },
    );
    base = (service.statusUrl ?? "").replace(/\/$/, "");
    await waitFor("a healthy service", async () =>
      (await fetch(`${base}/health`)).status === 200 ? true : undefined,
    );
    const ledger = service.ledger("btc");
    const account = await ledger.createAccount("status-page");
    address = (await ledger.createReceivingAddress(account.id)).address;
    txid = await regtest.pay(address, "0.1");
    await regtest.mine(1);
    await waitFor(
      "a dead delivery",
      async () => ((await service.status()).events.dead.length > 0 ? true : undefined),
      15_000,
    );
  });

  afterAll(async () => {
    await service?.stop();
    await regtest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers /health with 200 and the absence of problems", async () => {
    const health = await getJson<{ ok: boolean; problems: string[] }>(`${base}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true, problems: [] });
  });

  it("serves status.json with coins, open transactions and dead deliveries, without secrets", async () => {
    const response = await fetch(`${base}/status.json`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain(RPC_PASSWORD);
    expect(text).not.toContain(ADMIN_TOKEN);
    const status = JSON.parse(text) as StatusSnapshot;
    expect(status.coins[0]?.backend_url).toMatch(
      /^http:\/\/cryptoassets:\*\*\*@127\.0\.0\.1:\d+\/wallet\/ours$/,
    );
    expect(status.coins[0]?.backend.state).toBe("reachable");
    expect(status.coins[0]?.tip?.height).toBe(102);
    expect(status.coins[0]?.follower_leader).toBe(true);
    expect(status.open_transactions).toMatchObject([
      { txid, confirmations: 1, amount: "0.10000000", credited: false },
    ]);
    expect(status.events.dead).toMatchObject([
      { handler: "flaky", attempts: 2, last_error: `function failed: ${HOSTILE_ERROR}` },
    ]);
    // One word for a delivery pending after a failed attempt: `failed`; the former `failing` stays beside it.
    expect(status.events.handlers).toEqual([
      { handler: "flaky", pending: 0, failed: 0, failing: 0, dead: 1, delivered: 0 },
    ]);
    expect(status.events.failing).toEqual(status.events.failed);
    expect(status.service.admin_actions).toBe(true);
    expect(status.subsystems.map((s) => s.name).sort()).toEqual(
      ["btc.backend", "btc.broadcaster", "btc.chain", "dispatcher", "status-server"].sort(),
    );
  });

  it("exposes Prometheus metrics on its own registry", async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(sample(text, 'cryptoassets_chain_tip_height{coin="btc"}')).toBe(102);
    expect(sample(text, 'cryptoassets_open_network_transactions{coin="btc"}')).toBe(1);
    expect(sample(text, 'cryptoassets_event_deliveries_total{handler="flaky",outcome="dead"}')).toBe(1);
    expect(sample(text, 'cryptoassets_rpc_calls_total{coin="btc",method="listsinceblock"}')).toBeGreaterThan(
      0,
    );
    expect(sample(text, 'cryptoassets_ledger_updates_total{coin="btc"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, "cryptoassets_events_created_total")).toBeGreaterThanOrEqual(1);
    expect(text).toContain("# TYPE cryptoassets_event_delivery_latency_seconds histogram");
    expect(text).not.toContain("process_cpu"); // not prom-client's global default metrics
  });

  it("renders the dashboard with every value HTML-escaped", async () => {
    const response = await fetch(`${base}/`);
    const html = await response.text();
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(html).toContain(`data-txid="${txid}"`);
    expect(html).toContain("receiver down &lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).not.toContain(RPC_PASSWORD);
    expect(html).not.toContain(ADMIN_TOKEN);
    const fragment = await (await fetch(`${base}/?fragment=1`)).text();
    expect(fragment).not.toContain("<html");
    expect(fragment).toContain("Open transactions");
  });

  it("guards redelivery with the admin token, then redelivers the dead delivery", async () => {
    const redeliverDead = `${base}/events/redeliver-dead`;
    expect((await fetch(redeliverDead, { method: "POST" })).status).toBe(401);
    const wrong = await fetch(redeliverDead, { method: "POST", headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const unknown = await fetch(`${base}/events/01900000-0000-7000-8000-000000000000/redeliver`, {
      method: "POST",
      headers: auth,
    });
    expect(unknown.status).toBe(404);

    failing = false;
    const ok = await getJson<{ redelivered: number }>(redeliverDead, { method: "POST", headers: auth });
    expect(ok).toEqual({ status: 200, body: { redelivered: 1 } });
    const status = await waitFor("the redelivered event", async () => {
      const snapshot = await service.status();
      return snapshot.events.handlers[0]?.delivered === 1 ? snapshot : undefined;
    });
    expect(status.events.dead).toEqual([]);

    const eventId = status.events.recent[0]?.event_id as string;
    const again = await getJson<{ redelivered: number }>(`${base}/events/${eventId}/redeliver`, {
      method: "POST",
      headers: auth,
    });
    expect(again).toEqual({ status: 200, body: { redelivered: 1 } });
  });
});

describe("status server without an admin token", () => {
  it("is read-only: admin actions answer 403", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-status-ro-"));
    const service = await startHelperService({
      database: { url: sqliteUrl(join(dir, "ro.db")) },
      coins: { btc: { backend: { class: "null" }, network: "regtest" } },
      "status-server": { port: 0 },
    });
    try {
      const base = (service.statusUrl ?? "").replace(/\/$/, "");
      const response = await fetch(`${base}/events/redeliver-dead`, {
        method: "POST",
        headers: { authorization: "Bearer anything" },
      });
      expect(response.status).toBe(403);
      expect(await response.text()).toMatch(/admin_token/);
      const html = await (await fetch(`${base}/`)).text();
      expect(html).toContain("read-only");
      expect(html).not.toContain('id="redeliver-dead"');
    } finally {
      expect(await service.stop()).toMatchObject({ code: 0 });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("status-server.enabled in the configuration file", () => {
  it("false loads and starts no status server; left out, the server starts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-status-off-"));
    const yaml = (enabled: string) => `
database: { url: "${sqliteUrl(join(dir, "off.db"))}" }
coins: { btc: { backend: { class: "null" }, network: regtest } }
status-server: { port: 0${enabled} }
`;
    try {
      const off = parseConfigYaml(yaml(", enabled: false"));
      expect(off["status-server"].enabled).toBe(false);
      const stopped = await startHelperService(off);
      expect(stopped.statusUrl).toBeUndefined();
      expect(await stopped.stop()).toMatchObject({ code: 0 });
      const on = await startHelperService(parseConfigYaml(yaml("")));
      try {
        expect((await fetch(`${on.statusUrl}health`)).status).toBe(200);
      } finally {
        expect(await on.stop()).toMatchObject({ code: 0 });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a daemon that is unreachable at start", () => {
  it("is reported (503 with the reason) and retried with backoff until it answers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-status-down-"));
    const rpcPort = await freePort();
    const service = await startHelperService({
      database: { url: sqliteUrl(join(dir, "down.db")) },
      coins: {
        btc: {
          backend: {
            class: "bitcoind",
            url: `http://u:pw-secret@127.0.0.1:${rpcPort}/`,
            wallet: "ours",
            timeout: 2,
          },
          network: "regtest",
        },
      },
      "status-server": { port: 0 },
      service: { poll_period: 0.2 },
    });
    let sim: Awaited<ReturnType<typeof startSimulator>> | undefined;
    try {
      const base = (service.statusUrl ?? "").replace(/\/$/, "");
      const down = await waitFor("an unhealthy report", async () => {
        const health = await getJson<{ ok: boolean; problems: string[] }>(`${base}/health`);
        return health.body.problems.some((p) => p.startsWith("btc.backend is degraded")) ? health : undefined;
      });
      expect(down.status).toBe(503);
      expect(down.body.problems.join("\n")).toMatch(/btc\.backend is degraded: .*refused.*retrying in \d+s/);
      expect(down.body.problems.join("\n")).not.toContain("pw-secret");
      expect((await service.status()).coins[0]?.backend.state).toBe("unreachable");

      sim = await startSimulator({ port: rpcPort, rpcUser: "u", rpcPassword: "pw-secret" });
      const rpc = new BitcoindRpcClient({ url: sim.url });
      await rpc.call("createwallet", ["ours"]);
      await rpc.close();
      const up = await waitFor(
        "recovery",
        async () => {
          const health = await getJson<{ ok: boolean }>(`${base}/health`);
          return health.status === 200 ? health : undefined;
        },
        15_000,
      );
      expect(up.body.ok).toBe(true);
      expect((await service.status()).coins[0]?.backend.state).toBe("reachable");
    } finally {
      expect(await service.stop()).toMatchObject({ code: 0 });
      await sim?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
