/**
 * Issue 10, fault 2: a broadcast's sendmany comment names the ledger, not only the broadcast.
 * Ids of network transactions restart at 1 in every database, so a second ledger on the same
 * daemon wallet (a re-initialised database, a staging copy) wrote the same comments as the
 * first, and recovery closed one ledger's broadcast with the other's payment.
 *
 * - `ca_ledger`: one row, a random id made when the database is created or upgraded;
 * - `ca_network_transaction.comment`: the comment a broadcast was sent with (NULL for those
 *   opened before this migration: they carry the old `cryptoassets:ntx:<id>`);
 * - `ca_network_transaction.recovery_note`: why recovery left an interrupted broadcast to the
 *   operator (a wallet transaction carries its comment but is not its payment).
 */
import { randomBytes } from "node:crypto";
import type { Kysely, Migration } from "kysely";

/** 64 random bits: two databases created anywhere are told apart. */
export function newLedgerId(): string {
  return randomBytes(8).toString("hex");
}

export function broadcastIdentityMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("ca_ledger")
        .addColumn("ledger_id", "varchar(32)", (c) => c.primaryKey())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await (db as Kysely<{ ca_ledger: { ledger_id: string; created_at: number } }>)
        .insertInto("ca_ledger")
        .values({ ledger_id: newLedgerId(), created_at: Date.now() })
        .execute();
      await db.schema.alterTable("ca_network_transaction").addColumn("comment", "varchar(128)").execute();
      await db.schema.alterTable("ca_network_transaction").addColumn("recovery_note", "text").execute();
    },
  };
}
