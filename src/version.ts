/**
 * The package's version, one source: package.json, read at runtime because it sits outside
 * the compiled tree (src → dist keeps the same depth, so one relative URL serves both).
 * The CLI's --version, /status.json and the webhook user-agent all show this.
 */
import { readFileSync } from "node:fs";

function readPackageVersion(): string {
  try {
    const text = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}

export const VERSION: string = readPackageVersion();
