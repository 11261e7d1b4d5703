import { describe, expect, it } from "vitest";
import { NotifyConfigError } from "../../src/errors.js";
import { CoalescingQueue } from "../../src/notify/coalescing-queue.js";
import { waitFor } from "../support/wait.js";
import { captureLogs, type Deferred, deferred } from "./helpers.js";

/** A worker whose every run blocks until the test releases it, recording what ran when. */
function controlledWorker() {
  const started: string[] = [];
  const finished: string[] = [];
  const gates: { key: string; gate: Deferred }[] = [];
  let running = 0;
  let maxRunning = 0;
  const runningKeys = new Set<string>();
  let overlapOfSameKey = false;
  const worker = async (key: string): Promise<void> => {
    if (runningKeys.has(key)) overlapOfSameKey = true;
    runningKeys.add(key);
    running++;
    maxRunning = Math.max(maxRunning, running);
    started.push(key);
    const gate = deferred();
    gates.push({ key, gate });
    try {
      await gate.promise;
    } finally {
      running--;
      runningKeys.delete(key);
      finished.push(key);
    }
  };
  /** Releases the oldest blocked run of `key`. */
  const release = (key: string, err?: Error) => {
    const index = gates.findIndex((entry) => entry.key === key);
    if (index === -1) throw new Error(`no blocked run of ${key}`);
    const [entry] = gates.splice(index, 1);
    if (err) entry?.gate.reject(err);
    else entry?.gate.resolve();
  };
  return {
    worker,
    release,
    started,
    finished,
    blocked: () => gates.map((entry) => entry.key),
    maxRunning: () => maxRunning,
    overlapOfSameKey: () => overlapOfSameKey,
  };
}

describe("CoalescingQueue", () => {
  it("runs a key pushed many times while waiting only once", async () => {
    const w = controlledWorker();
    const queue = new CoalescingQueue<string>(w.worker, { concurrency: 1 });
    expect(queue.push("a")).toBe("scheduled");
    await waitFor("a to start", () => w.started.length === 1, 5_000, 10);
    const outcomes = [1, 2, 3, 4, 5].map(() => queue.push("b"));
    expect(outcomes).toEqual(["scheduled", "coalesced", "coalesced", "coalesced", "coalesced"]);
    expect(queue.stats()).toMatchObject({ pending: 1, running: 1 });

    w.release("a");
    await waitFor("b to start", () => w.started.length === 2, 5_000, 10);
    w.release("b");
    await queue.drain();
    expect(w.started).toEqual(["a", "b"]);
    expect(queue.stats()).toEqual({
      received: 6,
      coalesced: 4,
      runs: 2,
      failures: 0,
      dropped: 0,
      pending: 0,
      running: 0,
    });
  });

  it("schedules exactly one more run for a key pushed while its run is in flight", async () => {
    const w = controlledWorker();
    const queue = new CoalescingQueue<string>(w.worker, { concurrency: 4 });
    queue.push("tx");
    await waitFor("first run", () => w.started.length === 1, 5_000, 10);
    // Mempool notification is being processed when the first-confirmation ones arrive.
    expect([queue.push("tx"), queue.push("tx"), queue.push("tx")]).toEqual([
      "scheduled",
      "coalesced",
      "coalesced",
    ]);
    expect(queue.stats()).toMatchObject({ pending: 1, running: 1 });
    // The rerun must wait for the in-flight run even though slots are free.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(w.started).toEqual(["tx"]);

    w.release("tx");
    await waitFor("the rerun", () => w.started.length === 2, 5_000, 10);
    expect(w.finished).toEqual(["tx"]);
    w.release("tx");
    await queue.drain();
    expect(w.started).toEqual(["tx", "tx"]);
    expect(w.overlapOfSameKey()).toBe(false);
    expect(queue.stats()).toMatchObject({ received: 4, coalesced: 2, runs: 2 });
  });

  it("runs different keys in parallel up to the concurrency, in arrival order", async () => {
    const w = controlledWorker();
    const queue = new CoalescingQueue<string>(w.worker, { concurrency: 2 });
    for (const key of ["k1", "k2", "k3", "k4"]) queue.push(key);
    await waitFor("two runs", () => w.started.length === 2, 5_000, 10);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(w.started).toEqual(["k1", "k2"]);
    expect(queue.stats()).toMatchObject({ running: 2, pending: 2 });

    w.release("k2");
    await waitFor("k3 to take the free slot", () => w.started.length === 3, 5_000, 10);
    expect(w.started[2]).toBe("k3");
    w.release("k1");
    w.release("k3");
    await waitFor("k4", () => w.started.length === 4, 5_000, 10);
    w.release("k4");
    await queue.drain();
    expect(w.maxRunning()).toBe(2);
    expect(queue.stats().runs).toBe(4);
  });

  it("logs a failing run with its key and keeps working", async () => {
    const logs = captureLogs();
    const seen: string[] = [];
    const queue = new CoalescingQueue<string>(
      async (key) => {
        seen.push(key);
        if (key === "rejects") throw new Error("daemon said no");
        if (key === "throws-sync") throw new TypeError("bug in worker");
      },
      { concurrency: 1, logger: logs.logger },
    );
    queue.push("rejects");
    queue.push("throws-sync");
    queue.push("fine");
    await queue.drain();
    expect(seen).toEqual(["rejects", "throws-sync", "fine"]);
    expect(queue.stats()).toMatchObject({ runs: 3, failures: 2 });
    const failures = logs.lines.filter((line) => line.msg === "notification work failed");
    expect(failures.map((line) => line.key)).toEqual(["rejects", "throws-sync"]);
    expect(JSON.stringify(failures[0]?.err)).toContain("daemon said no");

    // A synchronous throw from a non-async worker is a failed run too, not a crash.
    const syncQueue = new CoalescingQueue<string>(
      ((key: string) => {
        throw new Error(`sync ${key}`);
      }) as (key: string) => Promise<void>,
      { logger: logs.logger },
    );
    syncQueue.push("x");
    await syncQueue.drain();
    expect(syncQueue.stats()).toMatchObject({ runs: 1, failures: 1 });
    queue.push("after");
    await queue.drain();
    expect(seen.at(-1)).toBe("after");
  });

  it("drain() resolves at once when idle and after the last run otherwise", async () => {
    const w = controlledWorker();
    const queue = new CoalescingQueue<string>(w.worker, { concurrency: 1 });
    await expect(queue.drain()).resolves.toBeUndefined();

    queue.push("a");
    queue.push("b");
    let drained = false;
    const draining = queue.drain().then(() => {
      drained = true;
    });
    await waitFor("a", () => w.started.length === 1, 5_000, 10);
    w.release("a");
    await waitFor("b", () => w.started.length === 2, 5_000, 10);
    expect(drained).toBe(false);
    w.release("b");
    await draining;
    expect(drained).toBe(true);
    expect(w.finished).toEqual(["a", "b"]);
  });

  it("close() refuses new work, drops runs not started and waits for the in-flight ones", async () => {
    const w = controlledWorker();
    const queue = new CoalescingQueue<string>(w.worker, { concurrency: 1 });
    queue.push("running");
    await waitFor("first run", () => w.started.length === 1, 5_000, 10);
    queue.push("running"); // a rerun due after the in-flight run
    queue.push("waiting");

    let closed = false;
    const closing = queue.close().then(() => {
      closed = true;
    });
    expect(queue.closed).toBe(true);
    expect(queue.push("late")).toBe("closed");
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(closed).toBe(false); // still waiting for the in-flight run

    w.release("running");
    await closing;
    expect(w.started).toEqual(["running"]);
    expect(queue.stats()).toMatchObject({ runs: 1, dropped: 3, pending: 0, running: 0, received: 4 });
    await expect(queue.drain()).resolves.toBeUndefined();
    await expect(queue.close()).resolves.toBeUndefined();
  });

  it("rejects a concurrency that cannot work", () => {
    const noop = async () => {};
    expect(() => new CoalescingQueue<string>(noop, { concurrency: 0 })).toThrow(NotifyConfigError);
    expect(() => new CoalescingQueue<string>(noop, { concurrency: 1.5 })).toThrow(
      /concurrency must be an integer/,
    );
  });
});
