/** Database connection URLs (DESIGN.md §3); src/redact/url.ts prints them without the password. */
import { DatabaseUrlError } from "../errors.js";
import { maskUrl, urlProblem } from "../redact/url.js";

export type Engine = "sqlite" | "postgres" | "mysql";

export type DatabaseUrl =
  | { engine: "sqlite"; filename: string }
  | { engine: "postgres"; connectionString: string }
  | { engine: "mysql"; uri: string };

export function parseDatabaseUrl(url: string): DatabaseUrl {
  if (url === "sqlite://:memory:" || url === "sqlite:///:memory:")
    return { engine: "sqlite", filename: ":memory:" };
  if (url.startsWith("sqlite://")) {
    const filename = url.slice("sqlite://".length);
    if (!filename.startsWith("/")) {
      throw new DatabaseUrlError(
        "database url: SQLite needs an absolute path after sqlite://, e.g. sqlite:///var/lib/app/cryptoassets.db",
      );
    }
    return { engine: "sqlite", filename };
  }
  const problem = urlProblem(url);
  if (problem !== undefined) throw new DatabaseUrlError(`database url is not a valid URL: ${problem}`);
  const parsed = new URL(url);
  switch (parsed.protocol) {
    case "postgres:":
    case "postgresql:":
      return { engine: "postgres", connectionString: url };
    case "mysql:":
    case "mariadb:":
      return { engine: "mysql", uri: url.replace(/^mariadb:/, "mysql:") };
    default:
      throw new DatabaseUrlError(
        `database url ${maskUrl(url)}: unsupported scheme ${parsed.protocol} (use sqlite://, postgresql:// or mysql://)`,
      );
  }
}
