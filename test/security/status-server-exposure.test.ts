/**
 * The status server as a hostile web page or a stranger on the network sees it, over real
 * HTTP on loopback against the real helper service: a DNS-rebinding request (the browser
 * connects to 127.0.0.1 but names the attacker's host in Host) gets no data, nothing may be
 * framed or sniffed, binding beyond loopback without an admin token is warned about, and a
 * flood of wrong admin tokens costs one log line a minute.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { parseConfigYaml } from "../../src/config/load.js";
import { sqliteUrl } from "../../src/db/url.js";
import { type HelperService, startHelperService } from "../../src/service/helper-service.js";
import { captureLogger } from "../events-handlers/helpers.js";

const ADMIN_TOKEN = "tok-0123456789-admin-exposure";

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with the Host header chosen freely (fetch forbids setting Host). */
function rawRequest(
  port: number,
  path: string,
  host: string,
  options: { method?: string; headers?: Record<string, string>; address?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: options.address ?? "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: { ...options.headers, host },
        setHost: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end();
  });
}

const DATA_PATHS = [
  "/",
  "/health",
  "/status.json",
  "/metrics",
  "/accounts",
  "/accounts.json",
  "/addresses.json",
  "/transactions.json",
  "/reconcile.json",
  "/search?q=status",
];

describe("a status server bound to loopback", () => {
  let dir: string;
  let service: HelperService;
  let port: number;
  const log = captureLogger();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-status-exposure-"));
    // The original's spelling of the section, from YAML, with allowed_hosts.
    const config = parseConfigYaml(
      [
        `database: { url: "${sqliteUrl(join(dir, "exposure.db"))}" }`,
        "coins:",
        "  btc: { backend: { class: 'null' }, network: regtest }",
        "status_server:",
        "  ip: 127.0.0.1",
        "  port: 0",
        `  admin_token: ${ADMIN_TOKEN}`,
        "  allowed_hosts: [status.example.com, 'ops.example.com:8443']",
      ].join("\n"),
    );
    service = await startHelperService(config, { logger: log.logger });
    port = Number(new URL(service.statusUrl ?? "").port);
    const ledger = service.ledger("btc");
    await ledger.createAccount("status-exposure-account");
  });

  afterAll(async () => {
    vi.useRealTimers();
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it("refuses a DNS-rebinding request (Host: evil.example) on every page with 421 and no data", async () => {
    for (const host of ["evil.example", `evil.example:${port}`, "127.0.0.1.evil.example", "localhost.evil"]) {
      for (const path of DATA_PATHS) {
        const response = await rawRequest(port, path, host);
        expect({ host, path, status: response.status }).toEqual({ host, path, status: 421 });
        expect(response.body).not.toContain("status-exposure-account");
        expect(response.body).not.toContain("btc");
        expect(response.body).toMatch(/allowed_hosts/);
      }
    }
  });

  it("refuses admin actions for a foreign Host even with the right token", async () => {
    const response = await rawRequest(port, "/events/redeliver-dead", "evil.example", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(421);
    expect(response.body).not.toContain("redelivered");
  });

  it("refuses malformed Host values", async () => {
    for (const host of ["", "evil.example:99999", "[::1", "a b", "status.example.com/x", "*"]) {
      const response = await rawRequest(port, "/status.json", host);
      expect({ host, status: response.status }).toMatchObject({ host });
      expect([400, 421]).toContain(response.status);
      expect(response.body).not.toContain("status-exposure-account");
    }
  });

  it("answers loopback names with any port, and the configured allowed_hosts", async () => {
    const answered = [
      "127.0.0.1",
      `127.0.0.1:${port}`,
      "localhost",
      `LOCALHOST:${port}`,
      "[::1]",
      `[::1]:${port}`,
      "status.example.com",
      "Status.Example.com:443",
      "ops.example.com:8443",
    ];
    for (const host of answered) {
      const response = await rawRequest(port, "/accounts.json", host);
      expect({ host, status: response.status }).toEqual({ host, status: 200 });
      expect(response.body).toContain("status-exposure-account");
    }
    // An entry with a port allows only that port.
    expect((await rawRequest(port, "/accounts.json", "ops.example.com")).status).toBe(421);
    expect((await rawRequest(port, "/accounts.json", "ops.example.com:80")).status).toBe(421);
  });

  it("sends frame-ancestors 'none' and nosniff on every response, errors included", async () => {
    const cases: [string, string, string, number][] = [
      ...DATA_PATHS.map((path): [string, string, string, number] => ["GET", path, "127.0.0.1", 200]),
      ["GET", "/no-such-page", "127.0.0.1", 404],
      ["POST", "/events/redeliver-dead", "127.0.0.1", 401],
      ["GET", "/status.json", "evil.example", 421],
    ];
    for (const [method, path, host, status] of cases) {
      const response = await rawRequest(port, path, host, { method });
      expect({ path, status: response.status }).toEqual({ path, status });
      expect({ path, csp: response.headers["content-security-policy"] }).toEqual({
        path,
        csp: expect.stringContaining("frame-ancestors 'none'"),
      });
      expect({ path, nosniff: response.headers["x-content-type-options"] }).toEqual({
        path,
        nosniff: "nosniff",
      });
    }
    // The HTML pages keep their own policy (no script on table pages) beside frame-ancestors.
    const page = await rawRequest(port, "/accounts", "127.0.0.1");
    expect(page.headers["content-security-policy"]).toMatch(/script-src 'none'.*frame-ancestors 'none'/);
  });

  it("logs the first failed admin token at once, then at most one line a minute with the count", async () => {
    // Earlier tests were refused too: start a period later than any of them.
    const start = Date.now() + 3_600_000;
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const rejected = () => log.lines.filter((line) => String(line.msg).startsWith("rejected admin requests"));
    const before = rejected().length;
    const attempt = (token: string) =>
      rawRequest(port, "/events/redeliver-dead", "127.0.0.1", {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
    for (let i = 0; i < 40; i++) expect((await attempt(`guess-${i}`)).status).toBe(401);
    expect(rejected().length - before).toBe(1);
    expect(rejected().at(-1)).toMatchObject({ level: 40, remote: "127.0.0.1" });
    vi.setSystemTime(start + 30_000);
    expect((await attempt("guess-40")).status).toBe(401);
    expect(rejected().length - before).toBe(1);
    vi.setSystemTime(start + 61_000);
    expect((await attempt("guess-41")).status).toBe(401);
    expect(rejected().length - before).toBe(2);
    // 39 unlogged after the first, the one at 30 s, and this one.
    expect(rejected().at(-1)).toMatchObject({ count: 41 });
    expect(JSON.stringify(rejected())).not.toContain("guess-");
    expect(JSON.stringify(log.lines)).not.toContain(ADMIN_TOKEN);
  });

  it("throttles the log of refused Hosts the same way", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 7_200_000 });
    const refused = () =>
      log.lines.filter((line) => String(line.msg).startsWith("refused requests for a Host"));
    const before = refused().length;
    for (let i = 0; i < 20; i++) expect((await rawRequest(port, "/", "evil.example")).status).toBe(421);
    expect(refused().length - before).toBe(1);
  });

  it("does not warn about exposure on loopback", () => {
    expect(log.lines.filter((line) => String(line.msg).includes("non-loopback"))).toEqual([]);
  });
});

describe("a status server bound beyond loopback", () => {
  async function startOn(ip: string, adminToken: string | undefined) {
    const dir = mkdtempSync(join(tmpdir(), "ca-status-wide-"));
    const log = captureLogger();
    const service = await startHelperService(
      {
        database: { url: sqliteUrl(join(dir, "wide.db")) },
        coins: { btc: { backend: { class: "null" }, network: "regtest" } },
        "status-server": { ip, port: 0, ...(adminToken === undefined ? {} : { admin_token: adminToken }) },
      },
      { logger: log.logger },
    );
    const warnings = log.lines.filter(
      (line) => line.level === 40 && String(line.msg).includes("non-loopback"),
    );
    const port = Number(new URL(service.statusUrl ?? "").port);
    return {
      warnings,
      port,
      async stop() {
        expect(await service.stop()).toMatchObject({ code: 0 });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  it("warns at start when no admin token is set, and still refuses foreign Hosts", async () => {
    const wide = await startOn("0.0.0.0", undefined);
    try {
      expect(wide.warnings).toHaveLength(1);
      expect(wide.warnings[0]).toMatchObject({ ip: "0.0.0.0" });
      expect(String(wide.warnings[0]?.msg)).toMatch(/admin_token.*reverse proxy.*allowed_hosts/);
      expect((await rawRequest(wide.port, "/status.json", "evil.example")).status).toBe(421);
      // 0.0.0.0 is no name to answer for; loopback still is.
      expect((await rawRequest(wide.port, "/status.json", `0.0.0.0:${wide.port}`)).status).toBe(421);
      expect((await rawRequest(wide.port, "/status.json", `127.0.0.1:${wide.port}`)).status).toBe(200);
    } finally {
      await wide.stop();
    }
  });

  it("does not warn with an admin token", async () => {
    const wide = await startOn("0.0.0.0", ADMIN_TOKEN);
    try {
      expect(wide.warnings).toEqual([]);
    } finally {
      await wide.stop();
    }
  });
});

describe("status-server.allowed_hosts in the configuration", () => {
  it("refuses entries that are not a Host header's name, with the key and an example", () => {
    for (const entry of ["https://status.example.com", "status.example.com/", "*", "*.example.com", ""]) {
      expect(() =>
        parseConfigYaml(
          [
            "database: { url: 'sqlite:///:memory:' }",
            "coins: { btc: { backend: { class: 'null' } } }",
            `status-server: { allowed_hosts: ['${entry}'] }`,
          ].join("\n"),
        ),
      ).toThrow(/status-server\.allowed_hosts.*expected a host name as the Host header carries it/);
    }
  });
});
