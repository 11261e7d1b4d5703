import { ConfigError } from "../errors.js";

/**
 * `${VAR}` and `${VAR:-default}` in string values, so secrets (RPC passwords, webhook
 * secrets, admin tokens) can live in the environment instead of the file.
 */

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: string[] = []): unknown {
  if (typeof value === "string") {
    return value.replace(PATTERN, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== "") return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${path.join(".") || "(root)"}: environment variable ${name} is not set`);
    });
  }
  // Array.from, not map(): map() builds its result through `value.constructor`, and a list
  // handed in from code with an own "constructor" key made that a TypeError.
  if (Array.isArray(value)) return Array.from(value, (v, i) => interpolateEnv(v, env, [...path, String(i)]));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, [...path, k])]),
    );
  }
  return value;
}
