/**
 * Database connection URLs, read by SQLAlchemy's rules so the original's configurations
 * mean what they meant there (docs/architecture.md §3); src/redact/url.ts prints them without the
 * password.
 *
 * SQLite: `sqlite:///rel/path.db` is relative to the working directory, `sqlite:////abs.db`
 * absolute, `sqlite://` and `sqlite:///:memory:` in memory (`sqlite://:memory:` too, this
 * project's older spelling). A `+driver` suffix (`postgresql+psycopg2`, `mysql+pymysql`)
 * names a Python driver and is dropped. SQLite query options (`?check_same_thread=false`)
 * are Python driver options: they are ignored and reported in `ignoredOptions`.
 */
import { isAbsolute, resolve } from "node:path";
import { DatabaseUrlError } from "../errors.js";
import { maskUrl, urlProblem } from "../redact/url.js";

export type Engine = "sqlite" | "postgres" | "mysql";

export type DatabaseUrl =
  | {
      engine: "sqlite";
      /** Absolute path, or ":memory:". */
      filename: string;
      /**
       * For a relative path: the absolute path this project read the same URL as before it
       * followed SQLAlchemy (`sqlite:///var/x.db` was /var/x.db, it is now ./var/x.db).
       */
      formerReading?: string;
      /** Query options that were ignored (SQLAlchemy passes them to Python's sqlite3). */
      ignoredOptions: string[];
    }
  | { engine: "postgres"; connectionString: string }
  | { engine: "mysql"; uri: string };

const SQLITE_FORMS =
  "sqlite:///relative/path.db (relative to the working directory), sqlite:////absolute/path.db, sqlite:///:memory: or sqlite://";

/** `sqlite:////abs/path.db` for a path: the URL that means this file under SQLAlchemy's rules. */
export function sqliteUrl(path: string): string {
  if (path === ":memory:") return "sqlite://";
  return `sqlite:///${resolve(path)}`;
}

/** The scheme without a `+driver` suffix, or undefined when the text has no `scheme://`. */
function baseScheme(url: string): { scheme: string; rest: string } | undefined {
  const match = /^([a-z][a-z0-9]*)(?:\+[a-z0-9_]+)?:\/\//i.exec(url);
  if (!match?.[1]) return undefined;
  return { scheme: match[1].toLowerCase(), rest: url.slice(match[0].length) };
}

function parseSqlite(rest: string, cwd: string): DatabaseUrl {
  const query = rest.indexOf("?");
  const location = query === -1 ? rest : rest.slice(0, query);
  const ignoredOptions =
    query === -1
      ? []
      : rest
          .slice(query + 1)
          .split("&")
          .filter((pair) => pair !== "")
          .map((pair) => pair.split("=")[0] ?? pair);
  if (location === "" || location === ":memory:" || location === "/:memory:" || location === "/") {
    return { engine: "sqlite", filename: ":memory:", ignoredOptions };
  }
  if (!location.startsWith("/")) {
    // sqlite://host/… : SQLite has no host; SQLAlchemy refuses the same URL.
    throw new DatabaseUrlError(`database url: a SQLite URL has no host part; the forms are ${SQLITE_FORMS}`);
  }
  const path = location.slice(1);
  if (isAbsolute(path)) return { engine: "sqlite", filename: path, ignoredOptions };
  return { engine: "sqlite", filename: resolve(cwd, path), formerReading: `/${path}`, ignoredOptions };
}

/** Reads a database URL; relative SQLite paths resolve against `cwd` (default: the working directory). */
export function parseDatabaseUrl(url: string, cwd: string = process.cwd()): DatabaseUrl {
  const parsed = baseScheme(url);
  if (parsed?.scheme === "sqlite") return parseSqlite(parsed.rest, cwd);
  const problem = urlProblem(url);
  if (problem !== undefined || parsed === undefined) {
    throw new DatabaseUrlError(`database url is not a valid URL: ${problem ?? "it has no scheme://"}`);
  }
  const plain = `${parsed.scheme}://${parsed.rest}`;
  switch (parsed.scheme) {
    case "postgres":
    case "postgresql":
      return { engine: "postgres", connectionString: plain };
    case "mysql":
    case "mariadb":
      return { engine: "mysql", uri: `mysql://${parsed.rest}` };
    default:
      throw new DatabaseUrlError(
        `database url ${maskUrl(url)}: unsupported scheme ${parsed.scheme}: (use sqlite://, postgresql:// or mysql://)`,
      );
  }
}
