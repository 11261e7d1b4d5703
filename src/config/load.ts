/** Loading, validating and defaulting the configuration (YAML file or plain object). */
import { closeSync, openSync, readSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { type CST, type Document, isScalar, Parser, parseDocument, visit, type YAMLError } from "yaml";
import type { z } from "zod";
import { knownCoins } from "../coins/registry.js";
import { sqliteUrl } from "../db/url.js";
import { ConfigError, errorMessage } from "../errors.js";
import { canonicalClass } from "./aliases.js";
import { readOriginalSpellings } from "./compat.js";
import { interpolateEnv } from "./interpolate.js";
import { type CryptoassetsConfig, configSchema } from "./schema.js";

export interface ParseOptions {
  /** Directory relative paths (SQLite default, in-process callbacks) resolve against. */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Hears what the configuration says that is accepted but has no effect (the original's
   * SQLAlchemy engine options, SQLite driver options, logging handlers). Default: a Node
   * process warning (stderr, or a 'warning' listener).
   */
  onWarning?: (message: string) => void;
}

function emitConfigWarning(message: string): void {
  process.emitWarning(message, { type: "ConfigWarning", code: "CA_CONFIG_IGNORED" });
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Limits on hostile input. A real configuration is a few KiB, about six levels deep, with
 * a hundred values; these are far above that and far below what hurts.
 */
const MAX_CONFIG_BYTES = 256 * 1024;
const MAX_CONFIG_SIZE = `${MAX_CONFIG_BYTES / 1024} KiB`;
const MAX_DEPTH = 64;
const MAX_VALUES = 100_000;
/** The yaml library's default, stated because it is our guard against billion-laughs bombs. */
const MAX_ALIAS_COUNT = 100;
/** Issues, unknown keys and echoed values shown in one message (a huge file must not flood the log). */
const MAX_ISSUES = 20;
const MAX_KEYS = 10;
const MAX_SHOWN_CHARS = 60;

function shown(text: string): string {
  const short = text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}…` : text;
  // Control characters (a newline in a key) would forge extra lines in the message.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  return /[\u0000-\u001f\u007f\u2028\u2029]/.test(short) ? JSON.stringify(short) : short;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(root)" : path.map((segment) => shown(String(segment))).join(".");
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a mapping";
  return shown(JSON.stringify(value) ?? String(value));
}

function kindOf(value: unknown): string {
  if (value === undefined || value === null) return "nothing";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

/**
 * Walks the raw tree before anything recursive touches it. YAML aliases can make it cyclic
 * (`a: &x { b: *x }`: the recursive steps below overflowed the stack, a RangeError) or, within
 * the yaml library's own alias limit, repeat a large list a hundred times (every step below
 * walks the expanded tree). `__proto__` keys are refused: zod drops them from records
 * silently, so a coin or handler so named would vanish without an error.
 */
function checkShape(root: Raw): void {
  let values = 0;
  const ancestors = new Set<object>();
  const walk = (node: unknown, path: string[]): void => {
    if (++values > MAX_VALUES) {
      throw new ConfigError(
        `${formatPath(path)}: more than ${MAX_VALUES} values once YAML aliases are expanded`,
      );
    }
    if (typeof node !== "object" || node === null) return;
    const proto = Object.getPrototypeOf(node);
    if (!Array.isArray(node) && proto !== Object.prototype && proto !== null) return; // Buffer, Date…
    if (ancestors.has(node)) {
      throw new ConfigError(
        `${formatPath(path)}: a YAML alias that refers to its own enclosing mapping or list (a cycle)`,
      );
    }
    if (path.length >= MAX_DEPTH) {
      throw new ConfigError(`${formatPath(path)}: nested more than ${MAX_DEPTH} levels deep`);
    }
    ancestors.add(node);
    for (const [key, value] of Object.entries(node)) {
      if (key === "__proto__") {
        throw new ConfigError(`${formatPath([...path, key])}: "__proto__" is not allowed as a key`);
      }
      walk(value, [...path, key]);
    }
    ancestors.delete(node);
  };
  walk(root, []);
}

/** Maps the original's dotted class names to ours, before validation. */
function canonicalize(raw: Raw): Raw {
  const out: Raw = { ...raw };
  if (isObject(raw.coins)) {
    // Names are lowercased below; two spellings of one coin would silently lose one of them.
    const seen = new Map<string, string>();
    for (const name of Object.keys(raw.coins)) {
      const first = seen.get(name.toLowerCase());
      if (first !== undefined) {
        throw new ConfigError(
          `${formatPath(["coins", name])}: the same coin as ${formatPath(["coins", first])} (coin names are case-insensitive)`,
        );
      }
      seen.set(name.toLowerCase(), name);
    }
    const unknown = Object.keys(raw.coins).filter((name) => !knownCoins().includes(name.toLowerCase()));
    if (unknown.length > 0) {
      // One line for all of them (the original's documentation shows two unknown coins at once).
      const where = unknown.length === 1 ? `coins.${shown(unknown[0] ?? "")}` : "coins";
      const which = unknown.length === 1 ? "unknown coin" : `unknown coins ${unknown.map(shown).join(", ")}`;
      throw new ConfigError(
        `invalid configuration: ${where}: ${which}; known coins: ${knownCoins().join(", ")} ` +
          "(a coin is named by its acronym; the original's own models modules are not loaded)",
      );
    }
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

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const segment of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

/** An unknown class, with the accepted ones (zod's own text names neither). */
function describeClass(options: readonly unknown[], received: unknown): string {
  const expected = `expected one of: ${options.map(String).join(", ")}`;
  if (received === undefined) return `missing class; ${expected}`;
  const hint =
    received === null && options.includes("null")
      ? ' (a bare null is YAML\'s empty value: write class: "null" for the dummy backend)'
      : " (or the original's dotted class name)";
  return `unknown class ${describeValue(received)}; ${expected}${hint}`;
}

function describeIssues(error: z.ZodError, raw: unknown): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.slice(0, MAX_KEYS).map(shown).join(", ");
      const more = issue.keys.length > MAX_KEYS ? ` and ${issue.keys.length - MAX_KEYS} more` : "";
      message = `unknown key(s) ${keys}${more}`;
    }
    if (issue.code === "invalid_key") message = issue.issues[0]?.message ?? message;
    if (issue.code === "invalid_union" && issue.discriminator !== undefined) {
      message = describeClass("options" in issue ? (issue.options ?? []) : [], valueAt(raw, issue.path));
    }
    return `${path}: ${message}`;
  });
}

/** Validates a plain object (already parsed from YAML or written in code). */
export function parseConfig(input: unknown, options: ParseOptions = {}): CryptoassetsConfig {
  if (!isObject(input)) {
    throw new ConfigError(`(root): configuration must be a mapping of keys to values, got ${kindOf(input)}`);
  }
  checkShape(input);
  const baseDir = options.baseDir ?? process.cwd();
  const interpolated = interpolateEnv(input, options.env ?? process.env) as Raw;
  // Told only when the configuration loads: beside an error they would be noise.
  const warnings: string[] = [];
  const raw = canonicalize(readOriginalSpellings(interpolated, (message) => warnings.push(message)));
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = describeIssues(result.error, raw);
    // One problem, one line (what an operator sees in the journal); several, one per line.
    if (problems.length === 1) throw new ConfigError(`invalid configuration: ${problems[0]}`);
    const listed = problems.slice(0, MAX_ISSUES);
    if (problems.length > MAX_ISSUES) listed.push(`… and ${problems.length - MAX_ISSUES} more problems`);
    throw new ConfigError(`invalid configuration (${problems.length} problems):\n${listed.join("\n")}`);
  }
  const config = result.data;
  for (const message of warnings) (options.onWarning ?? emitConfigWarning)(message);
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
      url: config.database.url ?? sqliteUrl(resolve(baseDir, "cryptoassets.db")),
    },
  };
}

function position(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/**
 * The yaml composer recurses once per nesting level: a few thousand levels overflow the
 * stack, and a second such document in the same process made V8 abort the whole process
 * ("RegExpCompiler Allocation failed"). Its parser is iterative, so measure depth on the
 * parser's tokens, with an explicit stack, before composing.
 */
function yamlNestingError(text: string): string | undefined {
  for (const token of new Parser().parse(text)) {
    const stack: [CST.Token | null | undefined, number][] = [[token, 0]];
    for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
      const [node, depth] = entry;
      if (node?.type === "document") stack.push([node.value, depth]);
      else if (node?.type === "block-map" || node?.type === "block-seq" || node?.type === "flow-collection") {
        if (depth >= MAX_DEPTH)
          return `${position(text, node.offset)}: nested more than ${MAX_DEPTH} levels deep`;
        for (const item of node.items as CST.CollectionItem[]) {
          stack.push([item.key, depth + 1], [item.value, depth + 1]);
        }
      }
    }
  }
  return undefined;
}

function describeYamlError(text: string, error: YAMLError): string {
  const message =
    error.code === "MULTIPLE_DOCS"
      ? "Source contains multiple documents (a second ---); expected one"
      : error.message;
  return `${position(text, error.pos[0])}: ${message}`;
}

/**
 * Duplicate keys, found with a Set per mapping: the yaml library's own check (uniqueKeys)
 * compares every pair with every other, and a 100,000-key mapping (about 1 MiB) took minutes.
 * Keys compare as the strings they become in JavaScript, so `1:` and `"1":` collide too.
 */
function duplicateKeyError(text: string, doc: Document.Parsed): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        const name = String(key.value);
        if (seen.has(name)) {
          found = `${position(text, key.range?.[0] ?? 0)}: Map keys must be unique: ${JSON.stringify(shown(name))}`;
          return visit.BREAK;
        }
        seen.add(name);
      }
      return undefined;
    },
  });
  return found;
}

/**
 * YAML 1.2 reads `mode: 0600` as decimal 600 (and `0400` as 400 = 0o620, group-writable).
 * Every operator means chmod's octal, as the original's YAML 1.1 loader read it.
 */
function readModesAsOctal(doc: Document.Parsed): void {
  visit(doc, {
    Pair(_key, pair) {
      const { key, value } = pair;
      if (!isScalar(key) || key.value !== "mode" || !isScalar(value) || typeof value.value !== "number")
        return;
      if (value.source !== undefined && /^0[0-7]+$/.test(value.source)) {
        value.value = Number.parseInt(value.source, 8);
      }
    },
  });
}

/** Parses YAML text. */
export function parseConfigYaml(text: string, options: ParseOptions = {}): CryptoassetsConfig {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(`configuration is larger than ${MAX_CONFIG_SIZE}; is it the right file?`);
  }
  const nesting = yamlNestingError(text);
  if (nesting !== undefined) throw new ConfigError(`configuration is not valid YAML: ${nesting}`);
  // prettyErrors off: the pretty form quotes the source line, which may hold a password.
  // logLevel "error": warnings (an unresolved !tag) become errors here, not stderr noise.
  const doc = parseDocument(text, { prettyErrors: false, logLevel: "error", uniqueKeys: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    throw new ConfigError(`configuration is not valid YAML: ${describeYamlError(text, problem)}`);
  }
  const duplicate = duplicateKeyError(text, doc);
  if (duplicate !== undefined) throw new ConfigError(`configuration is not valid YAML: ${duplicate}`);
  readModesAsOctal(doc);
  let parsed: unknown;
  try {
    parsed = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const message = errorMessage(error);
    if (/excessive alias count/i.test(message)) {
      throw new ConfigError(`configuration is not valid YAML: YAML aliases expand too far (${message})`, {
        cause: error,
      });
    }
    // toJS errors carry no position; an unresolved alias is found by its name.
    const alias = /unresolved alias.*: (\S+)$/i.exec(message)?.[1];
    const at = alias === undefined ? -1 : text.indexOf(`*${alias}`);
    throw new ConfigError(
      `configuration is not valid YAML: ${at === -1 ? "" : `${position(text, at)}: `}${message}`,
      { cause: error },
    );
  }
  if (parsed === null || parsed === undefined) {
    throw new ConfigError('configuration is empty: expected a mapping with at least "coins"');
  }
  return parseConfig(parsed, options);
}

/** Reads at most MAX_CONFIG_BYTES (+1 to notice more): `/dev/zero` or a wrong huge file must not hang us. */
function readConfigText(path: string): string {
  let fd: number | undefined;
  let length = 0;
  const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
  try {
    fd = openSync(path, "r");
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
  } catch (error) {
    throw new ConfigError(
      `cannot read configuration file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      { cause: error },
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (length > MAX_CONFIG_BYTES) {
    throw new ConfigError(
      `${path}: configuration file is larger than ${MAX_CONFIG_SIZE}; is it the right file?`,
    );
  }
  return buffer.toString("utf8", 0, length);
}

/** Reads and validates a YAML configuration file. */
export function loadConfigFile(
  path: string,
  options: Omit<ParseOptions, "baseDir"> = {},
): CryptoassetsConfig {
  const text = readConfigText(path);
  const warn = options.onWarning ?? emitConfigWarning;
  try {
    return parseConfigYaml(text, {
      ...options,
      baseDir: dirname(resolve(path)),
      onWarning: (message) => warn(`${path}: ${message}`),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}
