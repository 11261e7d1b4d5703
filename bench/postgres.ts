/** Throwaway PostgreSQL databases for benchmark runs (dropped at exit). */
import { randomBytes } from "node:crypto";
import pg from "pg";

const created: string[] = [];

export async function createPostgresDatabase(serverUrl: string, label: string): Promise<string> {
  const name = `ca_bench_${label}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  created.push(name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropPostgresDatabases(serverUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  for (const name of created.splice(0)) await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
