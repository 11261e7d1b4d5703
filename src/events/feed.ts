/**
 * The pull feed: events in outbox order behind a cursor, for applications that cannot
 * receive webhooks (`GET /events` on the status server, `cryptoassets events tail`).
 *
 * Why not page by `ca_event.id`: ids are handed out when a transaction inserts its events,
 * not when it commits. On PostgreSQL and MariaDB a transaction can take id 5, stay open while
 * another takes id 6 and commits, and commit afterwards; a reader that served 6 and moved its
 * cursor past it would never see 5. (SQLite has one writer at a time, so there it cannot
 * happen — the design must not depend on that.)
 *
 * So the feed pages by `feed_seq`, a number handed out only to events already committed:
 * the sequencer takes the gate row's lock (`ca_event_feed`, one row: every sequencer of every
 * process queues on it), reads the committed unsequenced events (read committed: each
 * statement sees everything committed before it, nothing in flight) and numbers them above
 * the gate's last number, in id order. An event still in flight is invisible to it and is
 * numbered by a later run, above everything numbered before — so once a reader has seen
 * number n, no event can ever appear below n, and a cursor never skips anything.
 * Per key, feed order is creation order: two events of one key are written by transactions
 * that touch the same ledger row, so the later one commits (and is numbered) after the earlier.
 *
 * feed_seq = id + offset, with the offset raised only when a late commit would fall below
 * the last number: one UPDATE per batch, and feed_seq = id while commits arrive in id order.
 */
import { sql } from "kysely";
import type { Database } from "../db/open.js";
import { runSerializable } from "../db/serializable.js";
import { EventFeedCursorError } from "../errors.js";
import type { CryptoassetsEvent, EventName } from "./types.js";

export const FEED_DEFAULT_LIMIT = 100;
export const FEED_MAX_LIMIT = 1000;
/** Below the status server's 30 s idle-socket timeout, so a long poll always answers. */
export const FEED_MAX_WAIT_SECONDS = 25;
const SEQUENCE_BATCH = 1000;

export interface FeedPage {
  /** Oldest first. */
  events: CryptoassetsEvent[];
  /** Pass as `after` next time: the last event's id, or the `after` given when nothing came. */
  cursor: string | null;
  /** More events were ready beyond `limit`: ask again at once. */
  more: boolean;
}

export interface FeedQuery {
  /** event_id of the last event already read; absent = from the oldest retained event. */
  after?: string | undefined;
  limit?: number | undefined;
}

/** Numbers committed events that have no feed_seq yet; returns how many it numbered. */
export async function sequenceCommittedEvents(database: Database): Promise<number> {
  let total = 0;
  for (;;) {
    // Cheap unlocked look first: an idle feed takes no lock and writes nothing.
    const any = await database.db
      .selectFrom("ca_event")
      .select("id")
      .where("feed_seq", "is", null)
      .limit(1)
      .executeTakeFirst();
    if (!any) return total;
    const numbered = await runSerializable(
      database,
      async (trx) => {
        await trx.updateTable("ca_event_feed").set({ last_seq: sql`last_seq` }).where("id", "=", 1).execute();
        const gate = await trx
          .selectFrom("ca_event_feed")
          .select("last_seq")
          .where("id", "=", 1)
          .executeTakeFirstOrThrow();
        const pending = await trx
          .selectFrom("ca_event")
          .select("id")
          .where("feed_seq", "is", null)
          .orderBy("id")
          .limit(SEQUENCE_BATCH)
          .execute();
        if (pending.length === 0) return 0;
        const ids = pending.map((row) => row.id);
        const first = ids[0] as number;
        const last = ids[ids.length - 1] as number;
        const offset = Math.max(0, Number(gate.last_seq) - first + 1);
        await trx
          .updateTable("ca_event")
          .set({ feed_seq: sql`id + ${offset}` })
          .where("id", "in", ids)
          .where("feed_seq", "is", null)
          .execute();
        await trx
          .updateTable("ca_event_feed")
          .set({ last_seq: last + offset })
          .where("id", "=", 1)
          .execute();
        return ids.length;
      },
      // Read committed on PostgreSQL/MariaDB: after the gate lock, each statement sees every
      // commit before it (the previous sequencer's included). SQLite: BEGIN IMMEDIATE.
      { isolation: "read committed" },
    );
    total += numbered;
    if (numbered < SEQUENCE_BATCH) return total;
  }
}

async function cursorSeq(database: Database, after: string | undefined): Promise<number> {
  if (after === undefined) return 0;
  const row = await database.db
    .selectFrom("ca_event")
    .select("feed_seq")
    .where("event_id", "=", after)
    .executeTakeFirst();
  if (!row || row.feed_seq === null) {
    throw new EventFeedCursorError(
      `event ${after} is not in the outbox (never written, or purged after service.dispatcher.retention_days): read again without after to start from the oldest retained event`,
    );
  }
  return Number(row.feed_seq);
}

function toEvent(row: {
  event_id: string;
  event_name: string;
  payload: string;
  created_at: number;
}): CryptoassetsEvent {
  return {
    event_id: row.event_id,
    event_name: row.event_name as EventName,
    data: JSON.parse(row.payload),
    created_at: new Date(Number(row.created_at)).toISOString(),
  };
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return FEED_DEFAULT_LIMIT;
  return Math.min(FEED_MAX_LIMIT, Math.max(1, Math.trunc(limit)));
}

/** One read: events after the cursor, oldest first, at most `limit` (≤ 1000). */
export async function readFeed(database: Database, query: FeedQuery = {}): Promise<FeedPage> {
  await sequenceCommittedEvents(database);
  const limit = clampLimit(query.limit);
  const from = await cursorSeq(database, query.after);
  const rows = await database.db
    .selectFrom("ca_event")
    .select(["event_id", "event_name", "payload", "created_at"])
    .where("feed_seq", ">", from)
    .orderBy("feed_seq")
    .limit(limit + 1)
    .execute();
  const events = rows.slice(0, limit).map(toEvent);
  return {
    events,
    cursor:
      events.length > 0 ? (events[events.length - 1] as CryptoassetsEvent).event_id : (query.after ?? null),
    more: rows.length > limit,
  };
}

/** The newest `count` events, oldest first (where `events tail` starts without --after). */
export async function latestEvents(database: Database, count: number): Promise<CryptoassetsEvent[]> {
  await sequenceCommittedEvents(database);
  const rows = await database.db
    .selectFrom("ca_event")
    .select(["event_id", "event_name", "payload", "created_at"])
    .where("feed_seq", "is not", null)
    .orderBy("feed_seq", "desc")
    .limit(clampLimit(count))
    .execute();
  return rows.reverse().map(toEvent);
}

export interface WaitOptions extends FeedQuery {
  /** Long poll: wait up to this long for a first event (capped at 25 s). */
  waitMs?: number;
  /** Re-check the database this often (events committed by other processes). Default 250 ms. */
  pollMs?: number;
  /** In-process wake-up when this process commits events: returns an unsubscribe. */
  onCommitted?: ((listener: () => void) => () => void) | undefined;
  /** Stop waiting (client went away, shutdown). */
  signal?: AbortSignal | undefined;
}

/** A read that, when nothing is there yet, waits until something arrives or the wait ends. */
export async function waitFeed(database: Database, options: WaitOptions = {}): Promise<FeedPage> {
  const waitMs = Math.min(FEED_MAX_WAIT_SECONDS * 1000, Math.max(0, options.waitMs ?? 0));
  const deadline = Date.now() + waitMs;
  const pollMs = options.pollMs ?? 250;
  for (;;) {
    const page = await readFeed(database, options);
    const left = deadline - Date.now();
    if (page.events.length > 0 || left <= 0 || options.signal?.aborted) return page;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe?.();
        options.signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(pollMs, left));
      const unsubscribe = options.onCommitted?.(done);
      options.signal?.addEventListener("abort", done);
    });
  }
}
