/**
 * A PRIVATE PostgreSQL server for a test that restarts it: the shared server on 5432 serves
 * every other test file running in parallel and must never be disturbed.
 *
 * Preferred: a Debian cluster (`pg_createcluster <major> ca_fault_<random> -p <port>`,
 * trust auth, listening on 127.0.0.1 only), started and restarted with `pg_ctlcluster`, which
 * is what an operator's `systemctl restart postgresql@…` does. When that is impossible (no
 * postgresql-common, not root), the fallback is initdb + pg_ctl from
 * /usr/lib/postgresql/<major>/bin in a temporary directory, run as the postgres user when we
 * are root. `CRYPTOASSETS_TEST_PG_FALLBACK=1` forces the fallback (to check it).
 *
 * `drop()` always removes everything, whatever state the server is in.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface PrivatePostgres {
  /** How it was made: "pg_createcluster" or "initdb". */
  kind: "pg_createcluster" | "initdb";
  name: string;
  port: number;
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** A real server restart (fast shutdown: sessions are terminated, then start). */
  restart(): Promise<void>;
  drop(): Promise<void>;
}

export function postgresMajor(): string {
  const majors = existsSync("/etc/postgresql")
    ? readdirSync("/etc/postgresql").filter((entry) => /^\d+$/.test(entry))
    : [];
  if (majors.length === 0) {
    const libs = existsSync("/usr/lib/postgresql")
      ? readdirSync("/usr/lib/postgresql").filter((entry) => /^\d+$/.test(entry))
      : [];
    majors.push(...libs);
  }
  const major = majors.sort((x, y) => Number(y) - Number(x))[0];
  if (!major)
    throw new Error("no PostgreSQL installation found under /etc/postgresql or /usr/lib/postgresql");
  return major;
}

async function viaCluster(major: string, port: number): Promise<PrivatePostgres> {
  const name = `ca_fault_${randomBytes(4).toString("hex")}`;
  const ctl = (action: string) =>
    run("pg_ctlcluster", ["--skip-systemctl-redirect", major, name, action], { timeout: 60_000 });
  let created = false;
  const drop = async () => {
    if (!created) return;
    created = false;
    await run("pg_dropcluster", ["--stop", major, name], { timeout: 60_000 }).catch(async () => {
      // A server that will not stop politely must not survive the test.
      await ctl("stop").catch(() => undefined);
      await run("pg_dropcluster", [major, name], { timeout: 60_000 }).catch(() => undefined);
    });
  };
  try {
    await run("pg_createcluster", [major, name, "-p", String(port), "--", "--auth=trust"], {
      timeout: 60_000,
    });
    created = true;
    // Loopback IPv4 only (the default "localhost" also binds ::1). Through conf.d: the
    // -o/pg_conftool route writes 127.0.0.1 unquoted, which postgresql.conf cannot parse.
    writeFileSync(
      join("/etc/postgresql", major, name, "conf.d", "ca-fault-test.conf"),
      "listen_addresses = '127.0.0.1'\n",
    );
    await ctl("start");
    return {
      kind: "pg_createcluster",
      name,
      port,
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      restart: async () => {
        await ctl("restart");
      },
      drop,
    };
  } catch (error) {
    await drop();
    throw error;
  }
}

async function viaInitdb(major: string, port: number): Promise<PrivatePostgres> {
  const bin = `/usr/lib/postgresql/${major}/bin`;
  const dir = mkdtempSync(join(tmpdir(), "ca-fault-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  // As root, run the server binaries as postgres (they refuse to run as root).
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args], { timeout: 60_000 })
      : run(join(bin, tool), args, { timeout: 60_000 });
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir}`;
  const ctl = (action: string) =>
    pg("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", options, action]);
  const drop = async () => {
    await pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await pg("initdb", ["-D", data, "-U", "postgres", "--auth=trust"]);
    await ctl("start");
    return {
      kind: "initdb",
      name: data,
      port,
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      restart: async () => {
        await pg("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
        await ctl("start");
      },
      drop,
    };
  } catch (error) {
    await drop();
    throw error;
  }
}

export async function createPrivatePostgres(port: number): Promise<PrivatePostgres> {
  const major = postgresMajor();
  if (process.env.CRYPTOASSETS_TEST_PG_FALLBACK !== "1") {
    try {
      return await viaCluster(major, port);
    } catch (error) {
      console.warn(`pg_createcluster failed (${(error as Error).message}); falling back to initdb + pg_ctl`);
    }
  }
  return viaInitdb(major, port);
}
