/**
 * The pull feed's commit-ordered sequence (src/events/feed.ts): `ca_event.feed_seq`, set
 * after an event's transaction committed, and one gate row holding the last number handed
 * out (its row lock serializes the sequencers of every process sharing the database).
 */

import type { Migration } from "kysely";
import { type Kysely, sql } from "kysely";

export function eventFeedMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("ca_event").addColumn("feed_seq", "bigint").execute();
      // Unique: a sequencing bug fails loudly instead of serving two events under one cursor.
      await db.schema.createIndex("ca_event_feed_seq").on("ca_event").column("feed_seq").unique().execute();
      await db.schema
        .createTable("ca_event_feed")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("last_seq", "bigint", (c) => c.notNull())
        .execute();
      await sql`insert into ca_event_feed (id, last_seq) values (1, 0)`.execute(db);
    },
  };
}
