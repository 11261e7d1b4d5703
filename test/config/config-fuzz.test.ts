/**
 * Malformed configurations: (a) a table of realistic operator mistakes and hostile files,
 * each failing with a ConfigError that names the file, the key path (or line and column)
 * and what was expected; (b) a seeded mutation fuzz of the valid configurations from the
 * tests and the README, where every outcome is a valid config or a ConfigError whose every
 * line names a key path that exists in the input, with memory flat; (c) malformed files
 * through the real CLI: exit code 1 (the documented "cannot start" code of
 * `helper-service` and of every config-taking command), the problem on one stderr line,
 * no stack trace.
 *
 * Seed: CONFIG_FUZZ_SEED (default below); every fuzz assertion message carries it.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  type CryptoassetsConfig,
  loadConfigFile,
  parseConfig,
  parseConfigYaml,
} from "../../src/config/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { ConfigError } from "../../src/errors.js";
import { writeConfigFile } from "../service/config-file.js";
import { CLI } from "../service/support.js";
import { Rng } from "../support/prng.js";

const execFileAsync = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "ca-config-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

setFlagsFromString("--expose-gc");
const gc: () => void = (globalThis as { gc?: () => void }).gc ?? runInNewContext("gc");
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
const MiB = 2 ** 20;

const BASE = `database:
  url: sqlite:///tmp/cryptoassets-fuzz.db
coins:
  btc:
    backend:
      class: bitcoind
      url: http://rpc:hunter2@127.0.0.1:8332/
      walletnotify: { class: http, port: 28882 }
    max_confirmation_count: 15
    credit_threshold: 3
events:
  shop: { class: http, url: "http://127.0.0.1:8080/hook" }
status-server:
  port: 18881
service:
  poll_period: 10
`;
/** BASE with `from` replaced by `to` (the replacement must happen). */
function edit(from: string, to: string): string {
  if (!BASE.includes(from)) throw new Error(`BASE has no ${JSON.stringify(from)}`);
  return BASE.replace(from, to);
}
const NULL_COIN = "coins:\n  btc:\n    backend: { class: 'null' }\n";

let fileCounter = 0;
function writeTemp(content: string | Buffer): string {
  const path = join(dir, `case-${++fileCounter}.yaml`);
  writeFileSync(path, content);
  return path;
}

/** Loads `content` from a file and returns the ConfigError (failing if anything else happens). */
function loadError(
  content: string | Buffer,
  env: NodeJS.ProcessEnv = {},
): { error: ConfigError; path: string } {
  const path = writeTemp(content);
  let thrown: unknown;
  try {
    loadConfigFile(path, { env });
  } catch (error) {
    thrown = error;
  }
  expect(thrown, "expected a ConfigError, got no error").toBeDefined();
  expect(thrown).toBeInstanceOf(ConfigError);
  const error = thrown as ConfigError;
  expect(error.constructor).toBe(ConfigError);
  expect(error.name).toBe("ConfigError");
  // The file first, then the problem; never a stack or a secret.
  expect(error.message.startsWith(`${path}: `)).toBe(true);
  expect(error.message).not.toMatch(/\n\s+at /);
  expect(error.message).not.toContain("hunter2");
  expect(error.message.length).toBeLessThan(3000);
  return { error, path };
}

interface BadCase {
  name: string;
  content: string | Buffer | (() => string | Buffer);
  /** Every pattern must match the message. */
  expect: RegExp[];
  env?: NodeJS.ProcessEnv;
}

const BILLION_LAUGHS = `coins:
  btc: { backend: { class: 'null' } }
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`;

/**
 * Within the yaml library's own alias limit (a plain list may be aliased 100 times), yet
 * 99 × 20,000 values once expanded into the tree the loader walks.
 */
function aliasFanOut(): string {
  const items = Array.from({ length: 20_000 }, () => "0").join(",");
  const aliases = Array.from({ length: 99 }, () => "*a").join(", ");
  return `${NULL_COIN}anchors: &a [${items}]\nservice: { dispatcher: { retry_schedule: [${aliases}] } }\n`;
}

const deepFlow = (depth: number) => `${NULL_COIN}events: ${"[".repeat(depth)}${"]".repeat(depth)}\n`;

const BAD: BadCase[] = [
  // Indentation and YAML syntax.
  {
    name: "backend keys not indented under backend",
    content: edit(
      "    backend:\n      class: bitcoind\n      url: http://rpc:hunter2@127.0.0.1:8332/\n      walletnotify",
      "    backend:\n    class: bitcoind\n    url: http://rpc:hunter2@127.0.0.1:8332/\n    walletnotify",
    ),
    expect: [
      /coins\.btc\.backend: Invalid input: expected object, received null/,
      /coins\.btc: unknown key\(s\) class, url, walletnotify/,
    ],
  },
  {
    name: "one key indented one space short",
    content: edit("      url: http", "     url: http"),
    expect: [/not valid YAML: line 7, column \d+: All mapping items must start at the same column/],
  },
  {
    name: "tab indentation",
    content: edit("  btc:\n    backend:", "  btc:\n\tbackend:"),
    expect: [/not valid YAML: line 5, column 1: Tabs are not allowed as indentation/],
  },
  {
    name: "unclosed quote",
    content: edit('"http://127.0.0.1:8080/hook" }', '"http://127.0.0.1:8080/hook }'),
    expect: [/not valid YAML: line \d+, column \d+: Missing closing "quote/],
  },
  {
    name: "duplicate key",
    content: `${BASE}coins:\n  ltc: { backend: { class: 'null' } }\n`,
    expect: [/not valid YAML: line 17, column 1: Map keys must be unique: "coins"/],
  },
  {
    name: "two documents",
    content: `${BASE}---\n${BASE}`,
    expect: [/not valid YAML: line 17, column \d+: Source contains multiple documents/],
  },
  {
    name: "unknown YAML tag",
    content: edit("port: 18881", "port: !port 18881"),
    expect: [/not valid YAML: line 14, column 9: Unresolved tag: !port/],
  },
  // Wrong types and ranges.
  {
    name: "a word where a number is expected",
    content: edit("max_confirmation_count: 15", "max_confirmation_count: fifteen"),
    expect: [/coins\.btc\.max_confirmation_count: Invalid input: expected number, received string/],
  },
  {
    name: "confirmation count zero",
    content: edit("max_confirmation_count: 15", "max_confirmation_count: 0"),
    expect: [/coins\.btc\.max_confirmation_count: Too small: expected number to be >=1/],
  },
  {
    name: "negative credit threshold",
    content: edit("credit_threshold: 3", "credit_threshold: -2"),
    expect: [
      /coins\.btc\.credit_threshold: expected at least 1: a deposit with no confirmation could be spent/,
    ],
  },
  {
    name: "fractional confirmation count",
    content: edit("max_confirmation_count: 15", "max_confirmation_count: 1.5"),
    expect: [/coins\.btc\.max_confirmation_count: Invalid input: expected int, received number/],
  },
  {
    name: "huge confirmation count",
    content: edit("max_confirmation_count: 15", "max_confirmation_count: 1e30"),
    expect: [/coins\.btc\.max_confirmation_count: Too big: expected int to be <=9007199254740991/],
  },
  {
    name: "credit threshold above the final count",
    content: edit("credit_threshold: 3", "credit_threshold: 20"),
    expect: [/coins\.btc\.credit_threshold: credit_threshold must not exceed max_confirmation_count/],
  },
  {
    // The status server may take port 0 (any free port); a walletnotify port must be fixed.
    name: "port zero",
    content: edit("port: 28882", "port: 0"),
    expect: [/coins\.btc\.backend\.walletnotify\.port: Too small: expected number to be >=1/],
  },
  {
    name: "negative port",
    content: edit("port: 28882", "port: -28882"),
    expect: [/coins\.btc\.backend\.walletnotify\.port: Too small: expected number to be >=1/],
  },
  {
    name: "port above 65535",
    content: edit("port: 18881", "port: 188810"),
    expect: [/status-server\.port: Too big: expected number to be <=65535/],
  },
  {
    name: "port .inf",
    content: edit("port: 18881", "port: .inf"),
    expect: [/status-server\.port: Invalid input: expected number, received Infinity/],
  },
  {
    name: "port written as a word",
    content: edit("port: 18881", "port: http"),
    expect: [/status-server\.port: Invalid input: expected number, received string/],
  },
  {
    name: "port true (was silently port 1)",
    content: edit("port: 18881", "port: true"),
    expect: [/status-server\.port: Invalid input: expected number, received boolean/],
  },
  {
    name: "port as a list (was silently its one element)",
    content: edit("port: 28882", "port: [28882]"),
    expect: [/coins\.btc\.backend\.walletnotify\.port: Invalid input: expected number, received array/],
  },
  {
    name: "empty port (was 'too small')",
    content: edit("port: 18881", "port:"),
    expect: [/status-server\.port: Invalid input: expected number, received null/],
  },
  {
    name: "pipe mode in decimal (600 = 0o1130)",
    content: edit("{ class: http, port: 28882 }", "{ class: pipe, fname: /run/ca/walletnotify, mode: 600 }"),
    expect: [
      /coins\.btc\.backend\.walletnotify\.mode: expected file permission bits in octal: 0600, "0600" or 0o600/,
    ],
  },
  {
    name: "negative pipe mode",
    content: edit("{ class: http, port: 28882 }", "{ class: pipe, fname: /run/ca/walletnotify, mode: -1 }"),
    expect: [/coins\.btc\.backend\.walletnotify\.mode: expected file permission bits in octal/],
  },
  {
    name: "pipe mode as a word",
    content: edit("{ class: http, port: 28882 }", "{ class: pipe, fname: /run/ca/walletnotify, mode: rw }"),
    expect: [/coins\.btc\.backend\.walletnotify\.mode: expected file permission bits in octal/],
  },
  {
    name: "testnet: yes (YAML 1.1 boolean)",
    content: edit("    credit_threshold: 3\n", "    credit_threshold: 3\n    testnet: yes\n"),
    expect: [/coins\.btc\.testnet: expected true or false \(or the strings "true"\/"false"\)/],
  },
  {
    name: "unknown network",
    content: edit("    credit_threshold: 3\n", "    credit_threshold: 3\n    network: main\n"),
    expect: [/coins\.btc\.network: Invalid option: expected one of "mainnet"\|"testnet"\|"regtest"/],
  },
  {
    name: "empty retry schedule",
    content: edit("  poll_period: 10\n", "  poll_period: 10\n  dispatcher: { retry_schedule: [] }\n"),
    expect: [/service\.dispatcher\.retry_schedule: Too small: expected array to have >=1 items/],
  },
  {
    name: "unknown log level (crashed the service at start, without a key path)",
    content: edit("  poll_period: 10\n", "  poll_period: 10\n  logging: { level: verbose }\n"),
    expect: [/service\.logging\.level: expected a log level: trace, debug, info, warn, error, fatal, silent/],
  },
  // Classes.
  {
    name: "unknown backend class",
    content: edit("class: bitcoind", "class: electrum"),
    expect: [/coins\.btc\.backend\.class: unknown class "electrum"; expected one of: bitcoind, null/],
  },
  {
    name: "typo in an original dotted class name",
    content: edit("{ class: http, url:", "{ class: cryptoassets.core.event.http.HTTPEventHandlr, url:"),
    expect: [
      /events\.shop\.class: unknown class "cryptoassets\.core\.event\.http\.HTTPEventHandlr"; expected one of: http, script, in-process/,
    ],
  },
  {
    name: "unknown walletnotify class",
    content: edit("{ class: http, port: 28882 }", "{ class: zeromq, port: 28882 }"),
    expect: [
      /coins\.btc\.backend\.walletnotify\.class: unknown class "zeromq"; expected one of: http, pipe, redis/,
    ],
  },
  {
    name: "backend class: null unquoted (YAML's empty value, not the dummy backend)",
    content: "coins:\n  btc:\n    backend:\n      class: null\n",
    expect: [
      /coins\.btc\.backend\.class: unknown class null; expected one of: bitcoind, null.*write class: "null"/,
    ],
  },
  {
    name: "missing class",
    content: edit("{ class: http, url:", "{ url:"),
    expect: [/events\.shop\.class: missing class; expected one of: http, script, in-process/],
  },
  // Keys.
  {
    name: "typo in a coin key",
    content: edit("max_confirmation_count: 15", "max_confirmation: 15"),
    expect: [/coins\.btc: unknown key\(s\) max_confirmation/],
  },
  {
    name: "typo in a root key",
    content: edit("status-server:", "status_srever:"),
    expect: [/\(root\): unknown key\(s\) status_srever/],
  },
  {
    name: "hundreds of unknown keys: the list is capped",
    content: `${BASE}${Array.from({ length: 500 }, (_, i) => `extra_${i}: 1`).join("\n")}\n`,
    expect: [/\(root\): unknown key\(s\) extra_0, extra_1, .*extra_9 and 490 more/],
  },
  {
    name: "20,000 keys in one mapping (the yaml library's duplicate check took seconds to minutes)",
    content: () => `${BASE}${Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join("\n")}\n`,
    expect: [/\(root\): unknown key\(s\) k0, k1, .*k9 and 19990 more/],
  },
  {
    name: "a duplicate key among 20,000",
    content: () => `${BASE}${Array.from({ length: 20_000 }, (_, i) => `k${i % 19_999}: 1`).join("\n")}\n`,
    expect: [/not valid YAML: line 20016, column 1: Map keys must be unique: "k0"/],
  },
  {
    name: "unknown coin",
    content: edit("  btc:\n", "  bitcoin:\n"),
    expect: [/coins\.bitcoin: unknown coin; known coins: btc/],
  },
  {
    name: "the same coin twice, in two cases (one was silently dropped)",
    content: edit("events:", "  BTC:\n    backend: { class: 'null' }\nevents:"),
    expect: [/coins\.BTC: the same coin as coins\.btc \(coin names are case-insensitive\)/],
  },
  {
    name: "a coin named __proto__ (was silently dropped)",
    content: edit("events:", "  __proto__: { backend: { class: 'null' } }\nevents:"),
    expect: [/coins\.__proto__: "__proto__" is not allowed as a key/],
  },
  {
    name: "handler name with a space",
    content: edit("  shop: {", "  my shop: {"),
    expect: [/events\.my shop: handler names use letters, digits, _ \. -/],
  },
  {
    name: "no coins",
    content: "database:\n  url: sqlite:///tmp/x.db\n",
    expect: [/coins: missing: configure at least one coin/],
  },
  {
    name: "empty database section",
    content: edit("database:\n  url: sqlite:///tmp/cryptoassets-fuzz.db\n", "database:\n"),
    expect: [/database: Invalid input: expected object, received null/],
  },
  {
    name: "missing environment variable",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder for the loader's interpolation
    content: edit("hunter2", "${RPC_PASSWORD}"),
    expect: [/coins\.btc\.backend\.url: environment variable RPC_PASSWORD is not set/],
  },
  // URLs.
  {
    name: "RPC URL without a scheme",
    content: edit("http://rpc:hunter2@127.0.0.1:8332/", "rpc:hunter2@127.0.0.1:8332"),
    expect: [/coins\.btc\.backend\.url: expected a URL/],
  },
  {
    name: "webhook URL with a space",
    content: edit("http://127.0.0.1:8080/hook", "http://shop example/hook"),
    expect: [/events\.shop\.url: expected a URL/],
  },
  {
    name: "database URL of an unsupported kind",
    content: edit("sqlite:///tmp/cryptoassets-fuzz.db", "oracle://db/app"),
    expect: [
      /database\.url: expected a database URL: sqlite:\/\/\/relative\.db, sqlite:\/\/\/\/absolute\/path\.db/,
    ],
  },
  // Aliases.
  {
    name: "billion laughs",
    content: BILLION_LAUGHS,
    expect: [/not valid YAML: YAML aliases expand too far \(Excessive alias count/],
  },
  {
    name: "alias fan-out within the yaml library's limit",
    content: aliasFanOut,
    expect: [
      /service\.dispatcher\.retry_schedule\.\d+\.\d+: more than 100000 values once YAML aliases are expanded/,
    ],
  },
  {
    name: "alias inside its own anchor (a cycle; was a RangeError)",
    content: `${NULL_COIN}service: &s\n  logging: { level: info, again: *s }\n`,
    expect: [/service\.logging\.again: a YAML alias that refers to its own enclosing mapping or list/],
  },
  {
    name: "undefined alias",
    content: `${NULL_COIN}events: *handlers\n`,
    expect: [/not valid YAML: line 4, column 9: .*handlers/],
  },
  // Whole-file mistakes.
  {
    name: "a list at the root",
    content: "- coins\n- btc\n",
    expect: [/\(root\): configuration must be a mapping of keys to values, got a list/],
  },
  {
    name: "a scalar at the root",
    content: "btc",
    expect: [/\(root\): configuration must be a mapping of keys to values, got a string/],
  },
  {
    name: "empty file",
    content: "",
    expect: [/configuration is empty: expected a mapping with at least "coins"/],
  },
  {
    name: "only comments",
    content: "# coins: to do\n\n",
    expect: [/configuration is empty/],
  },
  {
    name: "binary file",
    content: () => {
      let seed = 99;
      return Buffer.from(
        Array.from({ length: 4096 }, () => {
          seed = (seed * 1103515245 + 12345) % 2 ** 31;
          return seed % 256;
        }),
      );
    },
    expect: [/not valid YAML: line \d+, column \d+: |must be a mapping/],
  },
  {
    name: "NUL bytes",
    content: Buffer.alloc(2048),
    expect: [/must be a mapping of keys to values, got a string|not valid YAML/],
  },
  {
    name: "a huge file",
    content: () => `${BASE}# ${"x".repeat(8 * MiB)}\n`,
    expect: [/configuration file is larger than 256 KiB; is it the right file\?/],
  },
  {
    name: "nesting 200 levels deep",
    content: deepFlow(200),
    expect: [/not valid YAML: line 4, column \d+: nested more than 64 levels deep/],
  },
];

describe("malformed configurations: a table of operator mistakes", () => {
  it.each(BAD)("$name", ({ content, expect: patterns, env }) => {
    const started = Date.now();
    const { error } = loadError(typeof content === "function" ? content() : content, env);
    for (const pattern of patterns) expect(error.message).toMatch(pattern);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("the heavy hostile files, loaded again and again, leave the heap flat", () => {
    const heavy = [BILLION_LAUGHS, aliasFanOut(), deepFlow(20_000), `${NULL_COIN}${"x: &x [*x]\n"}`];
    for (const content of heavy) loadError(content); // warm up
    const heapBefore = heapAfterGc();
    for (let i = 0; i < 3; i++) for (const content of heavy) loadError(content);
    const growth = (heapAfterGc() - heapBefore) / MiB;
    expect(growth).toBeLessThan(16);
    console.log(`[figures] config hostile files: 12 heavy loads, heap +${growth.toFixed(1)} MiB after GC`);
  });

  it("deep nesting, again and again, fails cleanly (it used to abort the whole process)", () => {
    // A stack overflow inside the YAML composer, followed by a second deep document in the
    // same process, made V8 abort with "RegExpCompiler Allocation failed".
    for (const depth of [1_000, 10_000, 100_000, 10_000]) {
      const started = Date.now();
      const { error } = loadError(deepFlow(depth));
      expect(error.message).toMatch(/nested more than 64 levels deep/);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    const blockDeep = Array.from({ length: 200 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n");
    expect(loadError(blockDeep).error.message).toMatch(/line 65, column 65: nested more than 64 levels deep/);
  });

  it("a directory, a missing file and /dev/zero are named clearly", () => {
    const directory = join(dir, "a-directory");
    mkdirSync(directory);
    expect(() => loadConfigFile(directory)).toThrow(/cannot read configuration file .*a-directory: EISDIR/);
    expect(() => loadConfigFile(join(dir, "missing.yaml"))).toThrow(
      /cannot read configuration file .*missing\.yaml: ENOENT/,
    );
    const started = Date.now();
    expect(() => loadConfigFile("/dev/zero")).toThrow(
      /\/dev\/zero: configuration file is larger than 256 KiB/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("accepts what operators legitimately write", () => {
    const load = (content: string | Buffer, env: NodeJS.ProcessEnv = {}) =>
      loadConfigFile(writeTemp(content), { env });
    // No database section: the documented default, a SQLite file beside the config.
    const noDatabase = load(BASE.replace("database:\n  url: sqlite:///tmp/cryptoassets-fuzz.db\n", ""));
    expect(noDatabase.database.url).toBe(sqliteUrl(join(dir, "cryptoassets.db")));
    // Windows line endings and a UTF-8 byte-order mark.
    expect(load(`\uFEFF${BASE.replaceAll("\n", "\r\n")}`).coins.btc?.credit_threshold).toBe(3);
    // chmod-style modes: 0600 unquoted means octal, as in chmod and the original's YAML 1.1.
    const mode = (text: string) => {
      const config = load(
        edit("{ class: http, port: 28882 }", `{ class: pipe, fname: /run/ca/wn, mode: ${text} }`),
      );
      const walletnotify = config.coins.btc?.backend.walletnotify;
      return walletnotify?.class === "pipe" ? walletnotify.mode : undefined;
    };
    expect(mode("0600")).toBe(0o600);
    expect(mode("0400")).toBe(0o400); // was read as decimal 400 = 0o620: group-writable
    expect(mode('"0640"')).toBe(0o640);
    expect(mode("0o660")).toBe(0o660);
    expect(mode("384")).toBe(0o600);
    // Python logging level names from an original file.
    const level = (text: string) =>
      load(edit("  poll_period: 10\n", `  poll_period: 10\n  logging: { level: ${text} }\n`)).service.logging
        ?.level;
    expect(level("WARNING")).toBe("warn");
    expect(level("DEBUG")).toBe("debug");
    expect(level("CRITICAL")).toBe("fatal");
    expect(level("info")).toBe("info");
    // Ports from the environment are strings after interpolation.
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder for the loader's interpolation
      load(edit("port: 18881", 'port: "${STATUS_PORT:-18881}"'), { STATUS_PORT: "19000" })["status-server"]
        .port,
    ).toBe(19000);
    // Aliases used the ordinary way.
    const shared = load(
      `${NULL_COIN}events:\n  a: &h { class: http, url: "http://127.0.0.1:9/", timeout: 5 }\n  b: *h\n`,
    );
    expect(shared.events.b).toEqual(shared.events.a);
  });
});

// ---------------------------------------------------------------------------------------------
// (b) Seeded mutation fuzz.

const SEED = Number(process.env.CONFIG_FUZZ_SEED ?? 0xc0f1_6);
const TAG = `seed ${SEED} (rerun with CONFIG_FUZZ_SEED=${SEED})`;
const rng = new Rng(SEED);
const rand = () => rng.next();
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Container = Json[] | { [key: string]: Json };
const isContainer = (value: unknown): value is Container => typeof value === "object" && value !== null;

const ENV: NodeJS.ProcessEnv = {
  DB_PASSWORD: "dbpw",
  RPC_PASSWORD: "rpcpw",
  WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  ADMIN_TOKEN: "tok",
  READ_TOKEN: "read-tok",
  REDIS_PASSWORD: "redispw",
  AMQP_PASSWORD: "amqppw",
  NATS_PASSWORD: "natspw",
  NATS_TOKEN: "natstok",
};

/** The valid configurations the project documents or tests, as raw YAML text. */
function seedConfigs(): { name: string; text: string }[] {
  const readme = readFileSync(resolve(import.meta.dirname, "../../README.md"), "utf8");
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] as string);
  const example = readFileSync(resolve(import.meta.dirname, "../../examples/cli-wallet/config.yaml"), "utf8");
  const serviceDir = join(dir, "service-config");
  mkdirSync(serviceDir, { recursive: true });
  const serviceConfig = readFileSync(
    writeConfigFile(serviceDir, {
      databaseUrl: "sqlite:///tmp/x.db",
      rpcUrl: "http://u:p@127.0.0.1:18443/",
      statusPort: 18881,
      receiverUrl: "http://127.0.0.1:9/",
      walletnotifyPort: 28882,
      blocknotifyPort: 28883,
      adminToken: "secret-token",
    }),
    "utf8",
  );
  const original = `database:
  url: sqlite:////tmp/cryptoassets.sqlite
  echo: false
coins:
  btc:
    backend:
      class: cryptoassets.core.backend.bitcoind.Bitcoind
      url: http://foo:bar@127.0.0.1:8332/
      walletnotify:
        class: cryptoassets.core.backend.httpwalletnotify.HTTPWalletNotifyHandler
        ip: 127.0.0.1
        port: 28882
    max_confirmation_count: 15
    testnet: true
    models: cryptoassets.core.coin.bitcoin.models
  doge:
    backend:
      class: cryptoassets.core.backend.bitcoind.Bitcoind
      url: http://foo:bar@127.0.0.1:22555/
      walletnotify:
        class: cryptoassets.core.backend.pipewalletnotify.PipedWalletNotifyHandler
        fname: /tmp/dogecoin-walletnotify-pipe
        mode: "0640"
  ltc:
    backend:
      class: 'null'
      blocknotify: { class: redis, host: 127.0.0.1, port: 6379, db: 1, channel: blocks }
events:
  example_http:
    class: cryptoassets.core.event.http.HTTPEventHandler
    url: http://localhost:10000
    headers: { X-Shop: one }
  example_script:
    class: cryptoassets.core.event.script.ScriptEventHandler
    script: /usr/bin/logger
    log_output: true
  example_inproc:
    class: cryptoassets.core.event.python.InProcessEventHandler
    callback: ./handlers.js#onEvent
status-server:
  ip: 127.0.0.1
  port: 18881
service:
  broadcast_period: 60
  logging:
    formatters: {}
    level: DEBUG
`;
  return [
    ...blocks.map((text, i) => ({ name: `README block ${i + 1}`, text })),
    { name: "examples/cli-wallet/config.yaml", text: example },
    { name: "test/service/config-file.ts", text: serviceConfig },
    { name: "original cryptoassets.core style", text: original },
  ];
}

const HOSTILE_VALUES: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1,
  1.5,
  -0.001,
  2 ** 53,
  1e308,
  Number.POSITIVE_INFINITY,
  Number.NaN,
  "",
  " ",
  "0",
  "-1",
  "65536",
  "0600",
  "yes",
  "null",
  "http",
  "pipe",
  "redis",
  "script",
  "in-process",
  "bitcoind",
  "cryptoassets.core.backend.bitcoind.Bitcoind",
  "http://",
  "http://127.0.0.1:1/",
  "sqlite://",
  "sqlite:///tmp/fuzz.db",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder for the loader's interpolation
  ...["${NOPE}", "${NOPE:-7}"],
  "${",
  "\u0000",
  "\u202e",
  "x".repeat(5000),
  "./m.js#f",
  [],
  [1],
  ["a", null],
  {},
  { class: "http" },
  { class: "pipe", fname: "/tmp/p" },
  { a: { b: { c: [1, { d: 2 }] } } },
];

function typo(key: string): string {
  const letters = "abcdefghijklmnopqrstuvwxyz_-0123456789";
  const at = int(key.length + 1);
  switch (int(7)) {
    case 0:
      return key.slice(0, at) + pick([...letters]) + key.slice(at);
    case 1:
      return key.length > 1 ? key.slice(0, at) + key.slice(at + 1) : `${key}x`;
    case 2:
      return key.length > 1 && at < key.length - 1
        ? key.slice(0, at) + key[at + 1] + key[at] + key.slice(at + 2)
        : `${key}_`;
    case 3:
      return key.toUpperCase();
    case 4:
      return key.includes("_") ? key.replaceAll("_", "-") : key.replaceAll("-", "_");
    case 5:
      return `${key}s`;
    default:
      return ` ${key}`;
  }
}

function perturb(value: Json): Json {
  if (typeof value === "number") {
    return pick([value + 1, value - 1, -value, 0, value * 1000, value + 0.5, value * 2 ** 40, String(value)]);
  }
  if (typeof value === "string") {
    return pick([
      "",
      value.slice(0, int(value.length)),
      `${value}${pick(["x", " ", "/", ":", "#", "%zz", "\n"])}`,
      value.toUpperCase(),
      value.replace(/[0-9]/, "9"),
      value.replace("http", "ftp"),
      value.replace("//", "/"),
      value.replace("cryptoassets.core", "cryptoasset.core"),
      Number(value.length),
    ]);
  }
  if (typeof value === "boolean") return pick([!value, String(value), value ? 1 : 0, "yes"]);
  return pick(HOSTILE_VALUES);
}

/** Every container in the tree with its path (the root's path is []). */
function containers(root: Container): { node: Container; path: string[] }[] {
  const out: { node: Container; path: string[] }[] = [];
  const walk = (node: Container, path: string[]) => {
    out.push({ node, path });
    for (const [key, value] of Object.entries(node)) if (isContainer(value)) walk(value, [...path, key]);
  };
  walk(root, []);
  return out;
}

function setKey(node: Container, key: string, value: Json): void {
  // defineProperty, so that a "__proto__" key becomes an own property, as YAML makes it.
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}

/** One random mutation, in place; returns a description for failure messages. */
function mutate(root: Container): string {
  const all = containers(root);
  const { node, path } = pick(all);
  const keys = Object.keys(node);
  const key = keys.length > 0 ? pick(keys) : "0";
  const where = [...path, key].join(".");
  const current = (node as Record<string, Json>)[key] ?? null;
  switch (int(9)) {
    case 0:
      if (Array.isArray(node)) node.splice(Number(key), 1);
      else delete node[key];
      return `delete ${where}`;
    case 1: {
      const name = typo(key);
      if (!Array.isArray(node)) setKey(node, name, structuredClone(current));
      return `duplicate ${where} as ${JSON.stringify(name)}`;
    }
    case 2: {
      const name = typo(key);
      if (!Array.isArray(node)) {
        delete node[key];
        setKey(node, name, current);
      }
      return `rename ${where} to ${JSON.stringify(name)}`;
    }
    case 3: {
      const value = structuredClone(pick(HOSTILE_VALUES));
      setKey(node, key, value);
      return `retype ${where} = ${JSON.stringify(value)?.slice(0, 60)}`;
    }
    case 4: {
      const value = perturb(current);
      setKey(node, key, value);
      return `perturb ${where} = ${JSON.stringify(value)?.slice(0, 60)}`;
    }
    case 5: {
      const other = pick(all);
      const value = structuredClone(other.node) as Json;
      setKey(node, key, value);
      return `replace ${where} with a copy of ${other.path.join(".") || "(root)"}`;
    }
    case 6:
      setKey(node, key, pick([[current], { [key]: current }]));
      return `wrap ${where}`;
    case 7:
      setKey(node, pick(["__proto__", "constructor", "toString", "hasOwnProperty", "0", ""]), current);
      return `add an odd key next to ${where}`;
    default: {
      const className = pick([
        "http",
        "pipe",
        "redis",
        "script",
        "in-process",
        "bitcoind",
        "null",
        "electrum",
        null,
        "cryptoassets.core.backend.null.DummyCoinBackend",
        "cryptoassets.core.backend.rediswalletnotify.RedisWalletNotifyHandler",
        "cryptoassets.core.event.python.InProcessEventHandler",
      ]);
      const target = all.find((entry) => !Array.isArray(entry.node) && "class" in entry.node);
      if (target) setKey(target.node, "class", className);
      return `class of ${target?.path.join(".")} = ${className}`;
    }
  }
}

/** Text-level damage to YAML: what an editor slip does. */
function mutateText(text: string): { text: string; what: string } {
  const lines = text.split("\n");
  const at = int(lines.length);
  const line = lines[at] ?? "";
  switch (int(8)) {
    case 0:
      lines.splice(at, 1);
      return { text: lines.join("\n"), what: `delete line ${at + 1}` };
    case 1:
      lines.splice(at, 0, line);
      return { text: lines.join("\n"), what: `duplicate line ${at + 1}` };
    case 2:
      lines[at] = " ".repeat(1 + int(4)) + line;
      return { text: lines.join("\n"), what: `indent line ${at + 1}` };
    case 3:
      lines[at] = line.replace(/^ {1,4}/, "");
      return { text: lines.join("\n"), what: `dedent line ${at + 1}` };
    case 4:
      lines[at] = line.replace(/^ +/, "\t");
      return { text: lines.join("\n"), what: `tab on line ${at + 1}` };
    case 5: {
      const column = int(line.length + 1);
      const char = pick([
        ":",
        "-",
        "&a",
        "*a",
        "!x",
        "[",
        "{",
        "'",
        '"',
        "#",
        "|",
        ">",
        "%",
        "@",
        "`",
        ",",
        "? ",
      ]);
      lines[at] = line.slice(0, column) + char + line.slice(column);
      return { text: lines.join("\n"), what: `insert ${JSON.stringify(char)} at ${at + 1}:${column + 1}` };
    }
    case 6: {
      const column = int(line.length);
      lines[at] = line.slice(0, column) + line.slice(column + 1);
      return { text: lines.join("\n"), what: `delete a character at ${at + 1}:${column + 1}` };
    }
    default: {
      const other = int(lines.length);
      [lines[at], lines[other]] = [lines[other] ?? "", line];
      return { text: lines.join("\n"), what: `swap lines ${at + 1} and ${other + 1}` };
    }
  }
}

/** Each phrase a message line may use to say what was expected or what is wrong. */
const EXPLAINS =
  /expected|at least one coin|unknown key|unknown coin|must not exceed|not set|is not allowed|refers to its own|more than|the same coin|handler names use|nested more than|Invalid input|Too (small|big)/;

/** Does `path` lead into `input` (every segment but the last must exist; coin names fold case)? */
function pathExists(input: unknown, path: string): boolean {
  if (path === "(root)") return true;
  const segments = path.split(".");
  let node: unknown = input;
  for (let i = 0; i < segments.length - 1; i++) {
    if (!isContainer(node)) return false;
    const segment = segments[i] as string;
    const entries = Object.entries(node);
    const found =
      entries.find(([key]) => key === segment) ??
      (segments[i - 1] === "coins" && i === 1
        ? entries.find(([key]) => key.toLowerCase() === segment)
        : undefined);
    if (!found) return false;
    node = found[1];
  }
  return isContainer(node);
}

interface Outcome {
  kind: "valid" | "config-error";
  message?: string;
}

function attempt(run: () => CryptoassetsConfig, context: () => string): Outcome {
  let config: CryptoassetsConfig;
  try {
    config = run();
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw new Error(
        `${TAG}: ${(error as Error)?.constructor?.name} instead of ConfigError: ${(error as Error)?.message}\n${context()}`,
      );
    }
    return { kind: "config-error", message: error.message };
  }
  // A config that validates must honour what the schema promises.
  const fail = (what: string) => {
    throw new Error(`${TAG}: accepted a config that ${what}\n${context()}`);
  };
  const isPort = (port: unknown) =>
    Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535;
  // The status server alone may take port 0: it picks a free port and logs it (README).
  const statusPort = config["status-server"].port;
  if (statusPort !== 0 && !isPort(statusPort)) fail("has a bad status-server port");
  if (!/^(sqlite|postgres|postgresql|mysql|mariadb):\/\//.test(config.database.url)) fail("has a bad db URL");
  if (Object.keys(config.coins).length === 0) fail("has no coin");
  for (const coin of Object.values(config.coins)) {
    if (coin.credit_threshold > coin.max_confirmation_count) fail("credits after finality");
    if (!["bitcoind", "null"].includes(coin.backend.class)) fail("has an unknown backend");
    for (const notify of [coin.backend.walletnotify, coin.backend.blocknotify]) {
      if (notify && notify.class !== "pipe" && !isPort(notify.port)) fail("has a bad notify port");
      if (notify?.class === "pipe" && !(notify.mode >= 0 && notify.mode <= 0o777))
        fail("has a bad pipe mode");
    }
  }
  if (({} as Record<string, unknown>).polluted !== undefined) fail("polluted Object.prototype");
  return { kind: "valid" };
}

/**
 * Every line of a ConfigError names where the problem is, and what was expected. (Plain
 * checks rather than expect(): this runs thousands of times.)
 */
function checkMessage(message: string, input: unknown, context: () => string): void {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`${TAG}: ${what}\nmessage: ${message}\n${context()}`);
  };
  check(!/\n\s+at |node:internal/.test(message), "a stack trace");
  check(message.length < 4000, "an over-long message");
  if (message.startsWith("configuration is not valid YAML:")) {
    check(
      /^configuration is not valid YAML: (line \d+, column \d+: |YAML aliases)/.test(message),
      "no position",
    );
    return;
  }
  if (/^configuration is empty|^\(root\): configuration must be a mapping/.test(message)) return;
  const body = message.replace(/^invalid configuration( \(\d+ problems\))?:[ \n]/, "");
  for (const line of body.split("\n")) {
    if (/^… and \d+ more problems$/.test(line)) continue;
    const [, path = "", explanation = ""] = /^(.+?): (.+)$/.exec(line) ?? [];
    check(path !== "", `a line without a key path: ${JSON.stringify(line)}`);
    if (input !== undefined) check(pathExists(input, path), `a path not in the input: ${path}`);
    check(EXPLAINS.test(explanation), `a line that does not say what was expected: ${JSON.stringify(line)}`);
  }
}

describe("malformed configurations: seeded mutation fuzz", () => {
  const seeds = seedConfigs();

  it("starts from valid configurations", () => {
    expect(seeds.length).toBeGreaterThanOrEqual(5);
    for (const { name, text } of seeds) {
      expect(() => parseConfigYaml(text, { env: ENV, baseDir: dir }), name).not.toThrow();
    }
  });

  it("mutated configs are valid or a ConfigError naming an existing key path; memory flat", () => {
    const started = Date.now();
    const counts = { objects: 0, texts: 0, valid: 0, configErrors: 0, yamlErrors: 0 };
    const heapBefore = heapAfterGc();
    let heapMid = 0;
    const ROUNDS = 2000;
    const trees = seeds.map(({ text }) => parseYaml(text, { logLevel: "error" }) as Container);
    for (let round = 0; round < ROUNDS; round++) {
      const which = int(seeds.length);
      const seed = seeds[which] as (typeof seeds)[number];
      // (1) Structured mutations of the parsed tree, validated as an object.
      const tree = structuredClone(trees[which]) as Container;
      const steps: string[] = [];
      for (let i = 1 + int(3); i > 0; i--) steps.push(mutate(tree));
      const context = () =>
        `round ${round} from ${seed.name}: ${steps.join("; ")}\ninput: ${JSON.stringify(tree)?.slice(0, 1500)}`;
      const outcome = attempt(() => parseConfig(tree, { env: ENV, baseDir: dir }), context);
      counts.objects++;
      if (outcome.kind === "valid") counts.valid++;
      else {
        counts.configErrors++;
        checkMessage(outcome.message as string, tree, context);
      }

      // (2) Through YAML text: the mutated tree as YAML, or the seed file as written (comments,
      // flow style), with editor-slip damage.
      let text = rand() < 0.5 ? stringifyYaml(tree) : seed.text;
      const slips: string[] = [];
      for (let i = int(3); i > 0 || (text === seed.text && slips.length === 0); i--) {
        const damaged = mutateText(text);
        text = damaged.text;
        slips.push(damaged.what);
      }
      const textContext = () =>
        `round ${round} (text) from ${seed.name}: ${slips.join("; ")}\n${text.slice(0, 2000)}`;
      const textOutcome = attempt(() => parseConfigYaml(text, { env: ENV, baseDir: dir }), textContext);
      counts.texts++;
      if (textOutcome.kind === "valid") counts.valid++;
      else {
        counts.configErrors++;
        const message = textOutcome.message as string;
        let input: unknown;
        if (message.startsWith("configuration is not valid YAML")) counts.yamlErrors++;
        else {
          // The tree the text parses to is what key paths refer to.
          try {
            input = parseYaml(text, { logLevel: "error", uniqueKeys: false });
          } catch {
            input = undefined;
          }
        }
        checkMessage(message, input, textContext);
      }
      if (round === ROUNDS / 2) heapMid = heapAfterGc();
    }
    const heapAfter = heapAfterGc();
    const growth = (heapAfter - heapBefore) / MiB;
    // Growth over the second half only: the first half includes warming up zod and yaml.
    const secondHalf = (heapAfter - heapMid) / MiB;
    expect(counts.valid, TAG).toBeGreaterThan(100);
    expect(counts.configErrors, TAG).toBeGreaterThan(1000);
    expect(counts.yamlErrors, TAG).toBeGreaterThan(100);
    expect(secondHalf, TAG).toBeLessThan(8);
    expect(growth, TAG).toBeLessThan(32);
    console.log(
      `[figures] config mutation fuzz (${TAG}): ${counts.objects} object + ${counts.texts} YAML-text cases, ` +
        `${counts.valid} valid, ${counts.configErrors} ConfigErrors (${counts.yamlErrors} YAML syntax), ` +
        `heap +${growth.toFixed(1)} MiB overall, +${secondHalf.toFixed(1)} MiB over the second half (after GC), ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// (c) The real CLI. `npm test` builds dist/ first; run `npm run build` before running this alone.

interface CliResult {
  code: number | string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

async function cli(args: string[]): Promise<CliResult> {
  const started = Date.now();
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], {
      timeout: 30_000,
      env: { ...process.env, CRYPTOASSETS_LOG_LEVEL: "info", RPC_PASSWORD: "" },
      maxBuffer: 16 * MiB,
    });
    return { code: 0, stdout, stderr, ms: Date.now() - started };
  } catch (error) {
    const failed = error as { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    return {
      code: failed.signal ?? failed.code ?? null,
      stdout: failed.stdout ?? "",
      stderr: failed.stderr ?? "",
      ms: Date.now() - started,
    };
  }
}

describe("malformed configuration files through the CLI", () => {
  // Each command loads the whole CLI (~0.7 s of CPU), so each file goes through one of the two
  // config-taking commands (their error paths differ: helper-service prints the message,
  // the others go through withDatabase's "error: …"), the first through both.
  const HS = "helper-service";
  const INIT = "initialize-database";
  const cases: { name: string; content: string | Buffer; problem: RegExp; commands: string[] }[] = [
    {
      name: "bad URL",
      content: edit("http://rpc:hunter2@127.0.0.1:8332/", "rpc:hunter2@127.0.0.1:8332"),
      problem: /coins\.btc\.backend\.url: expected a URL/,
      commands: [HS, INIT],
    },
    {
      name: "tab indentation",
      content: edit("  btc:\n    backend:", "  btc:\n\tbackend:"),
      problem: /not valid YAML: line 5, column 1: Tabs are not allowed as indentation/,
      commands: [INIT],
    },
    {
      name: "billion laughs",
      content: BILLION_LAUGHS,
      problem: /YAML aliases expand too far/,
      commands: [HS],
    },
    {
      name: "alias cycle",
      content: `${NULL_COIN}service: &s\n  logging: { level: info, again: *s }\n`,
      problem: /service\.logging\.again: a YAML alias that refers to its own enclosing mapping or list/,
      commands: [INIT],
    },
    {
      name: "unknown log level",
      content: `${NULL_COIN}service: { logging: { level: verbose } }\n`,
      problem: /service\.logging\.level: expected a log level/,
      commands: [HS],
    },
    {
      name: "binary",
      content: Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)),
      problem: /not valid YAML: line \d+, column \d+: |must be a mapping of keys to values/,
      commands: [INIT],
    },
    { name: "empty", content: "", problem: /configuration is empty/, commands: [HS] },
    {
      name: "huge",
      content: `${BASE}#${"x".repeat(4 * MiB)}\n`,
      problem: /larger than 256 KiB/,
      commands: [INIT],
    },
    { name: "deep", content: deepFlow(50_000), problem: /nested more than 64 levels deep/, commands: [HS] },
  ];

  it("helper-service and initialize-database exit 1 with the problem on one line and no stack trace", async () => {
    const paths = cases.map(({ content }) => writeTemp(content));
    const runs = cases.flatMap((entry, i) =>
      entry.commands.map((command) => ({ ...entry, command, path: paths[i] as string })),
    );
    const results: (CliResult & (typeof runs)[number])[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        while (next < runs.length) {
          const run = runs[next++] as (typeof runs)[number];
          results.push({ ...run, ...(await cli([run.command, run.path])) });
        }
      }),
    );
    for (const result of results) {
      const what = `${result.command} <${result.name}>:\n${result.stderr}`;
      expect(result.code, what).toBe(1);
      expect(result.stderr, what).not.toMatch(/^\s+at |node:internal|Error: /m);
      expect(result.stderr, what).not.toContain("hunter2");
      const lines = result.stderr.trimEnd().split("\n");
      const line = lines.find((candidate) => result.problem.test(candidate));
      expect(line, what).toBeDefined();
      expect(line, what).toContain(result.path); // the file is named on that same line
      expect(lines.length, what).toBeLessThanOrEqual(3);
      expect(result.ms, what).toBeLessThan(20_000);
    }
    const slowest = Math.max(...results.map((result) => result.ms));
    console.log(`[figures] config CLI: ${results.length} runs, all exit 1, slowest ${slowest} ms`);
  }, 60_000);
});
