/**
 * The pull feed (GET /events on the status server of a running helper service, over real
 * HTTP, on the three real engines): a consumer that stops and resumes from its last cursor
 * while events are written concurrently misses nothing and sees each event once; an event
 * whose transaction took its id first but committed last is still served (the commit-order
 * hazard of paging by id); tokens, parameters, long polls and unknown cursors.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, runSerializable } from "../../src/db/index.js";
import { Outbox } from "../../src/events/outbox/index.js";
import type { CryptoassetsEvent } from "../../src/events/types.js";
import { type HelperService, startHelperService } from "../../src/service/helper-service.js";
import { ENGINES, type OpenTestDatabase, openTestDatabase } from "../support/databases.js";
import { Rng } from "../support/prng.js";
import { sampleTxUpdate as txupdate } from "../support/sample-events.js";

const READ_TOKEN = "feed-read-0123456789";
const ADMIN_TOKEN = "feed-admin-0123456789";

interface Page {
  events: CryptoassetsEvent<"txupdate">[];
  cursor: string | null;
  more: boolean;
}

describe.each(ENGINES)("pull feed on %s", (engine) => {
  let db: OpenTestDatabase;
  let service: HelperService;
  let base: string;
  /**
   * A writer on its own connection pool: another process sharing the database. On SQLite the
   * service's own connection: better-sqlite3 waits for a lock synchronously, so a second
   * connection in this one process would stall the event loop behind a writer it blocks.
   */
  let otherProcess: Outbox;
  let writerDatabase: Database;

  const get = async (query: string, token = READ_TOKEN, signal?: AbortSignal) => {
    const response = await fetch(`${base}/events${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(signal ? { signal } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: (text.startsWith("{") ? JSON.parse(text) : text) as Page };
  };
  /** Reads to the end; returns the final cursor. */
  const drain = async (after: string | null) => {
    let cursor = after;
    for (;;) {
      const page = await get(cursor ? `?after=${cursor}&limit=1000` : "?limit=1000");
      expect(page.status).toBe(200);
      cursor = page.body.cursor;
      if (!page.body.more) return cursor;
    }
  };

  beforeAll(async () => {
    db = await openTestDatabase(engine, 8);
    service = await startHelperService(
      {
        database: { url: db.url, pool_size: 8 },
        coins: { btc: { backend: { class: "null" } } },
        "status-server": { ip: "127.0.0.1", port: 0, read_token: READ_TOKEN, admin_token: ADMIN_TOKEN },
        service: { shutdown_grace_period: 5 },
      },
      { initializeDatabase: false },
    );
    writerDatabase = engine === "sqlite" ? service.database : db.database;
    otherProcess = new Outbox(writerDatabase, []);
    base = (service.statusUrl ?? "").replace(/\/$/, "");
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await db?.cleanup();
  });

  // SQLite has one writer at a time: there an id taken first always commits first.
  it.skipIf(engine === "sqlite")(
    "serves an event whose transaction took the lower id but committed last (paging by id would skip it)",
    async () => {
      const start = await drain(null);
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let lowWritten!: () => void;
      const written = new Promise<void>((resolve) => {
        lowWritten = resolve;
      });
      const slow = runSerializable(
        db.database,
        async (trx) => {
          const events = await otherProcess.writeTxUpdates(trx, [txupdate(9001, 0)]);
          lowWritten();
          await held;
          return events;
        },
        { maxAttempts: 1 },
      );
      await written;
      const [fast] = await runSerializable(writerDatabase, (trx) =>
        otherProcess.writeTxUpdates(trx, [txupdate(9002, 0)]),
      );
      const first = await get(start ? `?after=${start}` : "");
      expect(first.body.events.map((e) => e.event_id)).toEqual([fast?.event_id]);

      release();
      const [late] = await slow;
      expect(late?.event_row_id).toBeLessThan(fast?.event_row_id ?? 0);
      const second = await get(`?after=${first.body.cursor}`);
      expect(second.body.events.map((e) => e.event_id)).toEqual([late?.event_id]);
      expect(second.body.events[0]?.data.transaction).toBe(9001);
    },
    30_000,
  );

  it("a consumer that stops and resumes from its last cursor misses nothing and sees each event once, while writers commit concurrently", async () => {
    const start = await drain(null);
    const rng = new Rng(engine.length * 7919);
    const random = () => rng.next();
    const WRITERS = 6;
    const TRANSACTIONS = 20;
    const written = new Map<string, { key: number; confirmations: number }>();
    let writing = true;
    // Each writer owns one ordering key (its transaction number) and counts confirmations up.
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      const key = 100 + w;
      let confirmations = 0;
      const outbox = w % 2 === 0 ? service.outbox : otherProcess;
      for (let t = 0; t < TRANSACTIONS; t++) {
        const count = 1 + Math.floor(random() * 3);
        // Now and then a long hold: several later transactions commit meanwhile, and the reader reads them.
        const holdMs = random() < 0.1 ? 150 + Math.floor(random() * 150) : Math.floor(random() * 10);
        const payloads = Array.from({ length: count }, (_, i) => txupdate(key, confirmations + i));
        const events = await runSerializable(writerDatabase, async (trx) => {
          const result = await outbox.writeTxUpdates(trx, payloads);
          // Hold the transaction open: ids taken now commit after later ones (PostgreSQL, MariaDB).
          await sleep(holdMs);
          return result;
        });
        if (outbox === service.outbox) service.outbox.notifyCommitted();
        events.forEach((event, i) => {
          written.set(event.event_id, { key, confirmations: confirmations + i });
        });
        confirmations += count;
        await sleep(Math.floor(random() * 5));
      }
    });
    const allWritten = Promise.all(writers).then(() => {
      writing = false;
    });

    // The consumer: keeps only its cursor. Sometimes it gives up mid long-poll (a consumer
    // stopped while waiting) and starts again from the cursor it saved.
    const seen = new Map<string, number>();
    const lastConfirmations = new Map<number, number>();
    let cursor = start;
    let reads = 0;
    let abandoned = 0;
    while (writing || seen.size < written.size) {
      const limit = 1 + Math.floor(random() * 9);
      const quit = new AbortController();
      const stopEarly = random() < 0.2;
      if (stopEarly) setTimeout(() => quit.abort(), Math.floor(random() * 30));
      let page: { status: number; body: Page };
      try {
        page = await get(
          `?${cursor ? `after=${cursor}&` : ""}limit=${limit}&wait=2`,
          READ_TOKEN,
          quit.signal,
        );
      } catch (error) {
        expect((error as Error).name).toBe("AbortError");
        abandoned++;
        continue; // stopped before the answer: nothing was consumed, resume from the same cursor
      }
      reads++;
      expect(page.status).toBe(200);
      expect(page.body.events.length).toBeLessThanOrEqual(limit);
      const ids = page.body.events.map((e) => e.event_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const event of page.body.events) {
        seen.set(event.event_id, (seen.get(event.event_id) ?? 0) + 1);
        const key = event.data.transaction;
        // Per key, events come in creation order.
        expect(event.data.confirmations).toBe((lastConfirmations.get(key) ?? -1) + 1);
        lastConfirmations.set(key, event.data.confirmations);
      }
      if (page.body.events.length > 0) expect(page.body.cursor).toBe(ids[ids.length - 1]);
      else expect(page.body.cursor).toBe(cursor);
      cursor = page.body.cursor;
      if (!writing && seen.size >= written.size) break;
    }
    await allWritten;
    expect(written.size).toBeGreaterThanOrEqual(WRITERS * TRANSACTIONS);
    expect([...seen.keys()].sort()).toEqual([...written.keys()].sort());
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    for (let w = 0; w < WRITERS; w++) {
      const perKey = [...written.values()].filter((e) => e.key === 100 + w).length;
      expect(lastConfirmations.get(100 + w)).toBe(perKey - 1);
    }
    expect(reads).toBeGreaterThan(10);
    // Nothing more after the end.
    expect((await get(`?after=${cursor}`)).body.events).toEqual([]);
    console.log(
      `${engine}: ${written.size} events by ${WRITERS} concurrent writers, ${reads} reads, ${abandoned} abandoned mid-poll`,
    );
  }, 120_000);

  it("a long poll answers as soon as an event commits, and with nothing (the same cursor) when the wait ends", async () => {
    const start = await drain(null);
    const began = Date.now();
    const empty = await get(`?after=${start}&wait=0.6`);
    const waited = Date.now() - began;
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ events: [], cursor: start, more: false });
    expect(waited).toBeGreaterThanOrEqual(550);
    expect(waited).toBeLessThan(5_000);

    // Written by another connection pool: found by the server's poll, well before the wait ends.
    const polled = get(`?after=${start}&wait=20`);
    await sleep(300);
    const writeAt = Date.now();
    const [event] = await runSerializable(writerDatabase, (trx) =>
      otherProcess.writeTxUpdates(trx, [txupdate(7, 0)]),
    );
    const page = await polled;
    expect(page.body.events.map((e) => e.event_id)).toEqual([event?.event_id]);
    expect(Date.now() - writeAt).toBeLessThan(5_000);
    expect(page.body.events[0]).toMatchObject({
      event_name: "txupdate",
      data: { coin_name: "btc", transaction: 7, amount: "0.50000000", confirmations: 0 },
    });
    expect(new Date(page.body.events[0]?.created_at ?? "").getTime()).toBeGreaterThan(began - 1000);
  }, 60_000);

  it("needs the read token (or the admin token), checks its parameters and names an unknown cursor", async () => {
    expect((await get("", "")).status).toBe(401);
    expect((await get("", "wrong-token")).status).toBe(401);
    expect((await get("", `${READ_TOKEN}x`)).status).toBe(401);
    expect((await get("?limit=1", READ_TOKEN)).status).toBe(200);
    expect((await get("?limit=1", ADMIN_TOKEN)).status).toBe(200);
    for (const bad of ["?limit=0", "?limit=1001", "?limit=x", "?wait=26", "?wait=-1", "?after=nope"]) {
      const answer = await get(bad);
      expect(answer.status, bad).toBe(400);
    }
    const unknown = await get("?after=01900000-0000-7000-8000-000000000000");
    expect(unknown.status).toBe(410);
    expect(JSON.stringify(unknown.body)).toMatch(/not in the outbox.*without after/);

    // A status server without a read or admin token serves no feed at all.
    const open = await startHelperService(
      {
        database: { url: db.url },
        coins: { btc: { backend: { class: "null" } } },
        "status-server": { ip: "127.0.0.1", port: 0 },
        service: { shutdown_grace_period: 5 },
      },
      { initializeDatabase: false },
    );
    try {
      const response = await fetch(`${open.statusUrl}events`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      expect(response.status).toBe(403);
      expect(await response.text()).toMatch(/set status-server\.read_token/);
    } finally {
      await open.stop();
    }
  });
});
