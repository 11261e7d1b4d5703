/** Loading, validating and defaulting the configuration (YAML file or plain object). */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { maskUrlPassword } from "../db/url.js";
import { canonicalClass } from "./aliases.js";
import { ConfigError } from "./errors.js";
import { interpolateEnv } from "./interpolate.js";
import { type CryptoassetsConfig, configSchema } from "./schema.js";

export interface ParseOptions {
  /** Directory relative paths (SQLite default, in-process callbacks) resolve against. */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

/** Maps the original's dotted class names to ours, before validation. */
function canonicalize(raw: Raw): Raw {
  const out: Raw = { ...raw };
  if (isObject(raw.coins)) {
    out.coins = Object.fromEntries(
      Object.entries(raw.coins).map(([name, coin]) => {
        if (!isObject(coin) || !isObject(coin.backend)) return [name, coin];
        const backend: Raw = { ...coin.backend, class: canonicalClass(coin.backend.class) };
        for (const key of ["walletnotify", "blocknotify"]) {
          const notify = coin.backend[key];
          if (isObject(notify)) backend[key] = { ...notify, class: canonicalClass(notify.class) };
        }
        return [name.toLowerCase(), { ...coin, backend }];
      }),
    );
  }
  if (isObject(raw.events)) {
    out.events = Object.fromEntries(
      Object.entries(raw.events).map(([name, handler]) => [
        name,
        isObject(handler) ? { ...handler, class: canonicalClass(handler.class) } : handler,
      ]),
    );
  }
  return out;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join(".") || "(root)";
      let message = issue.message;
      if (issue.code === "unrecognized_keys") message = `unknown key(s) ${issue.keys.join(", ")}`;
      if (issue.code === "invalid_key") message = issue.issues[0]?.message ?? message;
      if (issue.code === "invalid_union" && "discriminator" in issue) {
        message = `unknown or missing class (expected one of the documented classes)`;
      }
      return `${path}: ${message}`;
    })
    .join("\n");
}

/** Validates a plain object (already parsed from YAML or written in code). */
export function parseConfig(input: unknown, options: ParseOptions = {}): CryptoassetsConfig {
  if (!isObject(input)) throw new ConfigError("configuration must be a mapping of keys to values");
  const baseDir = options.baseDir ?? process.cwd();
  const raw = canonicalize(interpolateEnv(input, options.env ?? process.env) as Raw);
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`invalid configuration:\n${describeIssues(result.error)}`);
  const config = result.data;
  const events = Object.fromEntries(
    Object.entries(config.events).map(([name, handler]) => {
      if (handler.class !== "in-process") return [name, handler];
      const [module = "", exportName] = handler.callback.split("#");
      // Relative module paths are relative to the config file, as users write them.
      const resolved = module.startsWith(".") || isAbsolute(module) ? resolve(baseDir, module) : module;
      return [name, { ...handler, callback: `${resolved}#${exportName}` }];
    }),
  );
  return {
    ...config,
    events,
    database: {
      ...config.database,
      url: config.database.url ?? `sqlite://${resolve(baseDir, "cryptoassets.db")}`,
    },
  };
}

/** Parses YAML text. */
export function parseConfigYaml(text: string, options: ParseOptions = {}): CryptoassetsConfig {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`configuration is not valid YAML: ${(error as Error).message}`);
  }
  return parseConfig(parsed, options);
}

/** Reads and validates a YAML configuration file. */
export function loadConfigFile(
  path: string,
  options: Omit<ParseOptions, "baseDir"> = {},
): CryptoassetsConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `cannot read configuration file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  try {
    return parseConfigYaml(text, { ...options, baseDir: dirname(resolve(path)) });
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`);
    throw error;
  }
}

/** A copy safe to print or log: passwords in URLs, secrets and tokens replaced by ***. */
export function maskSecrets(config: CryptoassetsConfig): CryptoassetsConfig {
  return JSON.parse(
    JSON.stringify(config, (key, value) => {
      if (typeof value !== "string") return value;
      if (key === "password" || key === "secret" || key === "admin_token") return "***";
      if (key === "url") return maskUrlPassword(value);
      return value;
    }),
  );
}
