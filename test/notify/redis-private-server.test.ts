/**
 * Cases the shared Redis on 6379 cannot host: a password-protected server and a real server
 * restart. Each test runs its own redis-server child on a free loopback port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createClient } from "redis";
import { afterEach, describe, expect, it } from "vitest";
import { NotifyListenerStartError } from "../../src/errors.js";
import { RedisNotifyListener } from "../../src/notify/redis-listener.js";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";
import { captureLogs, randomHash } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts redis-server without persistence; resolves once it accepts connections. */
async function startRedisServer(port: number, password: string): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--requirepass",
      password,
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor("redis-server to start", () => output.includes("Ready to accept connections"), 10_000, 10);
  return child;
}

async function stopRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await exited;
}

describe("RedisNotifyListener against its own redis-server", () => {
  it("refuses a wrong password at start() without the password reaching logs or errors", async () => {
    const port = await freePort();
    const serverPassword = `server-${randomUUID()}`;
    const server = await startRedisServer(port, serverPassword);
    cleanups.push(() => stopRedisServer(server));

    const logs = captureLogs();
    const secret = `hunter2-${randomUUID()}`;
    const listener = new RedisNotifyListener(
      { port, password: secret, startTimeoutMs: 600 },
      () => {},
      logs.logger,
    );
    const failure = await listener.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(NotifyListenerStartError);
    expect(String(failure)).toMatch(/WRONGPASS|invalid username-password/);
    expect(String(failure)).not.toContain(secret);
    expect(listener.describe()).not.toContain(secret);
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.text()).not.toContain(secret);
  });

  it("rides out a Redis restart: reconnects with backoff, resubscribes, and delivers again", async () => {
    const port = await freePort();
    const password = `pw-${randomUUID()}`;
    let server = await startRedisServer(port, password);
    cleanups.push(() => stopRedisServer(server));

    const channel = `restart_${randomUUID()}`;
    const values: string[] = [];
    const logs = captureLogs();
    const listener = new RedisNotifyListener(
      { port, password, channel, maxReconnectDelayMs: 300 },
      (value) => {
        values.push(value);
      },
      logs.logger,
    );
    cleanups.push(() => listener.close());
    await listener.start();

    const publish = async (message: string) => {
      const publisher = createClient({
        socket: { host: "127.0.0.1", port, reconnectStrategy: false },
        password,
      });
      publisher.on("error", () => {});
      await publisher.connect();
      try {
        // Returns the number of receivers: 1 once our listener is (re)subscribed.
        return await publisher.publish(channel, message);
      } finally {
        publisher.destroy();
      }
    };
    const first = randomHash();
    expect(await publish(first)).toBe(1);
    await waitFor("the first value", () => values.length === 1, 5_000, 10);

    await stopRedisServer(server);
    await waitFor(
      "several reconnect attempts while Redis is down",
      () => logs.lines.filter((line) => line.msg === "reconnecting to Redis").length >= 2,
      5_000,
      10,
    );
    server = await startRedisServer(port, password);

    const second = randomHash();
    await waitFor(
      "the listener to resubscribe after the restart",
      async () => (await publish(second)) === 1,
      10_000,
      50,
    );
    await waitFor("the value published after the restart", () => values.length === 2, 5_000, 10);
    expect(values).toEqual([first, second]);
    const messages = logs.lines.map((line) => line.msg);
    expect(messages).toContain("Redis notify connection error");
    expect(messages.filter((msg) => msg === "connected to Redis").length).toBeGreaterThanOrEqual(2);
    expect(logs.text()).not.toContain(password);
  });
});
