/**
 * The operator CLI as users run it: real child processes of bin/cryptoassets.js (dist/ is
 * built by `npm test` before vitest runs).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initializeDatabase, openDatabase, runSerializable } from "../../src/db/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { Outbox } from "../../src/events/outbox/index.js";

const BIN = join(import.meta.dirname, "../../bin/cryptoassets.js");
const dir = mkdtempSync(join(tmpdir(), "ca-cli-"));
const configPath = join(dir, "config.yaml");
const dbPath = join(dir, "ledger.db");

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  writeFileSync(
    configPath,
    [
      `database: { url: "${sqliteUrl(dbPath)}" }`,
      "coins:",
      "  btc:",
      "    backend: { class: bitcoind, url: 'http://u:secretpw@127.0.0.1:18443/' }",
      "events:",
      "  app: { class: http, url: 'http://127.0.0.1:9/' }",
    ].join("\n"),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("operator CLI", () => {
  it("initialize-database creates the schema, then reports it up to date", () => {
    const first = cli("initialize-database", configPath, "--json");
    expect(first.code).toBe(0);
    const created = JSON.parse(first.stdout);
    expect(created.applied).toEqual([
      "0001_initial",
      "0002_event_feed",
      "0003_backend_status",
      "0004_send_failures",
      "0005_broadcast_identity",
      "0006_outbox_indexes",
      "0007_hot_updates",
    ]);
    expect(created.ledger_id).toMatch(/^[0-9a-f]{16}$/);
    const again = cli("initialize-database", configPath);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/schema already up to date/);
    // The id is made once: it names this database for as long as it lives.
    expect(again.stdout).toContain(`(ledger id ${created.ledger_id})`);
  });

  it("fails with the key path on a bad config, exit code 1, no secret printed", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(
      bad,
      "coins:\n  btc:\n    backend: { class: bitcoind, url: 'nope' }\n    max_confirmations: 3\n",
    );
    const result = cli("initialize-database", bad);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/coins\.btc\.backend\.url: expected a URL/);
    expect(result.stderr).toMatch(/coins\.btc: unknown key\(s\) max_confirmations/);
    const missing = cli("initialize-database", join(dir, "missing.yaml"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read configuration file .*missing\.yaml: ENOENT/);
  });

  it("events list / show / redeliver", async () => {
    const database = await openDatabase(sqliteUrl(dbPath));
    await initializeDatabase(database);
    const outbox = new Outbox(database, ["app"]);
    const [written] = await runSerializable(database, (trx) =>
      outbox.writeTxUpdates(trx, [
        {
          coin_name: "btc",
          transaction: 7,
          network_transaction: 3,
          transaction_type: "deposit",
          txid: "ab".repeat(32),
          account: 1,
          address: "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm",
          amount: "0.50000000",
          credited: false,
          confirmations: 0,
        },
      ]),
    );
    await database.db
      .updateTable("ca_delivery")
      .set({ state: "dead", attempts: 18, last_error: "HTTP 500" })
      .execute();
    await database.close();
    const eventId = written?.event_id ?? "";

    const listed = cli("events", "list", configPath, "--state", "dead", "--json");
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        event_id: eventId,
        handler: "app",
        state: "dead",
        attempts: 18,
        last_error: "HTTP 500",
      }),
    ]);
    const table = cli("events", "list", configPath);
    expect(table.stdout).toMatch(/event_id\s+event\s+key\s+handler\s+state/);
    expect(table.stdout).toContain(eventId);

    const shown = cli("events", "show", configPath, eventId, "--json");
    expect(JSON.parse(shown.stdout).data.amount).toBe("0.50000000");
    expect(cli("events", "show", configPath, "nope").code).toBe(1);

    expect(cli("events", "list", configPath, "--state", "bogus").code).not.toBe(0);
    expect(cli("events", "redeliver", configPath).code).toBe(1);
    const redelivered = cli("events", "redeliver", configPath, "--dead", "--json");
    expect(JSON.parse(redelivered.stdout)).toEqual({ redelivered: 1 });
    const pending = cli("events", "list", configPath, "--state", "pending", "--json");
    expect(JSON.parse(pending.stdout)).toEqual([expect.objectContaining({ event_id: eventId, attempts: 0 })]);
    const history = JSON.parse(cli("events", "show", configPath, eventId, "--json").stdout);
    expect(history.deliveries[0].state).toBe("pending");
    // 13 CLI runs: at 4 s each on a loaded 2-core machine, more than the default 30 s.
  }, 90_000);

  it("events tail: the newest events, every one after --after, and --follow until interrupted", async () => {
    const database = await openDatabase(sqliteUrl(dbPath));
    await initializeDatabase(database);
    const outbox = new Outbox(database, []);
    const write = async (from: number, count: number) =>
      runSerializable(database, (trx) =>
        outbox.writeTxUpdates(
          trx,
          Array.from({ length: count }, (_, i) => ({
            coin_name: "btc",
            transaction: 100 + from + i,
            network_transaction: 100 + from + i,
            transaction_type: "deposit" as const,
            txid: "cd".repeat(32),
            account: 1,
            address: "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm",
            amount: "0.25000000",
            credited: false,
            confirmations: 0,
          })),
        ),
      );
    const first = await write(0, 30);
    const lines = (text: string) =>
      text
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line));

    const newest = cli("events", "tail", configPath, "--json", "--lines", "5");
    expect(newest.code).toBe(0);
    expect(lines(newest.stdout).map((e) => e.data.transaction)).toEqual([125, 126, 127, 128, 129]);

    const after = cli("events", "tail", configPath, "--json", "--after", first[9]?.event_id ?? "");
    expect(lines(after.stdout).map((e) => e.event_id)).toEqual(first.slice(10).map((e) => e.event_id));
    const text = cli("events", "tail", configPath, "--after", first[27]?.event_id ?? "");
    expect(text.stdout.trim().split("\n")).toHaveLength(2);
    expect(text.stdout).toMatch(new RegExp(`${first[28]?.event_id}\\s+txupdate\\s+\\{"coin_name":"btc"`));
    const unknown = cli("events", "tail", configPath, "--after", "01900000-0000-7000-8000-000000000000");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/not in the outbox/);

    const follow = spawn(
      process.execPath,
      [BIN, "events", "tail", configPath, "--json", "--follow", "--after", first[29]?.event_id ?? ""],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    follow.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => follow.on("exit", (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const later = await write(30, 3);
    const deadline = Date.now() + 15_000;
    while (lines(out).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(lines(out).map((e) => e.event_id)).toEqual(later.map((e) => e.event_id));
    follow.kill("SIGINT");
    expect(await exited).toBe(0);
    await database.close();
  }, 90_000);
});
