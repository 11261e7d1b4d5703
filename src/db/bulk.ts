/**
 * Set-based statements on the three engines: many rows per statement instead of one statement
 * (one round trip, one compilation) per row. PostgreSQL takes whole arrays (`unnest`, `= any`)
 * and SQLite one JSON array (`json_each`), so a statement's text never depends on the number
 * of rows: it is prepared once and reused (../db/sqlite-statements.ts; a text per row count
 * meant a fresh prepare for most batches, and Kysely building a node per value — issue 14).
 * MariaDB takes rows in chunks under its bound-parameter limit.
 *
 * On SQLite every statement runs synchronously on the event loop (better-sqlite3): between
 * chunks these helpers yield the loop (`breathe`), so a large transaction (a block moving
 * 10,000 open transactions) never holds it for long. Nothing else can use the database
 * meanwhile: the transaction holds Kysely's single SQLite connection (./serializable.ts), and
 * every other query of the process waits for it.
 */
import { CompiledQuery, type Expression, type Insertable, type SqlBool, sql } from "kysely";
import type { Schema } from "./schema.js";
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
 * `column IN (values)` for a WHERE clause; on PostgreSQL `column = any($1::type[])` and on
 * SQLite `column in (select value from json_each($1))` (both searched through the column's
 * index), one parameter whatever the number of values. Callers chunk with forEachChunk.
 */
export function valueIn(
  engine: Engine,
  column: string,
  values: readonly (number | string)[],
  pgType: PgType,
): Expression<SqlBool> {
  if (engine === "postgres")
    return sql<SqlBool>`${sql.ref(column)} = any(${sql.val(values)}::${sql.raw(pgType)}[])`;
  if (engine === "sqlite")
    return sql<SqlBool>`${sql.ref(column)} in (select value from json_each(${jsonArray(values)}))`;
  return sql<SqlBool>`${sql.ref(column)} in (${sql.join(values)})`;
}

/**
 * A JSON array of SQL values for SQLite's json_each: integers and bigints as JSON numbers,
 * which SQLite reads back as exact 64-bit integers (money never passes through a float).
 */
export function jsonArray(values: readonly unknown[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) parts[i] = jsonValue(values[i]);
  return `[${parts.join(",")}]`;
}

function jsonValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "bigint":
      return value.toString();
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`cannot bind ${value} to SQLite`);
      return String(value);
    case "boolean":
      return value ? "1" : "0";
    case "undefined":
      return "null";
    default:
      if (value === null) return "null";
      if (Array.isArray(value)) return jsonArray(value);
      throw new TypeError(`cannot bind ${typeof value} to SQLite as a JSON value`);
  }
}

type TableName = keyof Schema & string;

/**
 * Inserts rows (every row giving the same columns), one statement per chunk: on SQLite
 * `insert … select value ->> 0, … from json_each($1)` (one text for every row count), elsewhere
 * Kysely's multi-row VALUES. `returning` (SQLite, PostgreSQL) gives the inserted rows' columns.
 */
export async function insertRows<T extends TableName>(
  trx: Trx,
  engine: Engine,
  table: T,
  rows: readonly Insertable<Schema[T]>[],
  returning: readonly string[] = [],
): Promise<Array<Record<string, unknown>>> {
  const inserted: Array<Record<string, unknown>> = [];
  await forEachChunk(engine, rows, async (chunk) => {
    if (engine !== "sqlite") {
      // Kysely's builder types need a literal table; the rows are already Insertable of it.
      const query = (trx as unknown as Trx).insertInto(table as "ca_event").values(chunk as never);
      if (returning.length === 0) await query.execute();
      else inserted.push(...(await query.returning(returning as never).execute()));
      return;
    }
    const columns = Object.keys(chunk[0] as object);
    const quote = (name: string) => `"${name}"`;
    const text =
      `insert into ${quote(table)} (${columns.map(quote).join(", ")}) ` +
      `select ${columns.map((_, i) => `value ->> ${i}`).join(", ")} from json_each(?) order by key` +
      (returning.length > 0 ? ` returning ${returning.map(quote).join(", ")}` : "");
    const values = chunk.map((row) => columns.map((column) => (row as Record<string, unknown>)[column]));
    const result = await trx.executeQuery<Record<string, unknown>>(
      CompiledQuery.raw(text, [jsonArray(values)]),
    );
    inserted.push(...result.rows);
  });
  return inserted;
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
 * PostgreSQL `UPDATE … FROM unnest(arrays)`, SQLite `WITH v AS (… json_each) UPDATE … FROM v`,
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
      } else if (engine === "sqlite") {
        const fields = names.map((n, i) => `value ->> ${i + 1} as ${n}`);
        text =
          `with v as (select value ->> 0 as id, ${fields.join(", ")} from json_each(?)) ` +
          `update ${table} as t set ${columns.map((c) => assign("", c)).join(", ")} from v where t.id = v.id`;
        parameters = [jsonArray(chunk.map((r) => [r.id, ...r.values]))];
      } else {
        parameters = chunk.flatMap((r) => [r.id, ...r.values]);
        const first = `select ? as id, ${names.map((n) => `? as ${n}`).join(", ")}`;
        const rest = ` union all select ${["?", ...names.map(() => "?")].join(", ")}`;
        text =
          `update ${table} as t join (${first}${rest.repeat(chunk.length - 1)}) as v on t.id = v.id ` +
          `set ${columns.map((c) => assign("t.", c)).join(", ")}`;
      }
      await trx.executeQuery(CompiledQuery.raw(text, parameters));
    },
    // Parameters per row: the id and one per column.
    Math.max(1, Math.floor((ROWS_PER_STATEMENT * 6) / (columns.length + 1))),
  );
}
