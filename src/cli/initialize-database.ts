/** `cryptoassets initialize-database <config>`: create or upgrade the schema (idempotent). */
import type { Command } from "commander";
import { initializeDatabase } from "../db/initialize.js";
import { toJson, withDatabase } from "./common.js";

export function registerInitializeDatabaseCommand(program: Command): void {
  program
    .command("initialize-database")
    .description("create or upgrade the database schema (safe to run again)")
    .argument("<config>", "configuration YAML file")
    .option("--json", "machine-readable output")
    .action(async (configPath: string, options: { json?: boolean }) => {
      await withDatabase(configPath, async ({ database }) => {
        const { applied } = await initializeDatabase(database);
        // The id every broadcast's sendmany comment carries (two ledgers on one wallet differ in it).
        const ledger = await database.db.selectFrom("ca_ledger").select("ledger_id").executeTakeFirst();
        const ledgerId = ledger?.ledger_id ?? null;
        if (options.json) console.log(toJson({ database: database.url, applied, ledger_id: ledgerId }));
        else if (applied.length === 0)
          console.log(`${database.url}: schema already up to date (ledger id ${ledgerId})`);
        else console.log(`${database.url}: applied ${applied.join(", ")} (ledger id ${ledgerId})`);
      });
    });
}
