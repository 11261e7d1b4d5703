/**
 * Issue 14, target 4: room on each page for the rows updated in place (PostgreSQL's HOT
 * updates). A block moves every open network transaction (confirmations, block hash and
 * height, none of them indexed) and each deposit adds to a balance (not indexed either).
 * On full pages each such update wrote its new version to another page and an entry into
 * every index of the table; with free space on the page the new version stays there and no
 * index is touched. Applies to pages written from now on. SQLite and MariaDB have no such
 * setting (InnoDB updates in place).
 */
import { type Kysely, type Migration, sql } from "kysely";
import type { Engine } from "../url.js";

/** Percent of each page filled by inserts; the rest is left for updated row versions. */
export const HOT_FILLFACTOR = 70;

export function hotUpdatesMigration(engine: Engine): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (engine !== "postgres") return;
      for (const table of ["ca_network_transaction", "ca_account", "ca_address"]) {
        await sql`alter table ${sql.table(table)} set (fillfactor = ${sql.lit(HOT_FILLFACTOR)})`.execute(db);
      }
    },
  };
}
