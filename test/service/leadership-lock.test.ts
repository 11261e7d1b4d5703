/**
 * The advisory lock behind singleton duties, on a real PostgreSQL server: one holder at a
 * time, and a lost lock connection stops the duty at once while the standby takes over.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresLockFactory } from "../../src/service/leadership.js";
import { SingletonDuty } from "../../src/service/singleton-duty.js";
import { SubsystemRegistry } from "../../src/service/subsystems.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait.js";

interface Instance {
  name: string;
  duty: SingletonDuty;
  subsystems: SubsystemRegistry;
  log: string[];
}

describe("PostgreSQL advisory lock leadership", () => {
  let db: OpenTestDatabase;
  const instances: Instance[] = [];

  beforeAll(async () => {
    db = await openTestDatabase("postgres");
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((instance) => instance.duty.stop()));
    await db?.cleanup();
  });

  function instance(name: string): Instance {
    const subsystems = new SubsystemRegistry();
    const log: string[] = [];
    const locks = new PostgresLockFactory({ connectionString: db.url, heartbeatMs: 200 });
    const duty = new SingletonDuty({
      name: "btc.chain",
      lock: locks.create("chain:btc:default"),
      duty: {
        start: async () => {
          log.push("start");
        },
        stop: async () => {
          log.push("stop");
        },
      },
      subsystems,
      retryMs: 200,
      onFailure: (error) => log.push(`failed: ${String(error)}`),
    });
    const created = { name, duty, subsystems, log };
    instances.push(created);
    return created;
  }

  /** The backend pid holding our advisory lock in this database. */
  async function holderPid(admin: pg.Client): Promise<number | undefined> {
    const result = await admin.query<{ pid: number }>(
      "select l.pid from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and l.granted and d.datname = current_database()",
    );
    return result.rows[0]?.pid;
  }

  it("runs the duty on one instance only, and moves it when the holder's connection is lost", async () => {
    const a = instance("a");
    const b = instance("b");
    await a.duty.start();
    await b.duty.start();
    expect(a.duty.isLeader).toBe(true);
    expect(a.log).toEqual(["start"]);
    expect(b.duty.isLeader).toBe(false);
    expect(b.subsystems.get("btc.chain")).toMatchObject({ state: "standby" });
    expect(b.log).toEqual([]);

    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const pid = await holderPid(admin);
      expect(pid).toBeDefined();
      await admin.query("select pg_terminate_backend($1)", [pid]);
      // The holder learns at once (socket closed) and stops its duty; the standby takes over.
      await waitFor("a to stop its duty", () => (a.log.includes("stop") ? true : undefined), 5000, 20);
      expect(a.duty.isLeader).toBe(false);
      await waitFor("b to take over", () => (b.duty.isLeader ? true : undefined), 5000, 20);
      expect(b.log).toEqual(["start"]);
      expect(b.subsystems.get("btc.chain")).toMatchObject({ state: "running" });
      expect(a.subsystems.get("btc.chain")?.state).toBe("standby");
      expect(await holderPid(admin)).not.toBe(pid);

      // Graceful stop releases the lock: the other instance gets it back.
      await b.duty.stop();
      expect(b.log).toEqual(["start", "stop"]);
      await waitFor("a to lead again", () => (a.duty.isLeader ? true : undefined), 5000, 20);
      expect(a.log).toEqual(["start", "stop", "start"]);
    } finally {
      await admin.end();
    }
  }, 30_000);
});
