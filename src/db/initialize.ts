/** Creates or upgrades the schema. Idempotent: running it on an up-to-date database does nothing. */
import { type Kysely, type MigrationProvider, Migrator } from "kysely";
import { errorMessage, MigrationError } from "../errors.js";
import { migrations } from "./migrations/index.js";
import type { Database } from "./open.js";

export interface InitializeResult {
  /** Migrations applied by this call, in order (empty when already up to date). */
  applied: string[];
}

export async function initializeDatabase(database: Database): Promise<InitializeResult> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(database.engine) };
  const migrator = new Migrator({
    db: database.db as unknown as Kysely<unknown>,
    provider,
    migrationTableName: "ca_migration",
    migrationLockTableName: "ca_migration_lock",
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error) {
    throw new MigrationError(
      `database migration ${failed?.migrationName ?? ""} failed on ${database.url}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  return { applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}
