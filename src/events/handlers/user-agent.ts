/**
 * `user-agent: cryptoassets/<version>`, so receivers can tell our deliveries apart in their
 * access logs. The version is read from package.json at runtime because package.json sits
 * outside the compiled tree (src → dist keeps the same depth, so one relative URL serves both).
 */
import { readFileSync } from "node:fs";

function readPackageVersion(): string {
  try {
    const text = readFileSync(new URL("../../../package.json", import.meta.url), "utf8");
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}

export const PACKAGE_VERSION: string = readPackageVersion();
export const USER_AGENT = `cryptoassets/${PACKAGE_VERSION}`;
