/**
 * Bench helpers that run in their own process, as the real parties do: the receiving
 * application (a keep-alive HTTP server) and extra dispatchers (helper services sharing one
 * outbox). Started with `fork` from the bench; `node dist-bench/bench/processes.js receiver`
 * or `… dispatcher <database url> <receiver url> <concurrency>`.
 *
 * Times are epoch milliseconds with sub-millisecond precision (`clock()`), comparable
 * across processes.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { clock, type Receiver } from "./support.js";

export { clock };

type ReceiverMessage = { url: string } | { receipts: Array<[string, number]> };

/** The receiving application in a child process; receipts stream back every 50 ms. */
export async function startReceiverProcess(): Promise<Receiver> {
  const child = fork(fileURLToPath(import.meta.url), ["receiver"], { stdio: "inherit" });
  const received = new Map<string, number>();
  const url = await new Promise<string>((resolve, reject) => {
    child.once("error", reject);
    child.on("message", (message: ReceiverMessage) => {
      if ("url" in message) resolve(message.url);
      else for (const [id, at] of message.receipts) if (!received.has(id)) received.set(id, at);
    });
  });
  return { url, received, close: () => stop(child) };
}

export interface DispatcherProcess {
  /** Starts delivering. */
  go(): void;
  /** Resolves with how many deliveries it made, once it stopped. */
  stop(): Promise<number>;
}

/** A Dispatcher with one HTTP handler ("app") in a child process; resolves once it is ready to go. */
export async function startDispatcherProcess(
  databaseUrl: string,
  receiverUrl: string,
  concurrency: number,
): Promise<DispatcherProcess> {
  const child = fork(
    fileURLToPath(import.meta.url),
    ["dispatcher", databaseUrl, receiverUrl, String(concurrency)],
    { stdio: "inherit" },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("message", () => resolve());
  });
  return {
    go: () => child.send("go"),
    stop: async () => {
      const delivered = new Promise<number>((resolve) =>
        child.once("message", (m: { delivered: number }) => resolve(m.delivered)),
      );
      child.send("stop");
      const count = await delivered;
      await stop(child);
      return count;
    },
  };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

async function receiverMain(): Promise<void> {
  const { createServer } = await import("node:http");
  let pending: Array<[string, number]> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const id = new URLSearchParams(Buffer.concat(chunks).toString()).get("event_id") ?? "";
      pending.push([id, clock()]);
      res.end("ok");
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  setInterval(() => {
    if (pending.length === 0) return;
    process.send?.({ receipts: pending });
    pending = [];
  }, 50);
  process.send?.({ url: `http://127.0.0.1:${port}/hook` });
}

async function dispatcherMain(databaseUrl: string, receiverUrl: string, concurrency: number): Promise<void> {
  const { openDatabase } = await import("../src/db/index.js");
  const { Dispatcher } = await import("../src/events/dispatcher.js");
  const { HttpEventHandler } = await import("../src/events/handlers/index.js");
  const database = await openDatabase(databaseUrl, { poolSize: 4 });
  const handler = new HttpEventHandler("app", { url: receiverUrl, timeout: 10 });
  const dispatcher = new Dispatcher({
    database,
    databaseUrl,
    handlers: [handler],
    concurrency,
    pollIntervalMs: 1000,
  });
  process.on("message", async (message) => {
    if (message === "go") await dispatcher.start();
    if (message !== "stop") return;
    await dispatcher.stop(2000);
    await handler.close();
    await database.close();
    process.send?.({ delivered: dispatcher.counters.get("app")?.delivered ?? 0 });
  });
  process.send?.("ready");
}

const [role, ...rest] = process.argv.slice(2);
// A bench that dies must not leave its helpers behind.
if (role) process.on("disconnect", () => process.exit(0));
if (role === "receiver") await receiverMain();
else if (role === "dispatcher") await dispatcherMain(rest[0] ?? "", rest[1] ?? "", Number(rest[2] ?? 16));
