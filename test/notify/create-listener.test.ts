import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { NotifyConfig } from "../../src/config/schema.js";
import { InvalidNotifyValueError, NotifyConfigError } from "../../src/errors.js";
import { CoalescingQueue } from "../../src/notify/coalescing-queue.js";
import { createNotifyListener } from "../../src/notify/create-listener.js";
import { HttpNotifyListener } from "../../src/notify/http-listener.js";
import { PipeNotifyListener } from "../../src/notify/pipe-listener.js";
import { RedisNotifyListener } from "../../src/notify/redis-listener.js";
import { isNotifyValue, normalizeNotifyValue } from "../../src/notify/value.js";
import { randomHash } from "./helpers.js";

describe("createNotifyListener", () => {
  it("builds the transport each config class names", () => {
    const http = createNotifyListener({ class: "http", port: 0 }, () => {});
    const pipe = createNotifyListener({ class: "pipe", fname: "/tmp/unused.fifo" }, () => {});
    const redis = createNotifyListener({ class: "redis", channel: "c" }, () => {});
    expect(http).toBeInstanceOf(HttpNotifyListener);
    expect(pipe).toBeInstanceOf(PipeNotifyListener);
    expect(redis).toBeInstanceOf(RedisNotifyListener);
    expect([http.kind, pipe.kind, redis.kind]).toEqual(["http", "pipe", "redis"]);
    expect(pipe.describe()).toBe("pipe:/tmp/unused.fifo");
  });

  it("rejects an unknown class with a message naming it", () => {
    const config = { class: "zeromq" } as unknown as NotifyConfig;
    expect(() => createNotifyListener(config, () => {})).toThrow(NotifyConfigError);
    expect(() => createNotifyListener(config, () => {})).toThrow(/unknown notify listener class "zeromq"/);
  });

  it("wires a listener into the coalescing queue end to end (pipe and HTTP feed one queue)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "notify-factory-"));
    const processed: string[] = [];
    const queue = new CoalescingQueue<string>(async (txid) => {
      processed.push(txid);
    });
    const push = (txid: string) => {
      queue.push(txid);
    };
    const http = createNotifyListener({ class: "http", port: 0 }, push) as HttpNotifyListener;
    const pipe = createNotifyListener({ class: "pipe", fname: join(dir, "fifo") }, push);
    try {
      await http.start();
      await pipe.start();
      const txid = randomHash();
      const response = await fetch(`http://127.0.0.1:${http.port}/`, {
        method: "POST",
        body: `txid=${txid}`,
      });
      expect(response.status).toBe(200);
      await queue.drain();
      expect(processed).toEqual([txid]);
    } finally {
      await http.close();
      await pipe.close();
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("normalizeNotifyValue", () => {
  it("accepts 64 hex characters in any case, trimmed, and returns them lowercased", () => {
    const hash = randomHash();
    expect(normalizeNotifyValue(`  ${hash.toUpperCase()}\r\n`)).toBe(hash);
    expect(isNotifyValue(hash)).toBe(true);
  });

  it("rejects everything else with a message that shows (a bounded preview of) the input", () => {
    expect(() => normalizeNotifyValue("")).toThrow(/notification is empty/);
    expect(() => normalizeNotifyValue("g".repeat(64))).toThrow(InvalidNotifyValueError);
    expect(() => normalizeNotifyValue(`${randomHash()}00`)).toThrow(/got 66 characters/);
    expect(() => normalizeNotifyValue(`0x${"a".repeat(62)}`)).toThrow(/is not a txid or block hash/);
    const long = "z".repeat(10_000);
    let message = "";
    try {
      normalizeNotifyValue(long);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.length).toBeLessThan(250);
    expect(isNotifyValue("nope")).toBe(false);
  });
});
