/**
 * One set of runtime types on three engines. The drivers disagree: pg returns BIGINT as
 * string, mysql2 (with bigNumberStrings, so nothing passes through a float) returns it as
 * string, better-sqlite3 (with safeIntegers, same reason) returns every integer as bigint.
 * This plugin maps result values by column name: money columns to `bigint`, every other
 * integer-valued column to `number`. Names are the contract: money columns are called
 * `balance`, `amount`, `fee` or start with `sum_`; nothing else may hold money.
 */
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";

const MONEY_COLUMNS = new Set(["balance", "amount", "fee"]);
const INTEGER_TEXT = /^-?\d+$/;

export function isMoneyColumn(name: string): boolean {
  return MONEY_COLUMNS.has(name) || name.startsWith("sum_");
}

/** What a column holds, decided once per column name (names are the contract, see above). */
type ColumnKind = "money" | "integer" | "other";
const kinds = new Map<string, ColumnKind>();

function kindOf(column: string): ColumnKind {
  let kind = kinds.get(column);
  if (kind === undefined) {
    kind = isMoneyColumn(column) ? "money" : isIntegerColumn(column) ? "integer" : "other";
    kinds.set(column, kind);
  }
  return kind;
}

function normalizeValue(column: string, kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (kind === "money") {
    if (typeof value === "bigint") return value;
    if (typeof value === "string" && INTEGER_TEXT.test(value)) return BigInt(value);
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
    // A decimal string here means SUM() on MySQL/PostgreSQL returned NUMERIC: still exact.
    if (typeof value === "string" && /^-?\d+\.0+$/.test(value)) return BigInt(value.split(".")[0] ?? "0");
    throw new TypeError(`column ${column}: cannot read ${typeof value} ${String(value)} as money`);
  }
  if (typeof value === "bigint") return Number(value);
  if (kind === "integer" && typeof value === "string" && INTEGER_TEXT.test(value)) return Number(value);
  return value;
}

/** Columns that hold integers but come back as text from pg/mysql (BIGINT, COUNT()). */
function isIntegerColumn(name: string): boolean {
  return (
    name === "id" ||
    name === "count" ||
    name.endsWith("_id") ||
    name.endsWith("_at") ||
    name.endsWith("_height") ||
    name.endsWith("_ms") ||
    name.endsWith("_seq") ||
    name === "confirmations" ||
    name === "attempts" ||
    name === "tracked"
  );
}

export class NormalizeTypesPlugin implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  // Every row of every query passes here (10,000 rows per block on a busy wallet): plain
  // loops, each column's kind looked up once per name.
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const source = args.result.rows;
    if (source.length === 0) return args.result;
    const rows: UnknownRow[] = new Array(source.length);
    for (let i = 0; i < source.length; i++) {
      const row = source[i] as UnknownRow;
      const out: UnknownRow = {};
      for (const key of Object.keys(row)) out[key] = normalizeValue(key, kindOf(key), row[key]);
      rows[i] = out;
    }
    return { ...args.result, rows };
  }
}
