/**
 * Text from outside — a webhook receiver's response, a broker's error, a script's output, a
 * daemon's error message — as hostile parties would write it: terminal escape sequences (ESC,
 * OSC title and clipboard, the one-character C1 CSI), BEL, and an echo of what we sent them
 * (the handler's configured Authorization and API key, the URL's token, the broker password).
 * The real helper service (the CLI, a child process) delivers to a hostile receiver and a
 * hostile Redis-speaking broker on loopback; what it stores, shows on /status.json and the
 * dashboard, prints in `events list|show` and logs must hold no control character and none
 * of those values.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { initializeDatabase } from "../../src/db/initialize.js";
import { openDatabase } from "../../src/db/open.js";
import { runSerializable } from "../../src/db/serializable.js";
import { sqliteUrl } from "../../src/db/url.js";
import { HttpEventHandler } from "../../src/events/handlers/http.js";
import { ScriptEventHandler } from "../../src/events/handlers/script.js";
import { Outbox } from "../../src/events/outbox/index.js";
import { startHelperService } from "../../src/service/helper-service.js";
import type { StatusSnapshot } from "../../src/service/status.js";
import { captureLogger, sampleEvent } from "../events-handlers/helpers.js";
import { freePort, killChild, runCli } from "../service/support.js";
import { waitFor } from "../support/wait.js";

const dir = mkdtempSync(join(tmpdir(), "ca-outside-text-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BEARER = "Gh4J-bearer-token-for-the-shop";
const API_KEY = "Kl5M-api-key-of-the-shop";
const URL_TOKEN = "Np6Q-token-in-the-webhook-url";
const BROKER_PASSWORD = "Rs7T-broker-password";
const SECRETS = [BEARER, API_KEY, URL_TOKEN, BROKER_PASSWORD];
/** Clear the screen, set the window title (OSC … BEL), C1 CSI (U+009B) red, copy to the clipboard (OSC 52). */
const ESCAPES = "\u001b[2J\u001b]0;owned\u0007\u009b31m\u001b]52;c;cm0gLXJmIH4=\u0007";
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function listen(server: Server | TcpServer): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
}

/** Answers 502 with escape sequences and an echo of the request's headers and URL, first thing in the body. */
function hostileReceiver(): Server {
  return createHttpServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(502, { "content-type": "text/plain" });
      response.end(
        `${ESCAPES}token-only=${String(request.headers.authorization).replace(/^Bearer /, "")} ` +
          `authorization: ${request.headers.authorization}\r\nx-api-key: ${request.headers["x-api-key"]}\r\n` +
          `url: ${request.url}\r\n${ESCAPES}`,
      );
    });
  });
}

/**
 * Speaks just enough RESP for a Redis client to connect, and answers AUTH with an error that
 * carries escape sequences and the credentials it was sent.
 */
function hostileBroker(): TcpServer {
  return createTcpServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const command = takeCommand();
        if (command === undefined) return;
        const name = (command[0] ?? "").toUpperCase();
        if (name === "AUTH" || name === "HELLO") {
          socket.write(`-WRONGPASS ${ESCAPES} you sent ${command.slice(1).join(" ")}\r\n`);
        } else socket.write("+OK\r\n");
      }
    });
    /** One `*N\r\n$len\r\narg\r\n…` command off the buffer, or undefined until it is complete. */
    function takeCommand(): string[] | undefined {
      const text = buffer.toString("latin1");
      const head = /^\*(\d+)\r\n/.exec(text);
      if (!head) return undefined;
      let at = head[0].length;
      const args: string[] = [];
      for (let i = 0; i < Number(head[1]); i++) {
        const bulk = /^\$(\d+)\r\n/.exec(text.slice(at));
        if (!bulk) return undefined;
        const start = at + bulk[0].length;
        const end = start + Number(bulk[1]);
        if (text.length < end + 2) return undefined;
        args.push(buffer.subarray(start, end).toString("utf8"));
        at = end + 2;
      }
      buffer = buffer.subarray(at);
      return args;
    }
  });
}

/** JSON (pino's log lines, --json) writes C0 controls as \u001b: read them back as characters. */
function decodeJsonEscapes(text: string): string {
  return text.replace(/\\u00([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

function expectClean(where: string, raw: string): void {
  const text = decodeJsonEscapes(raw);
  for (const secret of SECRETS)
    expect({ where, leaks: text.includes(secret) }).toEqual({ where, leaks: false });
  expect({ where, control: CONTROL.exec(text)?.[0] }).toEqual({ where, control: undefined });
}

describe("hostile receivers and brokers", () => {
  it("cannot write control characters or our secrets into the record, the pages, the CLI or the log", async () => {
    const receiver = hostileReceiver();
    const broker = hostileBroker();
    const receiverPort = await listen(receiver);
    const brokerPort = await listen(broker);
    const statusPort = await freePort();
    const databaseUrl = sqliteUrl(join(dir, "hostile.db"));
    const configPath = join(dir, "hostile.yaml");
    writeFileSync(
      configPath,
      [
        `database: { url: "${databaseUrl}" }`,
        "coins:",
        "  btc: { backend: { class: 'null' }, network: regtest }",
        "events:",
        "  shop:",
        "    class: http",
        `    url: "http://127.0.0.1:${receiverPort}/hook?token=${URL_TOKEN}"`,
        `    headers: { Authorization: "Bearer ${BEARER}", X-Api-Key: "${API_KEY}" }`,
        "  stream:",
        "    class: redis-stream",
        `    url: "redis://app:${BROKER_PASSWORD}@127.0.0.1:${brokerPort}"`,
        "    stream: payments",
        "    timeout: 2",
        `status-server: { ip: 127.0.0.1, port: ${statusPort} }`,
        "service:",
        "  shutdown_grace_period: 2",
        "  dispatcher: { poll_interval: 0.2, retry_schedule: [0.1] }",
      ].join("\n"),
    );
    const database = await openDatabase(databaseUrl);
    await initializeDatabase(database);
    const [written] = await runSerializable(database, (trx) =>
      new Outbox(database, ["shop", "stream"]).writeTxUpdates(trx, [sampleEvent().data]),
    );
    await database.close();
    const eventId = written?.event_id ?? "";

    const service = runCli(["helper-service", configPath]);
    try {
      const snapshot = await waitFor(
        "both deliveries dead",
        async () => {
          const response = await fetch(`http://127.0.0.1:${statusPort}/status.json`).catch(() => undefined);
          if (!response?.ok) return undefined;
          const status = (await response.json()) as StatusSnapshot;
          return status.events.dead.length === 2 ? status : undefined;
        },
        60_000,
      );
      const errors = Object.fromEntries(snapshot.events.dead.map((d) => [d.handler, String(d.last_error)]));
      // What the operator needs stays: who failed, how, and what the receiver said.
      expect(errors.shop).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/hook\?token=\*\*\* answered HTTP 502: /);
      expect(errors.shop).toContain("authorization: Bearer ***");
      expect(errors.shop).toContain("x-api-key: ***");
      expect(errors.shop).toContain("token-only=***");
      expect(errors.shop).toContain("url: /hook?token=***");
      expect(errors.stream).toMatch(
        /^XADD to payments on redis:\/\/app:\*\*\*@127\.0\.0\.1:\d+: .*WRONGPASS/,
      );
      expect(errors.stream).toContain("AUTH app ***");
      // Escape sequences go whole, not just their ESC: no "[2J]0;owned" left behind.
      expect(errors.shop).not.toMatch(/\[2J|owned|31m|52;c/);
      expect(errors.stream).not.toMatch(/\[2J|owned|31m|52;c/);
      expectClean("status.json", JSON.stringify(snapshot.events));
      for (const value of Object.values(errors)) expectClean("last_error", value);

      const dashboard = await (await fetch(`http://127.0.0.1:${statusPort}/`)).text();
      expectClean("dashboard", dashboard);
      expect(dashboard).toContain("answered HTTP 502");

      for (const args of [
        ["events", "show", configPath, eventId],
        ["events", "list", configPath, "--state", "dead"],
      ]) {
        const cli = runCli(args);
        expect(await cli.exited).toBe(0);
        expectClean(args.join(" "), cli.output());
        expect(cli.output()).toContain("answered HTTP 502");
      }
    } finally {
      await killChild(service);
      receiver.closeAllConnections();
      receiver.close();
      broker.close();
    }
    const logs = service.output();
    expect(logs).toContain("delivery failed for the last time");
    expectClean("the service's log", logs);

    // The stored records themselves, every attempt.
    const check = await openDatabase(databaseUrl);
    try {
      const attempts = await check.db.selectFrom("ca_delivery_attempt").select("error").execute();
      expect(attempts.length).toBe(4);
      for (const attempt of attempts) expectClean("ca_delivery_attempt.error", String(attempt.error));
      const deliveries = await check.db.selectFrom("ca_delivery").select("last_error").execute();
      for (const delivery of deliveries) expectClean("ca_delivery.last_error", String(delivery.last_error));
      // A row stored by an older version, escape sequences and all, is cleaned when shown.
      await check.db
        .updateTable("ca_delivery")
        .set({ last_error: `old ${ESCAPES}error` })
        .execute();
      await check.db
        .updateTable("ca_delivery_attempt")
        .set({ error: `old ${ESCAPES}error` })
        .execute();
    } finally {
      await check.close();
    }
    for (const args of [
      ["events", "show", configPath, eventId],
      ["events", "list", configPath],
    ]) {
      const cli = runCli(args);
      expect(await cli.exited).toBe(0);
      expect(cli.output()).toContain("old error");
      expectClean(`${args.join(" ")} of an old row`, cli.output());
    }
  }, 120_000);
});

describe("a receiver answering with an endless body", () => {
  it("costs at most 64 KiB read: the attempt fails with the status, not a timeout", async () => {
    let written = 0;
    const endless = createHttpServer((request, response) => {
      request.resume();
      response.writeHead(500, { "content-type": "text/plain" });
      const chunk = Buffer.alloc(16 * 1024, "z");
      const pump = () => {
        while (!response.destroyed && response.write(chunk)) written += chunk.length;
        if (!response.destroyed) response.once("drain", pump);
      };
      response.on("close", () => response.removeAllListeners("drain"));
      pump();
    });
    const port = await listen(endless);
    const handler = new HttpEventHandler("endless", { url: `http://127.0.0.1:${port}/`, timeout: 10 });
    try {
      const started = Date.now();
      const error = (await handler.deliver(sampleEvent()).catch((e: unknown) => e)) as Error & {
        httpStatus?: number;
      };
      expect(error.httpStatus).toBe(500);
      expect(error.message).toMatch(/answered HTTP 500: z{199}…$/);
      expect(Date.now() - started).toBeLessThan(5_000);
      // The server could write ahead into socket buffers, but not much more.
      expect(written).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await handler.close();
      endless.closeAllConnections();
      endless.close();
    }
  });
});

describe("a script's output", () => {
  it("is logged without control characters and without the values of its configured env", async () => {
    const { logger, lines } = captureLogger();
    const handler = new ScriptEventHandler("chatty", {
      script: `printf '\\033]0;owned\\007token is %s\\n' "$SHOP_TOKEN"; printf '\\302\\233%s\\n' "$SHOP_TOKEN" >&2; exit 4`,
      env: { SHOP_TOKEN: BEARER },
      log_output: true,
      logger,
    });
    const error = (await handler.deliver(sampleEvent()).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe("script exited with code 4");
    const text = JSON.stringify(lines);
    expect(lines.some((line) => line.msg === "token is ***")).toBe(true);
    expect(lines.find((line) => line.msg === "script failed")?.stderr).toBe("***");
    expectClean("script log", text);
  });
});

describe("a hostile daemon", () => {
  it("cannot put control characters into our errors through its error messages", async () => {
    const daemon = createHttpServer((request, response) => {
      request.resume();
      request.on("end", () => {
        if (request.url?.startsWith("/proxy")) {
          // Not JSON at all (a proxy's error page): quoted in the error, JSON-escaped, but
          // JSON.stringify leaves C1 controls (U+009B: CSI) as they are.
          response.writeHead(502, { "content-type": "text/html" });
          response.end(`<html>${ESCAPES}bad gateway</html>`);
          return;
        }
        response.writeHead(500, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            result: null,
            error: { code: -4, message: `${ESCAPES}wallet\r\nexploded` },
            id: 1,
          }),
        );
      });
    });
    const port = await listen(daemon);
    const rpc = new BitcoindRpcClient({ url: `http://u:p@127.0.0.1:${port}/` });
    try {
      const error = (await rpc.call("getbalances", []).catch((e: unknown) => e)) as Error & {
        rpcMessage: string;
      };
      expect(error.message).toMatch(/^getbalances: .*wallet exploded \(code -4\)$/);
      expectClean("RpcError.message", error.message);
      expectClean("RpcError.rpcMessage", error.rpcMessage);
      const proxy = new BitcoindRpcClient({ url: `http://u:p@127.0.0.1:${port}/proxy` });
      const transport = (await proxy.call("getbalances", []).catch((e: unknown) => e)) as Error;
      await proxy.close();
      expect(transport.message).toMatch(
        /answered HTTP 502 with a body that is not JSON: "<html>bad gateway<\/html>"$/,
      );
      expect(transport.message).not.toMatch(/[\u0080-\u009f]/);

      // The helper service shows it on /health, /status.json and the dashboard.
      const service = await startHelperService({
        database: { url: sqliteUrl(join(dir, "daemon.db")) },
        coins: {
          btc: {
            backend: { class: "bitcoind", url: `http://u:p@127.0.0.1:${port}/proxy`, timeout: 2 },
            network: "regtest",
          },
        },
        "status-server": { port: 0 },
        service: { poll_period: 0.2 },
      });
      try {
        const base = (service.statusUrl ?? "").replace(/\/$/, "");
        const health = await waitFor("the daemon's error on /health", async () => {
          const text = await (await fetch(`${base}/health`)).text();
          return text.includes("bad gateway") ? text : undefined;
        });
        expect(health).toContain("<html>bad gateway</html>");
        for (const page of [health, await (await fetch(`${base}/status.json`)).text()]) {
          expectClean("the status pages", page);
        }
        expectClean("the dashboard", await (await fetch(`${base}/`)).text());
      } finally {
        expect(await service.stop()).toMatchObject({ code: 0 });
      }
    } finally {
      await rpc.close();
      daemon.close();
    }
  }, 60_000);
});
