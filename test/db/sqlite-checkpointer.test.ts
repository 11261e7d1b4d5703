/**
 * The helper service's SQLite connection never checkpoints inside a COMMIT: a worker thread
 * does, and should it stop, the connection checkpoints on commit again.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, sqliteUrl } from "../../src/db/index.js";
import { SQLITE_AUTOCHECKPOINT_PAGES, startSqliteCheckpointer } from "../../src/db/sqlite-checkpointer.js";
import { captureLogger } from "../events-handlers/helpers.js";
import { waitFor } from "../support/wait.js";

const dir = mkdtempSync(join(tmpdir(), "ca-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes about `mib` MiB in one transaction per MiB. */
function write(sqlite: SQLite.Database, mib: number): void {
  sqlite.exec("create table if not exists filler (id integer primary key, data blob not null)");
  const insert = sqlite.prepare("insert into filler (data) values (randomblob(4096))");
  for (let i = 0; i < mib; i++)
    sqlite.transaction(() => {
      for (let j = 0; j < 256; j++) insert.run();
    })();
}

describe("SQLite checkpoints in a worker thread", () => {
  it("moves committed pages into the database file while the connection itself never checkpoints", async () => {
    const file = join(dir, "service.db");
    const database = await openDatabase(sqliteUrl(file), { checkpointInWorker: true });
    const { rows } = await sql<{ wal_autocheckpoint: bigint }>`pragma wal_autocheckpoint`.execute(
      database.db,
    );
    expect(Number(rows[0]?.wal_autocheckpoint)).toBe(0);

    // 8 MiB: past SQLite's own threshold (1,000 pages), so without the worker nothing but a
    // COMMIT would have copied them; with it the database file grows to hold them.
    for (let i = 0; i < 8; i++) {
      await sql`create table if not exists filler (id integer primary key, data blob not null)`.execute(
        database.db,
      );
      await database.db.transaction().execute(async (trx) => {
        for (let j = 0; j < 256; j++)
          await sql`insert into filler (data) values (randomblob(4096))`.execute(trx);
      });
    }
    await waitFor("the database file to hold the pages", () => statSync(file).size > 8 * 1024 * 1024);
    expect(existsSync(`${file}-wal`)).toBe(true);

    await database.close();
    // The worker's connection closes last: SQLite checkpoints what is left and removes the WAL.
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = new SQLite(file, { readonly: true });
    expect(reopened.prepare("select count(*) as n from filler").get()).toEqual({ n: 8 * 256 });
    reopened.close();
  });

  it("checkpoints on commit again, and says so, when the worker stops", async () => {
    const file = join(dir, "fallback.db");
    const sqlite = new SQLite(file);
    sqlite.pragma("journal_mode = WAL");
    const { logger, lines } = captureLogger();
    const checkpointer = startSqliteCheckpointer(sqlite, file, logger, 60_000);
    expect(sqlite.pragma("wal_autocheckpoint", { simple: true })).toBe(0);

    await checkpointer.worker.terminate();
    await waitFor(
      "automatic checkpoints restored",
      () => sqlite.pragma("wal_autocheckpoint", { simple: true }) === SQLITE_AUTOCHECKPOINT_PAGES,
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: "SQLite checkpoint worker stopped; checkpointing on commit again",
      }),
    );
    // SQLite's own checkpoint now copies the pages at COMMIT: the file grows with no worker.
    write(sqlite, 6);
    expect(statSync(file).size).toBeGreaterThan(4 * 1024 * 1024);
    await checkpointer.close();
    sqlite.close();
  });
});
