import { DatabaseUrlError } from "../errors.js";
/** Database connection URLs (DESIGN.md §3) and how to print them without the password. */

export type Engine = "sqlite" | "postgres" | "mysql";

export type DatabaseUrl =
  | { engine: "sqlite"; filename: string }
  | { engine: "postgres"; connectionString: string }
  | { engine: "mysql"; uri: string };

/** `postgresql://app:secret@db/app` → `postgresql://app:***@db/app`. */
export function maskUrlPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}

export function parseDatabaseUrl(url: string): DatabaseUrl {
  const shown = maskUrlPassword(url);
  if (url === "sqlite://:memory:" || url === "sqlite:///:memory:")
    return { engine: "sqlite", filename: ":memory:" };
  if (url.startsWith("sqlite://")) {
    const filename = url.slice("sqlite://".length);
    if (!filename.startsWith("/")) {
      throw new DatabaseUrlError(
        `database url ${shown}: SQLite needs an absolute path, e.g. sqlite:///var/lib/app/cryptoassets.db`,
      );
    }
    return { engine: "sqlite", filename };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseUrlError(`database url ${shown}: not a valid URL`);
  }
  switch (parsed.protocol) {
    case "postgres:":
    case "postgresql:":
      return { engine: "postgres", connectionString: url };
    case "mysql:":
    case "mariadb:":
      return { engine: "mysql", uri: url.replace(/^mariadb:/, "mysql:") };
    default:
      throw new DatabaseUrlError(
        `database url ${shown}: unsupported scheme ${parsed.protocol} (use sqlite://, postgresql:// or mysql://)`,
      );
  }
}
