/**
 * Set-based statements on the three engines: many rows per statement instead of one statement
 * (one round trip, one compilation) per row. PostgreSQL takes whole arrays (`unnest`, `= any`),
 * so a statement's size never depends on the number of rows; SQLite and MariaDB take rows in
 * chunks under their bound-parameter limits.
 *
 * On SQLite every statement runs synchronously on the event loop (better-sqlite3): between
 * chunks these helpers yield the loop (`breathe`), so a large transaction (a block moving
 * 10,000 open transactions) never holds it for long. Nothing else can use the database
 * meanwhile: the transaction holds Kysely's single SQLite connection (./serializable.ts), and
 * every other query of the process waits for it.
 */
import { CompiledQuery, type Expression, type SqlBool, sql } from "kysely";
import type { Trx } from "./serializable.js";
import type { Engine } from "./url.js";

/** Rows per statement on SQLite and MariaDB (a few thousand parameters, under every limit). */
export const ROWS_PER_STATEMENT = 500;

/** Lets the event loop run between two SQLite statements of one transaction; nothing elsewhere. */
export async function breathe(engine: Engine): Promise<void> {
  if (engine === "sqlite") await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * `items` in the pieces one statement takes: all at once on PostgreSQL (arrays), chunks of
 * `size` elsewhere, with the event loop yielded between SQLite chunks.
 */
export async function forEachChunk<T>(
  engine: Engine,
  items: readonly T[],
  fn: (chunk: readonly T[]) => Promise<void>,
  size = ROWS_PER_STATEMENT,
): Promise<void> {
  if (items.length === 0) return;
  if (engine === "postgres") return fn(items);
  for (let i = 0; i < items.length; i += size) {
    if (i > 0) await breathe(engine);
    await fn(items.slice(i, i + size));
  }
}

/** PostgreSQL array types of the values these helpers bind. */
export type PgType = "int" | "bigint" | "text";

/**
 * `column IN (values)` for a WHERE clause; on PostgreSQL `column = any($1::type[])`, one
 * parameter whatever the number of values. Callers chunk with forEachChunk.
 */
export function valueIn(
  engine: Engine,
  column: string,
  values: readonly (number | string)[],
  pgType: PgType,
): Expression<SqlBool> {
  if (engine === "postgres")
    return sql<SqlBool>`${sql.ref(column)} = any(${sql.val(values)}::${sql.raw(pgType)}[])`;
  return sql<SqlBool>`${sql.ref(column)} in (${sql.join(values)})`;
}

export interface BulkColumn {
  name: string;
  pgType: PgType;
  /** Add the value to the stored one (balances) instead of replacing it. */
  add?: boolean;
}

export interface BulkRow {
  id: number;
  /** One value per column, in the columns' order. */
  values: readonly unknown[];
}

/**
 * Sets different values on many rows by id in one statement per chunk:
 * PostgreSQL `UPDATE … FROM unnest(arrays)`, SQLite `WITH v AS (VALUES …) UPDATE … FROM v`,
 * MariaDB `UPDATE … JOIN (SELECT … UNION ALL …)`. Ids must be distinct.
 */
export async function updateRowsById(
  trx: Trx,
  engine: Engine,
  table: string,
  columns: readonly BulkColumn[],
  rows: readonly BulkRow[],
): Promise<void> {
  const names = columns.map((c) => c.name);
  const assign = (target: string, c: BulkColumn) =>
    c.add ? `${target}${c.name} = t.${c.name} + v.${c.name}` : `${target}${c.name} = v.${c.name}`;
  await forEachChunk(
    engine,
    rows,
    async (chunk) => {
      let text: string;
      let parameters: unknown[];
      if (engine === "postgres") {
        const arrays = columns.map((c, i) => `$${i + 2}::${c.pgType}[]`);
        text =
          `update ${table} as t set ${columns.map((c) => assign("", c)).join(", ")} ` +
          `from unnest($1::int[], ${arrays.join(", ")}) as v(id, ${names.join(", ")}) where t.id = v.id`;
        parameters = [
          chunk.map((r) => r.id),
          ...columns.map((_, i) => chunk.map((r) => r.values[i] ?? null)),
        ];
      } else {
        const placeholders = `(${["?", ...names.map(() => "?")].join(", ")})`;
        parameters = chunk.flatMap((r) => [r.id, ...r.values]);
        if (engine === "sqlite") {
          text =
            `with v(id, ${names.join(", ")}) as (values ${chunk.map(() => placeholders).join(", ")}) ` +
            `update ${table} as t set ${columns.map((c) => assign("", c)).join(", ")} from v where t.id = v.id`;
        } else {
          const first = `select ? as id, ${names.map((n) => `? as ${n}`).join(", ")}`;
          const rest = ` union all select ${["?", ...names.map(() => "?")].join(", ")}`;
          text =
            `update ${table} as t join (${first}${rest.repeat(chunk.length - 1)}) as v on t.id = v.id ` +
            `set ${columns.map((c) => assign("t.", c)).join(", ")}`;
        }
      }
      await trx.executeQuery(CompiledQuery.raw(text, parameters));
    },
    // Parameters per row: the id and one per column.
    Math.max(1, Math.floor((ROWS_PER_STATEMENT * 6) / (columns.length + 1))),
  );
}
