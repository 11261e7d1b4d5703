/**
 * Passwords in URLs, table-driven: every character that breaks naive masking (`/ @ : % # ?`,
 * percent-encoding, a token in the query) in the database, daemon and webhook URLs, checked
 * in every place a URL is printed — configuration errors and library errors, the masked
 * config, the service's logs, /health, /status.json, /metrics, the dashboard, and the
 * operator CLI (`initialize-database`, `events list`, `events show`). A URL that cannot be
 * parsed is never echoed, not even masked: the error says what is wrong without it.
 *
 * The service runs as a real child process on a real PostgreSQL database (trust auth: the
 * server never asks for the password, so any password connects); the daemon and the webhook
 * receiver are ports where nothing listens, so their URLs end up in error messages.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRpcUrl } from "../../src/backends/bitcoind/url.js";
import { type CryptoassetsConfig, maskSecrets, parseConfig } from "../../src/config/index.js";
import { openDatabase } from "../../src/db/open.js";
import { runSerializable } from "../../src/db/serializable.js";
import { parseDatabaseUrl } from "../../src/db/url.js";
import { HttpEventHandler } from "../../src/events/handlers/http.js";
import { Outbox } from "../../src/events/outbox/index.js";
import { maskUrl, UNPARSEABLE_URL } from "../../src/redact/url.js";
import type { StatusSnapshot } from "../../src/service/status.js";
import { sampleEvent } from "../events-handlers/helpers.js";
import { CLI, freePort, killChild, runCli } from "../service/support.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait.js";

interface Row {
  name: string;
  /** As written in the URL. */
  password: string;
  /** Whether a URL with it is valid: the rest must be percent-encoded to be. */
  valid: boolean;
}

const ROWS: Row[] = [
  { name: "an @ (the old mask showed app:***@ss@…)", password: "Qw1A@Er2B", valid: true },
  { name: "a :", password: "Ty3C:Ui4D", valid: true },
  {
    name: "percent-encoded / # ? @ % and a space",
    password: "Op5E%2FAs6F%23Df7G%3FGh8H%40Jk9I%25Lz0J%20Xc1K",
    valid: true,
  },
  { name: "a raw / (the issue's base64 password)", password: "Zm9v/YmFy+c2VjcmV0", valid: false },
  { name: "a raw #", password: "Vb2L#Nm3M", valid: false },
  { name: "a raw ?", password: "Qa4N?Ws5O", valid: false },
  { name: "a bare % that is not an escape", password: "Ed6P%zRf7Q", valid: false },
];

/** Every alphanumeric run of 4+ characters of the password, raw and decoded: none may appear anywhere. */
function fragments(password: string): string[] {
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // A bare % does not decode; the raw runs are enough.
  }
  return [...new Set([...password.split(/[^A-Za-z0-9]+/), ...decoded.split(/[^A-Za-z0-9]+/)])].filter(
    (run) => run.length >= 4,
  );
}

function expectNoPassword(place: string, text: string, row: Row): void {
  for (const fragment of fragments(row.password)) {
    expect(text, `${place} shows "${fragment}" of the password ${row.password}`).not.toContain(fragment);
  }
}

function urls(row: Row, ports: { db: string; daemon: number; webhook: number }) {
  const token = encodeURIComponent(row.password);
  return {
    database: `postgresql://postgres:${row.password}@127.0.0.1:5432/${ports.db}?application_name=masking&password=${token}`,
    daemon: `http://rpc:${row.password}@127.0.0.1:${ports.daemon}/`,
    webhook: `http://hook:${row.password}@127.0.0.1:${ports.webhook}/hook?token=${token}`,
  };
}

function configYaml(u: ReturnType<typeof urls>, statusPort: number): string {
  return [
    `database: { url: '${u.database}' }`,
    "coins:",
    "  btc:",
    `    backend: { class: bitcoind, url: '${u.daemon}', wallet: ours, timeout: 1 }`,
    "    network: regtest",
    "events:",
    `  app: { class: http, url: '${u.webhook}', timeout: 1 }`,
    `status-server: { ip: 127.0.0.1, port: ${statusPort} }`,
    "service:",
    "  poll_period: 0.2",
    "  shutdown_grace_period: 2",
    "  dispatcher: { poll_interval: 0.2, retry_schedule: [0.2, 0.2, 3600] }",
  ].join("\n");
}

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 20_000 });
  return { code: result.status, text: `${result.stdout}${result.stderr}` };
}

const dir = mkdtempSync(join(tmpdir(), "ca-masking-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(ROWS.filter((row) => !row.valid))("a password with $name, not percent-encoded", (row) => {
  const u = urls(row, { db: "nowhere", daemon: 9, webhook: 9 });

  it("is refused by the configuration with the key and the reason, never the URL", () => {
    const path = join(dir, `invalid-${ROWS.indexOf(row)}.yaml`);
    writeFileSync(path, configYaml(u, 9));
    for (const command of ["initialize-database", "helper-service"]) {
      const result = cli(command, path);
      expect(result.code).toBe(1);
      expectNoPassword(`${command} output`, result.text, row);
      for (const key of ["database.url", "coins.btc.backend.url", "events.app.url"]) {
        expect(result.text).toContain(key);
      }
      expect(result.text).toMatch(/percent-encode|%25|%2F|%23|%3F|%40/);
    }
  });

  it("is refused by the library with the reason, never the URL", () => {
    const errors: string[] = [];
    const collect = (run: () => unknown) => {
      try {
        run();
        errors.push("(accepted)");
      } catch (error) {
        errors.push((error as Error).message);
      }
    };
    collect(() => parseDatabaseUrl(u.database));
    collect(() => parseRpcUrl(u.daemon));
    collect(() => new HttpEventHandler("app", { url: u.webhook }));
    for (const message of errors) {
      expect(message).not.toBe("(accepted)");
      expectNoPassword("library error", message, row);
    }
  });

  it("is masked by maskSecrets even in a configuration that was never validated", () => {
    const raw = {
      database: { url: u.database },
      coins: { btc: { backend: { class: "bitcoind", url: u.daemon } } },
      events: { app: { class: "http", url: u.webhook } },
    } as unknown as CryptoassetsConfig;
    expectNoPassword("maskSecrets", JSON.stringify(maskSecrets(raw)), row);
  });
});

describe.each(ROWS.filter((row) => row.valid))("a password with $name", (row) => {
  let database: TestDatabase;
  let u: ReturnType<typeof urls>;
  let configPath: string;
  let statusPort: number;

  beforeAll(async () => {
    database = await createTestDatabase("postgres");
    u = urls(row, {
      db: new URL(database.url).pathname.slice(1),
      daemon: await freePort(),
      webhook: await freePort(),
    });
    statusPort = await freePort();
    configPath = join(dir, `valid-${ROWS.indexOf(row)}.yaml`);
    writeFileSync(configPath, configYaml(u, statusPort));
  });
  afterAll(async () => database?.drop());

  it("is masked in maskSecrets and the library's printable URLs", () => {
    const config = parseConfig(
      {
        database: { url: u.database },
        coins: { btc: { backend: { class: "bitcoind", url: u.daemon } } },
        events: { app: { class: "http", url: u.webhook } },
      },
      { env: {} },
    );
    const masked = JSON.stringify(maskSecrets(config));
    expectNoPassword("maskSecrets", masked, row);
    expect(masked).toContain("postgresql://postgres:***@127.0.0.1:5432/");
    expect(masked).toContain("password=***");
    expect(masked).toContain("http://rpc:***@127.0.0.1:");
    expect(masked).toContain("/hook?token=***");
    expect(parseRpcUrl(u.daemon).masked).toMatch(/^http:\/\/rpc:\*\*\*@127\.0\.0\.1:\d+\/$/);
  });

  it("appears nowhere the running service and the operator CLI print URLs", async () => {
    const init = cli("initialize-database", configPath);
    expect(init.code).toBe(0);
    expectNoPassword("initialize-database", init.text, row);
    expect(init.text).toContain("postgresql://postgres:***@127.0.0.1:5432/");

    // One event for the webhook handler, so its URL ends up in a delivery error.
    const db = await openDatabase(u.database);
    const [written] = await runSerializable(db, (trx) =>
      new Outbox(db, ["app"]).writeTxUpdates(trx, [sampleEvent().data]),
    );
    await db.close();
    const eventId = written?.event_id ?? "";

    const service = runCli(["helper-service", configPath], { CRYPTOASSETS_LOG_LEVEL: "debug" });
    try {
      const base = `http://127.0.0.1:${statusPort}`;
      const status = await waitFor("a failed delivery and an unreachable daemon", async () => {
        const snapshot = (await (await fetch(`${base}/status.json`)).json()) as StatusSnapshot;
        return snapshot.events.failed.length > 0 && snapshot.coins[0]?.backend.lastError
          ? snapshot
          : undefined;
      });
      const statusText = JSON.stringify(status);
      expect(status.service.database.url).toMatch(/^postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/\w+\?/);
      expect(status.coins[0]?.backend_url).toMatch(/^http:\/\/rpc:\*\*\*@127\.0\.0\.1:\d+\/wallet\/ours$/);
      expect(status.events.failed[0]?.last_error).toMatch(/http:\/\/hook:\*\*\*@127\.0\.0\.1:\d+\/hook/);
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(503);
      const healthText = await health.text();
      expect(healthText).toContain("rpc:***@127.0.0.1");
      const pages = {
        "/status.json": statusText,
        "/health": healthText,
        "/": await (await fetch(`${base}/`)).text(),
        "/metrics": await (await fetch(`${base}/metrics`)).text(),
        "events list": cli("events", "list", configPath).text,
        "events list --json": cli("events", "list", configPath, "--json").text,
        "events show": cli("events", "show", configPath, eventId).text,
      };
      expect(pages["events show"]).toContain("hook:***@127.0.0.1");
      for (const [place, text] of Object.entries(pages)) expectNoPassword(place, text, row);
    } finally {
      await killChild(service);
    }
    const logs = service.output();
    expect(logs).toContain("rpc:***@127.0.0.1");
    expect(logs).toContain("postgres:***@127.0.0.1");
    expectNoPassword("the service's log", logs, row);
  });
});

describe("maskSecrets", () => {
  it("hides header values, script environment values and URL query tokens", () => {
    const config = parseConfig(
      {
        database: { url: "postgresql://app@db/app?sslmode=require&password=Rt8Y-query-pw" },
        coins: { btc: { backend: { class: "null" } } },
        events: {
          shop: {
            class: "http",
            url: "https://shop.example/hook?token=Hn3K-url-token#Fr5G-fragment",
            headers: { Authorization: "Bearer Zx9C-bearer", "X-Api-Key": "Vb7N-api-key" },
          },
        },
      },
      { env: {} },
    );
    const text = JSON.stringify(maskSecrets(config));
    for (const secret of ["Rt8Y", "Hn3K", "Fr5G", "Zx9C", "Vb7N"]) expect(text).not.toContain(secret);
    // What an operator needs to recognise the configuration stays.
    expect(text).toContain("postgresql://app@db/app?sslmode=***&password=***");
    expect(text).toContain("https://shop.example/hook?token=***#***");
    expect(text).toContain('"headers":{"Authorization":"***","X-Api-Key":"***"}');
  });
});

describe("maskSecrets on a configuration that was never validated", () => {
  it("hides secrets of any shape: a list of secrets (rotation), a number YAML read", () => {
    const raw = {
      database: { url: "sqlite:///:memory:" },
      coins: { btc: { backend: { class: "redis", password: 73519246 } } },
      events: {
        shop: { class: "http", url: "https://shop.example/", secret: ["Qw1E-old-secret", "Rt2Y-new-secret"] },
      },
      "status-server": { admin_token: 4815162342 },
    } as unknown as CryptoassetsConfig;
    const text = JSON.stringify(maskSecrets(raw));
    for (const secret of ["73519246", "Qw1E", "Rt2Y", "4815162342"]) expect(text).not.toContain(secret);
    expect(text).toContain('"secret":["***","***"]');
    expect(text).toContain('"password":"***"');
  });
});

describe("maskUrl", () => {
  it.each([
    ["postgresql://app:s3cr@t@db:5432/app", "postgresql://app:***@db:5432/app"],
    ["postgresql://app:pa:ss@db/app", "postgresql://app:***@db/app"],
    ["postgresql://app@db/app", "postgresql://app@db/app"],
    ["http://u:p%2Fw@[::1]:8332/wallet/ours", "http://u:***@[::1]:8332/wallet/ours"],
    // Parses, but a raw # moved the host: everything up to the last @ is hidden.
    ["postgresql://app:123#abc@db/app", "postgresql://app:***@db/app"],
    ["mysql://root@127.0.0.1:3306/test?ssl=true", "mysql://root@127.0.0.1:3306/test?ssl=***"],
    ["sqlite:///var/lib/app/x.db", "sqlite:///var/lib/app/x.db"],
    ["sqlite:////var/lib/app/x.db", "sqlite:////var/lib/app/x.db"],
    ["sqlite://:memory:", "sqlite://:memory:"],
    ["sqlite://", "sqlite://"],
    ["sqlite:///:memory:?check_same_thread=false", "sqlite:///:memory:?check_same_thread=false"],
    ["postgresql+psycopg2://app:s3cret@db/app", "postgresql+psycopg2://app:***@db/app"],
    ["postgresql://app:Zm9v/YmFy+c2VjcmV0@db/app", UNPARSEABLE_URL],
    ["app:pw@db", UNPARSEABLE_URL],
  ])("%s → %s", (url, shown) => {
    expect(maskUrl(url)).toBe(shown);
  });
});
