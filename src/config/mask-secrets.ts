/** The configuration as it may be printed or logged. */
import { maskUrl } from "../redact/url.js";
import type { CryptoassetsConfig } from "./schema.js";

const MASK = "***";
/** Keys whose value is a secret as a whole. */
const SECRET_KEYS = new Set(["password", "secret", "admin_token", "read_token", "token"]);
/** Keys whose value is a mapping of secrets: request headers (Authorization…), a script's environment. */
const SECRET_MAPS = new Set(["headers", "env"]);

/**
 * A copy safe to print or log: passwords, secrets and tokens replaced by ***, every header
 * value and script environment value too, and URLs masked by maskUrl (password and query
 * values; a URL that does not parse is not shown at all).
 */
export function maskSecrets(config: CryptoassetsConfig): CryptoassetsConfig {
  return JSON.parse(
    JSON.stringify(config, (key, value) => {
      if (SECRET_MAPS.has(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
        return Object.fromEntries(Object.keys(value).map((name) => [name, MASK]));
      }
      // Whatever shape a secret has (a list of secrets, a number YAML read): none of it is shown.
      if (SECRET_KEYS.has(key) && value !== null && value !== undefined) {
        return Array.isArray(value) ? value.map(() => MASK) : MASK;
      }
      if (typeof value !== "string") return value;
      if (key === "url") return maskUrl(value);
      return value;
    }),
  );
}
