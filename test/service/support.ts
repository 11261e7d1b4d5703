/**
 * Shared pieces of the helper-service tests: the real CLI in child processes, free ports,
 * a webhook receiver on loopback, and waiting helpers. Everything binds to 127.0.0.1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { parseWebhookBody } from "../../src/events/receiver.js";
import type { CryptoassetsEvent, TxUpdateData } from "../../src/events/types.js";

/** The real command line (loads dist/; `npm test` builds first). Overridable for local runs. */
export const CLI =
  process.env.CRYPTOASSETS_TEST_CLI ?? resolve(import.meta.dirname, "../../bin/cryptoassets.js");

export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Resolves when the output matches (rejects after timeoutMs with the output so far). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

export interface RunCliOptions {
  /** Another launcher of bin/ (the original's command names); default the `cryptoassets` CLI. */
  bin?: string;
  cwd?: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, options: RunCliOptions = {}): CliProcess {
  const launcher = options.bin === undefined ? CLI : resolve(import.meta.dirname, "../../bin", options.bin);
  const child = spawn(process.execPath, [launcher, ...args], {
    env: { ...process.env, CRYPTOASSETS_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | string>((resolveExit) => {
    child.on("exit", (code, signal) => resolveExit(code ?? signal ?? "unknown"));
  });
  return {
    child,
    output: () => output,
    exited,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            cleanup();
            resolveMatch(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern} in output:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => setTimeout(check, 0));
        check();
      });
    },
  };
}

export { freePort } from "../support/ports.js";

export interface TestReceiver {
  url: string;
  /** Every delivery in arrival order, duplicates included. */
  deliveries: CryptoassetsEvent<"txupdate">[];
  /** txupdates of one address, duplicates (same event_id) removed. */
  eventsFor(address: string): CryptoassetsEvent<"txupdate">[];
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolveBody(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

/** A webhook receiver like an application's: parses the original's form body, answers 200. */
export async function startTestReceiver(): Promise<TestReceiver> {
  const deliveries: CryptoassetsEvent<"txupdate">[] = [];
  const server: Server = createServer((request, response) => {
    readBody(request)
      .then((body) => {
        const event = parseWebhookBody(body, request.headers["content-type"]);
        deliveries.push(event as CryptoassetsEvent<"txupdate">);
        response.writeHead(200).end("ok");
      })
      .catch(() => response.writeHead(400).end("bad"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    deliveries,
    eventsFor(address: string) {
      const seen = new Set<string>();
      return deliveries.filter((event) => {
        const data = event.data as TxUpdateData;
        if (data.address !== address || seen.has(event.event_id)) return false;
        seen.add(event.event_id);
        return true;
      });
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export async function getJson<T = unknown>(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: T }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Stops a child gently, then hard, so a failing test never leaves processes behind. */
export async function killChild(cli: CliProcess | undefined): Promise<void> {
  if (!cli || cli.child.exitCode !== null || cli.child.signalCode !== null) return;
  cli.child.kill("SIGTERM");
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), 8000);
  await cli.exited;
  clearTimeout(timer);
}
