/** Shared plumbing for CLI commands: config + database lifecycle, tables, errors, exit codes. */
import { loadConfigFile } from "../config/load.js";
import type { CryptoassetsConfig } from "../config/schema.js";
import { type Database, openConfiguredDatabase } from "../db/open.js";
import { errorMessage } from "../errors.js";

export interface CommandContext {
  config: CryptoassetsConfig;
  database: Database;
}

/** Loads the config, opens the database, runs `fn`, always closes; errors become exit code 1. */
export async function withDatabase(
  configPath: string,
  fn: (ctx: CommandContext) => Promise<void>,
): Promise<void> {
  let database: Database | undefined;
  try {
    const config = loadConfigFile(configPath, { onWarning: warn });
    database = await openConfiguredDatabase(config.database);
    await fn({ config, database });
  } catch (error) {
    fail(error);
  } finally {
    await database?.close().catch(() => undefined);
  }
}

/** A configuration warning on stderr, where it does not mix with the command's output. */
export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/** Prints the error's own message (our errors name what is wrong) and sets a failing exit code. */
export function fail(error: unknown): void {
  const message = errorMessage(error);
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
}

/** A plain aligned text table: readable in a terminal, stable for eyes, not for scripts (use --json). */
export function formatTable(
  rows: ReadonlyArray<Record<string, unknown>>,
  columns: readonly string[],
): string {
  const cell = (v: unknown) =>
    v === null || v === undefined ? "" : typeof v === "bigint" ? v.toString() : String(v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    line([...columns]),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join("\n");
}

/** JSON with bigint as decimal strings (no float on the way out either). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "" : new Date(ms).toISOString();
}
