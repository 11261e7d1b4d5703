/**
 * The SQLite statement cache (src/db/sqlite-statements.ts) on a real better-sqlite3 database:
 * a recurring text is prepared once, and the texts kept stay within their character budget,
 * the least recently used dropped first.
 */
import SQLite from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_SQL_CHARS, withStatementCache } from "../../src/db/sqlite-statements.js";

/** A SELECT of `chars` characters (a padding literal makes up the length). */
function selectOfLength(chars: number, tag: number): string {
  const head = `select ${tag} as tag, '`;
  const tail = "' as pad from t";
  return `${head}${"x".repeat(chars - head.length - tail.length)}${tail}`;
}

describe("withStatementCache", () => {
  let sqlite: SQLite.Database;
  let cache: ReturnType<typeof withStatementCache>;

  beforeEach(() => {
    sqlite = new SQLite(":memory:");
    sqlite.exec("create table t (a integer primary key)");
    cache = withStatementCache(sqlite);
  });
  afterEach(() => cache.close());

  it("prepares a recurring text once", () => {
    const sql = "select a from t where a = ?";
    expect(cache.prepare(sql)).toBe(cache.prepare(sql));
  });

  it("keeps the most recently used texts within the character budget", () => {
    const quarter = Math.floor(MAX_SQL_CHARS / 4) - 100;
    const texts = [0, 1, 2, 3].map((tag) => selectOfLength(quarter, tag));
    const first = texts.map((sql) => cache.prepare(sql));
    // Reusing the first text makes the second the least recently used one.
    expect(cache.prepare(texts[0] as string)).toBe(first[0]);
    const fifth = selectOfLength(quarter, 4);
    cache.prepare(fifth);
    expect(cache.prepare(texts[0] as string)).toBe(first[0]);
    expect(cache.prepare(texts[2] as string)).toBe(first[2]);
    expect(cache.prepare(texts[1] as string)).not.toBe(first[1]); // dropped, prepared anew
    // The statements still run after the churn.
    expect(cache.prepare(fifth).all([])).toEqual([]);
  });

  it("does not keep a text longer than the whole budget, nor drop the others for it", () => {
    const short = "select a from t";
    const kept = cache.prepare(short);
    const huge = selectOfLength(MAX_SQL_CHARS + 1000, 9);
    expect(cache.prepare(huge)).not.toBe(cache.prepare(huge));
    expect(cache.prepare(short)).toBe(kept);
  });
});
