/** The last known state of each coin's daemon (src/chain/backend-status.ts), so a restart does not re-fire backendstatus. */
import type { Kysely, Migration } from "kysely";

export function backendStatusMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("ca_backend_status")
        .addColumn("coin", "varchar(32)", (c) => c.primaryKey())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("changed_at", "bigint", (c) => c.notNull())
        .addColumn("tip_hash", "varchar(64)")
        .addColumn("tip_height", "integer")
        .addColumn("tip_changed_at", "bigint")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },
  };
}
