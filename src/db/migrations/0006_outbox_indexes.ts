/**
 * Issue 14, target 3: the outbox costs the same with ten million delivered events kept as
 * with none. The claim's two probes use indexes that hold only what is still to deliver:
 *
 * - `ca_delivery_pending` (handler, next_attempt_at, id) of pending rows: the due scan;
 * - `ca_delivery_open` (handler, ordering_key, id) of undelivered rows: the head test.
 *
 * They replace `ca_delivery_due` and `ca_delivery_key`, which held every row ever written.
 * MariaDB has no partial indexes: there the same columns lead with the state, so the probes
 * read only the undelivered range, but the indexes still grow with delivered rows.
 *
 * `ca_delivery_event` (event_row_id): the retention purge, `events show` and the foreign
 * key's cascade look deliveries up by event; PostgreSQL and SQLite do not index a foreign
 * key by themselves (InnoDB does, so MariaDB has one already).
 */
import { type Kysely, type Migration, sql } from "kysely";
import type { Engine } from "../url.js";

export function outboxIndexesMigration(engine: Engine): Migration {
  return {
    async up(db: Kysely<unknown>) {
      for (const name of ["ca_delivery_due", "ca_delivery_key"]) {
        // MariaDB names an index within its table; the others within the schema.
        const drop = db.schema.dropIndex(name);
        await (engine === "mysql" ? drop.on("ca_delivery") : drop).execute();
      }
      if (engine === "mysql") {
        await sql`create index ca_delivery_pending on ca_delivery (handler, state, next_attempt_at, id)`.execute(
          db,
        );
        await sql`create index ca_delivery_open on ca_delivery (handler, ordering_key, state, id)`.execute(
          db,
        );
        return;
      }
      await sql`create index ca_delivery_pending on ca_delivery (handler, next_attempt_at, id)
        where state = 'pending'`.execute(db);
      await sql`create index ca_delivery_open on ca_delivery (handler, ordering_key, id)
        where state <> 'delivered'`.execute(db);
      await sql`create index ca_delivery_event on ca_delivery (event_row_id)`.execute(db);
    },
  };
}
