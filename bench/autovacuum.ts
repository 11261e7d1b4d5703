/**
 * This VM's PostgreSQL runs with `autovacuum = off` (conf.d), so a purge of millions of rows
 * would leave what a production server's autovacuum clears as it goes: dead index entries
 * the planner wades through (PostgreSQL 15's get_actual_variable_range: seconds of planning
 * per statement) and statistics from before the purge. While a measured stretch runs, this
 * does autovacuum's job by its own rule, read from the server's settings: every 10 s, a table
 * whose dead rows exceed threshold + scale factor × rows is VACUUM ANALYZEd; one whose rows
 * changed since the last analyze exceed the analyze threshold is ANALYZEd.
 */
import { sql } from "kysely";
import type { Database } from "../src/db/index.js";

export interface AutovacuumStand {
  /** Whether the server's own autovacuum is off (the stand only works then). */
  active: boolean;
  /** Waits for a running VACUUM, then returns what was run: "vacuum ca_event", "analyze …". */
  stop(): Promise<string[]>;
}

interface TableStats {
  name: string;
  reltuples: number;
  dead: number;
  modified: number;
}

export async function standInForAutovacuum(
  database: Database,
  tables: readonly string[],
): Promise<AutovacuumStand> {
  const setting = async (name: string) =>
    Number((await sql<{ v: string }>`select current_setting(${name}) as v`.execute(database.db)).rows[0]?.v);
  const { rows } = await sql<{ v: string }>`select current_setting('autovacuum') as v`.execute(database.db);
  if (rows[0]?.v === "on") return { active: false, stop: async () => [] };
  const vacuum = {
    threshold: await setting("autovacuum_vacuum_threshold"),
    scale: await setting("autovacuum_vacuum_scale_factor"),
  };
  const analyze = {
    threshold: await setting("autovacuum_analyze_threshold"),
    scale: await setting("autovacuum_analyze_scale_factor"),
  };
  const ran: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const stats = await sql<TableStats>`
        select s.relname as name, greatest(c.reltuples, 0)::float8 as reltuples,
          s.n_dead_tup::float8 as dead, s.n_mod_since_analyze::float8 as modified
        from pg_stat_user_tables s join pg_class c on c.oid = s.relid
        where s.relname = any(${tables})`.execute(database.db);
      for (const table of stats.rows) {
        if (table.dead > vacuum.threshold + vacuum.scale * table.reltuples) {
          await sql`vacuum analyze ${sql.table(table.name)}`.execute(database.db);
          ran.push(`vacuum ${table.name}`);
        } else if (table.modified > analyze.threshold + analyze.scale * table.reltuples) {
          await sql`analyze ${sql.table(table.name)}`.execute(database.db);
          ran.push(`analyze ${table.name}`);
        }
      }
      for (let waited = 0; waited < 10_000 && !stopped; waited += 250) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  })();
  return {
    active: true,
    async stop() {
      stopped = true;
      await loop;
      return ran;
    },
  };
}
