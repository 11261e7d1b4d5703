/**
 * Fresh, isolated databases for tests on the three real engines. Test files run in
 * parallel, so every database gets a unique name and is dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { type Database, initializeDatabase, openDatabase } from "../../src/db/index.js";
import type { Engine } from "../../src/db/url.js";
import { sqliteUrl } from "../../src/db/url.js";

export const POSTGRES_URL =
  process.env.CRYPTOASSETS_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
export const MYSQL_URL = process.env.CRYPTOASSETS_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

export const ENGINES: Engine[] = ["sqlite", "postgres", "mysql"];

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function uniqueName(): string {
  return `ca_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

function withDatabaseName(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates an empty database on `engine` and returns its URL. */
export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  const name = uniqueName();
  switch (engine) {
    case "sqlite": {
      const dir = mkdtempSync(join(tmpdir(), "ca-test-"));
      return {
        url: sqliteUrl(join(dir, "test.db")),
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case "postgres": {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      return {
        url: withDatabaseName(POSTGRES_URL, name),
        drop: async () => {
          const c = new pg.Client({ connectionString: POSTGRES_URL });
          await c.connect();
          await c.query(`drop database if exists ${name} with (force)`);
          await c.end();
        },
      };
    }
    case "mysql": {
      const admin = await mysql.createConnection(MYSQL_URL);
      await admin.query(`create database ${name}`);
      await admin.end();
      return {
        url: withDatabaseName(MYSQL_URL, name),
        drop: async () => {
          const c = await mysql.createConnection(MYSQL_URL);
          await c.query(`drop database if exists ${name}`);
          await c.end();
        },
      };
    }
  }
}

export interface OpenTestDatabase {
  database: Database;
  url: string;
  cleanup(): Promise<void>;
}

/** A migrated database ready for use; `cleanup` closes and drops it. */
export async function openTestDatabase(engine: Engine, poolSize?: number): Promise<OpenTestDatabase> {
  const created = await createTestDatabase(engine);
  const database = await openDatabase(created.url, { poolSize });
  await initializeDatabase(database);
  return {
    database,
    url: created.url,
    cleanup: async () => {
      await database.close();
      await created.drop();
    },
  };
}
