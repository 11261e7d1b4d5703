/**
 * What a script handler's child process gets, seen by a real script run by the real
 * helper service (a child process started the way systemd would, with the secrets of the
 * README's EnvironmentFile in its environment): only PATH, HOME, LANG, LC_*, CRYPTOASSETS_*
 * and what the handler lists; its stderr goes to the log, bounded, and the public pages show
 * only the exit status. A script printing one endless line costs bounded work.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { initializeDatabase } from "../../src/db/initialize.js";
import { openDatabase } from "../../src/db/open.js";
import { runSerializable } from "../../src/db/serializable.js";
import { sqliteUrl } from "../../src/db/url.js";
import { ScriptEventHandler } from "../../src/events/handlers/script.js";
import { Outbox } from "../../src/events/outbox/index.js";
import type { StatusSnapshot } from "../../src/service/status.js";
import { captureLogger, sampleEvent } from "../events-handlers/helpers.js";
import { freePort, killChild, runCli } from "../service/support.js";
import { waitFor } from "../support/wait.js";

const dir = mkdtempSync(join(tmpdir(), "ca-script-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the README's systemd EnvironmentFile sets, plus a stray variable of the shell. */
const SERVICE_SECRETS = {
  RPC_PASSWORD: "Kj4H-rpc-password",
  DB_PASSWORD: "Lm5N-db-password",
  WEBHOOK_SECRET: "whsec_Pq6RPq6RPq6RPq6RPq6RPq6RPq6RPq6R",
  ADMIN_TOKEN: "St7U-admin-token",
  AWS_SECRET_ACCESS_KEY: "Vw8X-aws",
};
/** Variables a shell sets by itself. */
const SHELL_OWN = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);
const STDERR_SECRET = "Yz9A-printed-by-curl-v";

function parseEnvDump(text: string): Map<string, string> {
  const variables = new Map<string, string>();
  for (const entry of text.split("\0")) {
    const equals = entry.indexOf("=");
    if (equals > 0) variables.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return variables;
}

describe("a script run by the helper service", () => {
  it("sees only the allowed environment, and its stderr stays off the public pages", async () => {
    const dump = join(dir, "env.bin");
    const configPath = join(dir, "config.yaml");
    const databaseUrl = sqliteUrl(join(dir, "service.db"));
    const statusPort = await freePort();
    writeFileSync(
      configPath,
      [
        `database: { url: "${databaseUrl}" }`,
        "coins:",
        "  btc: { backend: { class: 'null' }, network: regtest }",
        "events:",
        "  audit:",
        "    class: script",
        `    script: "env -0 > '${dump}'; echo 'connecting with ${STDERR_SECRET}' >&2; exit 3"`,
        "    env: { SHOP_API: 'https://shop.example/api', RPC_URL: 'http://rpc:${RPC_PASSWORD}@127.0.0.1:8332/' }",
        "    pass_env: [TZ, NOT_SET_ANYWHERE]",
        `status-server: { ip: 127.0.0.1, port: ${statusPort} }`,
        "service:",
        "  shutdown_grace_period: 2",
        "  dispatcher: { poll_interval: 0.2, retry_schedule: [3600] }",
      ].join("\n"),
    );
    const database = await openDatabase(databaseUrl);
    await initializeDatabase(database);
    const [written] = await runSerializable(database, (trx) =>
      new Outbox(database, ["audit"]).writeTxUpdates(trx, [sampleEvent().data]),
    );
    await database.close();

    const service = runCli(["helper-service", configPath], {
      ...SERVICE_SECRETS,
      TZ: "Europe/Helsinki",
      LC_NUMERIC: "C",
      LANG: "C.UTF-8",
      CRYPTOASSETS_ENVIRONMENT: "production",
    });
    let snapshot: StatusSnapshot;
    try {
      snapshot = await waitFor("the failed script delivery", async () => {
        const status = (await (
          await fetch(`http://127.0.0.1:${statusPort}/status.json`)
        ).json()) as StatusSnapshot;
        return status.events.failed.length > 0 ? status : undefined;
      });
      const pages = [
        JSON.stringify(snapshot),
        await (await fetch(`http://127.0.0.1:${statusPort}/`)).text(),
        (await runCliOnce(["events", "show", configPath, written?.event_id ?? ""])).output,
      ];
      for (const page of pages) {
        expect(page).toContain("script exited with code 3");
        expect(page).not.toContain(STDERR_SECRET);
      }
    } finally {
      await killChild(service);
    }

    const seen = parseEnvDump(readFileSync(dump, "utf8"));
    expect(seen.get("CRYPTOASSETS_EVENT_ID")).toBe(written?.event_id);
    expect(seen.get("CRYPTOASSETS_EVENT_NAME")).toBe("txupdate");
    expect(JSON.parse(seen.get("CRYPTOASSETS_EVENT_DATA") ?? "{}").amount).toBe("0.50000000");
    expect(seen.get("CRYPTOASSETS_ENVIRONMENT")).toBe("production");
    expect(seen.get("LANG")).toBe("C.UTF-8");
    expect(seen.get("LC_NUMERIC")).toBe("C");
    expect(seen.get("TZ")).toBe("Europe/Helsinki");
    expect(seen.get("SHOP_API")).toBe("https://shop.example/api");
    // What the handler config names explicitly is passed, secrets included: the operator's choice.
    expect(seen.get("RPC_URL")).toBe(`http://rpc:${SERVICE_SECRETS.RPC_PASSWORD}@127.0.0.1:8332/`);
    expect(seen.get("PATH")).toBeTruthy();
    const allowed = (name: string) =>
      ["PATH", "HOME", "LANG", "TZ", "SHOP_API", "RPC_URL"].includes(name) ||
      /^LC_/.test(name) ||
      /^CRYPTOASSETS_/.test(name) ||
      SHELL_OWN.has(name);
    expect([...seen.keys()].filter((name) => !allowed(name))).toEqual([]);
    for (const name of Object.keys(SERVICE_SECRETS)) expect(seen.has(name)).toBe(false);

    const logs = service.output();
    // stderr is in the log, for the operator …
    expect(logs).toContain(STDERR_SECRET);
    // … and a pass_env variable that is not set is said once, at start.
    expect(logs.match(/NOT_SET_ANYWHERE/g)?.length).toBe(1);
    expect(logs).toMatch(/pass_env names NOT_SET_ANYWHERE, which is not set/);
  });
});

async function runCliOnce(args: string[]): Promise<{ code: number | string; output: string }> {
  const child = runCli(args, SERVICE_SECRETS);
  const code = await child.exited;
  return { code, output: child.output() };
}

describe("script output in the log", () => {
  it("cuts one endless stdout line (8 MiB, no newline) to a bounded log line", async () => {
    const { logger, lines } = captureLogger();
    const handler = new ScriptEventHandler("noisy", {
      script: `head -c 8388608 /dev/zero | tr '\\0' 'x'; printf '\\nafter\\n'`,
      log_output: true,
      logger,
    });
    await handler.deliver(sampleEvent());
    const logged = lines.filter((line) => line.stream === "stdout").map((line) => String(line.msg));
    expect(logged).toHaveLength(2);
    expect(logged[0]?.length).toBeLessThanOrEqual(4200);
    expect(logged[0]).toMatch(/^x{4096}… \(8384512 more bytes not logged\)$/);
    expect(logged[1]).toBe("after");
  });

  it("logs a failing script's stderr once, bounded, with control characters removed", async () => {
    const { logger, lines } = captureLogger();
    const handler = new ScriptEventHandler("failing", {
      script: `head -c 100000 /dev/zero | tr '\\0' 'e' >&2; printf '\\033[2J\\033]0;owned\\007last words\\n' >&2; exit 7`,
      logger,
    });
    const error = (await handler.deliver(sampleEvent()).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe("script exited with code 7");
    const failures = lines.filter((line) => line.msg === "script failed");
    expect(failures).toHaveLength(1);
    const stderr = String(failures[0]?.stderr);
    expect(stderr.length).toBeLessThanOrEqual(2048);
    expect(stderr.endsWith("last words")).toBe(true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
    expect(stderr).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
