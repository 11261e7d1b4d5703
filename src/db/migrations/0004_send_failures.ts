/**
 * Sends the daemon refused for a reason of their own (issue 10, fault 1): the reason, kept
 * with the failed send; and the hot wallet's last reported state, so that a restart neither
 * fires `hotwalletlow` again nor misses its recovery.
 */
import type { Kysely, Migration } from "kysely";

export function sendFailuresMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("ca_transaction").addColumn("failure", "text").execute();
      await db.schema
        .createTable("ca_hot_wallet")
        .addColumn("wallet_id", "integer", (c) => c.primaryKey().references("ca_wallet.id"))
        .addColumn("state", "varchar(16)", (c) => c.notNull())
        .addColumn("changed_at", "bigint", (c) => c.notNull())
        .execute();
    },
  };
}
