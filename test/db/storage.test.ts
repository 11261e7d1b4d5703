import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  initializeDatabase,
  isRetryableError,
  parseDatabaseUrl,
  runSerializable,
  sqliteUrl,
} from "../../src/db/index.js";
import { HOT_FILLFACTOR } from "../../src/db/migrations/0007_hot_updates.js";
import { DatabaseUrlError, TransactionRetryExhaustedError } from "../../src/errors.js";
import { maskUrl } from "../../src/redact/url.js";
import { ENGINES, type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

describe("database URLs", () => {
  it("parses the three engines and masks passwords", () => {
    expect(parseDatabaseUrl("postgresql://u:p@h:5432/d").engine).toBe("postgres");
    expect(parseDatabaseUrl("mariadb://u:p@h:3306/d")).toEqual({
      engine: "mysql",
      uri: "mysql://u:p@h:3306/d",
    });
    expect(maskUrl("postgresql://app:s3cret@db:5432/app")).toBe("postgresql://app:***@db:5432/app");
  });

  it("reads SQLite URLs by SQLAlchemy's rules", () => {
    const memory = { engine: "sqlite", filename: ":memory:", ignoredOptions: [] };
    expect(parseDatabaseUrl("sqlite:///rel/x.db", "/srv/app")).toEqual({
      engine: "sqlite",
      filename: "/srv/app/rel/x.db",
      formerReading: "/rel/x.db",
      ignoredOptions: [],
    });
    expect(parseDatabaseUrl("sqlite:////var/lib/app/x.db", "/srv/app")).toEqual({
      engine: "sqlite",
      filename: "/var/lib/app/x.db",
      ignoredOptions: [],
    });
    expect(parseDatabaseUrl("sqlite://")).toEqual(memory);
    expect(parseDatabaseUrl("sqlite:///:memory:")).toEqual(memory);
    expect(parseDatabaseUrl("sqlite://:memory:")).toEqual(memory);
    expect(parseDatabaseUrl("sqlite:///:memory:?check_same_thread=false&timeout=5")).toEqual({
      ...memory,
      ignoredOptions: ["check_same_thread", "timeout"],
    });
    expect(parseDatabaseUrl("sqlite+pysqlite:////tmp/x.db")).toMatchObject({ filename: "/tmp/x.db" });
    expect(sqliteUrl("/tmp/x.db")).toBe("sqlite:////tmp/x.db");
    expect(parseDatabaseUrl(sqliteUrl("/tmp/x.db"))).toMatchObject({ filename: "/tmp/x.db" });
  });

  it("drops SQLAlchemy's +driver suffixes", () => {
    expect(parseDatabaseUrl("postgresql+psycopg2://u:p@h:5432/d")).toEqual({
      engine: "postgres",
      connectionString: "postgresql://u:p@h:5432/d",
    });
    expect(parseDatabaseUrl("mysql+pymysql://u:p@h/d")).toEqual({ engine: "mysql", uri: "mysql://u:p@h/d" });
    expect(parseDatabaseUrl("mysql+mysqldb://u:p@h/d")).toEqual({ engine: "mysql", uri: "mysql://u:p@h/d" });
  });

  it("rejects bad URLs with the password masked", () => {
    expect(() => parseDatabaseUrl("sqlite://relative.db")).toThrow(
      /a SQLite URL has no host part; the forms are sqlite:\/\/\/relative\/path\.db/,
    );
    expect(() => parseDatabaseUrl("oracle://u:topsecret@h/d")).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl("oracle://u:topsecret@h/d")).toThrow(/oracle:\/\/u:\*\*\*@h\/d/);
    expect(() => parseDatabaseUrl("oracle://u:topsecret@h/d")).not.toThrow(/topsecret/);
  });
});

describe.each(ENGINES)("storage on %s", (engine) => {
  let t: OpenTestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine);
  });
  afterAll(async () => t?.cleanup());

  it("initialize-database is idempotent", async () => {
    const again = await initializeDatabase(t.database);
    expect(again.applied).toEqual([]);
  });

  it("stores the largest and smallest amounts exactly and reads them back as bigint", async () => {
    const { db } = t.database;
    const now = Date.now();
    await runSerializable(t.database, async (trx) => {
      await trx.insertInto("ca_wallet").values({ coin: "btc", name: "w", created_at: now }).execute();
    });
    const wallet = await db.selectFrom("ca_wallet").selectAll().executeTakeFirstOrThrow();
    expect(typeof wallet.id).toBe("number");
    expect(wallet.created_at).toBe(now);
    for (const [name, balance] of [
      ["max", 2099999999999999n],
      ["one", 1n],
    ] as const) {
      await db
        .insertInto("ca_account")
        .values({ wallet_id: wallet.id, name, kind: "user", balance, created_at: now })
        .execute();
    }
    const rows = await db
      .selectFrom("ca_account")
      .select(["name", "balance", "id"])
      .orderBy("name")
      .execute();
    expect(rows.map((r) => [r.name, r.balance])).toEqual([
      ["max", 2099999999999999n],
      ["one", 1n],
    ]);
    expect(typeof rows[0]?.balance).toBe("bigint");
    expect(typeof rows[0]?.id).toBe("number");
    const total = await db
      .selectFrom("ca_account")
      .select(({ fn }) => fn.sum<bigint>("balance").as("sum_balance"))
      .executeTakeFirstOrThrow();
    expect(total.sum_balance).toBe(2100000000000000n);
  });

  it("rolls back everything when the function throws", async () => {
    const before = await t.database.db.selectFrom("ca_wallet").select("id").execute();
    await expect(
      runSerializable(t.database, async (trx) => {
        await trx
          .insertInto("ca_wallet")
          .values({ coin: "ltc", name: "rolled-back", created_at: 1 })
          .execute();
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const after = await t.database.db.selectFrom("ca_wallet").select("id").execute();
    expect(after.length).toBe(before.length);
  });
});

describe("serializable retry", () => {
  it("classifies retryable errors", () => {
    expect(isRetryableError({ code: "40001" })).toBe(true);
    expect(isRetryableError({ code: "40P01" })).toBe(true);
    expect(isRetryableError({ errno: 1213 })).toBe(true);
    expect(isRetryableError({ code: "SQLITE_BUSY" })).toBe(true);
    expect(isRetryableError({ code: "23505" })).toBe(false);
    expect(isRetryableError(new Error("x"))).toBe(false);
  });

  it("retries a real PostgreSQL serialization conflict until both transactions apply", async () => {
    const t = await openTestDatabase("postgres", 4);
    try {
      const { database } = t;
      await database.db.insertInto("ca_wallet").values({ coin: "btc", name: "w", created_at: 1 }).execute();
      const wallet = await database.db.selectFrom("ca_wallet").select("id").executeTakeFirstOrThrow();
      await database.db
        .insertInto("ca_account")
        .values({ wallet_id: wallet.id, name: "a", kind: "user", balance: 0n, created_at: 1 })
        .execute();
      // Both read the balance, wait for each other, then write: one must get 40001 and rerun.
      let arrived = 0;
      let release: () => void = () => {};
      const bothRead = new Promise<void>((resolve) => {
        release = resolve;
      });
      let attempts = 0;
      const increment = () =>
        runSerializable(database, async (trx) => {
          attempts++;
          const row = await trx
            .selectFrom("ca_account")
            .select("balance")
            .where("name", "=", "a")
            .executeTakeFirstOrThrow();
          if (++arrived === 2) release();
          await Promise.race([bothRead, new Promise((r) => setTimeout(r, 200))]);
          await trx
            .updateTable("ca_account")
            .set({ balance: row.balance + 1n })
            .where("name", "=", "a")
            .execute();
        });
      const retriesBefore = database.stats.retries;
      await Promise.all([increment(), increment()]);
      const final = await database.db.selectFrom("ca_account").select("balance").executeTakeFirstOrThrow();
      expect(final.balance).toBe(2n);
      expect(database.stats.retries - retriesBefore).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeGreaterThanOrEqual(3);
    } finally {
      await t.cleanup();
    }
  });

  it("gives up after the bounded number of attempts with a clear error", async () => {
    const t = await openTestDatabase("sqlite");
    try {
      const conflict = Object.assign(new Error("could not serialize access"), { code: "40001" });
      let calls = 0;
      const error = await runSerializable(
        t.database,
        async () => {
          calls++;
          throw conflict;
        },
        { maxAttempts: 3, baseDelayMs: 1 },
      ).catch((e) => e);
      expect(error).toBeInstanceOf(TransactionRetryExhaustedError);
      expect(error.message).toMatch(/after 3 attempts; last error: could not serialize access/);
      expect(calls).toBe(3);
    } finally {
      await t.cleanup();
    }
  });
});

describe("PostgreSQL page room for updates in place", () => {
  it("leaves free space on the pages of the tables updated at every block and deposit", async () => {
    const t = await openTestDatabase("postgres");
    try {
      const { rows } = await sql<{ relname: string; reloptions: string[] | null }>`
        select relname, reloptions from pg_class
        where relname in ('ca_network_transaction', 'ca_account', 'ca_address', 'ca_event')
        order by relname`.execute(t.database.db);
      expect(rows).toEqual([
        { relname: "ca_account", reloptions: [`fillfactor=${HOT_FILLFACTOR}`] },
        { relname: "ca_address", reloptions: [`fillfactor=${HOT_FILLFACTOR}`] },
        // Written once, never updated: full pages.
        { relname: "ca_event", reloptions: null },
        { relname: "ca_network_transaction", reloptions: [`fillfactor=${HOT_FILLFACTOR}`] },
      ]);
    } finally {
      await t.cleanup();
    }
  });
});
