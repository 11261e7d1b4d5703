/**
 * Every configuration of the original cryptoassets.core (its test folder, its example and
 * the literal blocks of its configuration chapter, copied to test/fixtures/original-configs)
 * either loads with the same meaning — the parsed values the original would have used — or
 * fails with one line that names the key and says why. One table over the whole folder: a
 * file added there without an expected outcome here fails the test.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type CryptoassetsConfig, loadConfigFile, parseConfig } from "../../src/config/index.js";
import { parseDatabaseUrl } from "../../src/db/url.js";
import { errorMessage } from "../../src/errors.js";
import { maskUrl } from "../../src/redact/url.js";

const FOLDER = join(import.meta.dirname, "../fixtures/original-configs");

/** What a configuration means: the values the service acts on, in the original's terms. */
function meaning(config: CryptoassetsConfig) {
  return {
    database: {
      ...parseDatabaseUrl(config.database.url, "/cwd"),
      pool_size: config.database.pool_size,
      transaction_retries: config.database.transaction_retries,
    },
    coins: Object.fromEntries(
      Object.entries(config.coins).map(([name, coin]) => {
        const { backend } = coin;
        return [
          name,
          {
            backend:
              backend.class === "bitcoind"
                ? { class: backend.class, url: maskUrl(backend.url), timeout: backend.timeout }
                : { class: backend.class },
            walletnotify: backend.walletnotify,
            network: coin.network,
            max_confirmation_count: coin.max_confirmation_count,
          },
        ];
      }),
    ),
    events: config.events,
    status_server: config["status-server"],
    service: { broadcast_period: config.service.broadcast_period, log_level: config.service.logging?.level },
  };
}

/** `loads` holds meaning(config); the expected side writes it as a plain object. */
type Outcome = { loads: unknown; warnings: string[] } | { fails: string };
/** A fragment of the chapter is also read inside a whole configuration (see FRAMES). */
type Expected = Outcome | { alone: Outcome; framed: Outcome };

function outcomeOf(load: (onWarning: (message: string) => void) => CryptoassetsConfig): Outcome {
  const warnings: string[] = [];
  try {
    return { loads: meaning(load((message) => warnings.push(message))), warnings };
  } catch (error) {
    return { fails: errorMessage(error) };
  }
}

type Raw = Record<string, unknown>;
/** The null backend for btc: the smallest whole configuration around a fragment. */
const NULL_COIN = { btc: { backend: { class: "cryptoassets.core.backend.null.DummyCoinBackend" } } };
const FRAMES: Record<string, (fragment: Raw) => Raw> = {
  "config-rst-01.yaml": (fragment) => ({ ...fragment, coins: NULL_COIN }),
  "config-rst-03.yaml": (fragment) => ({ ...fragment, coins: NULL_COIN }),
  "config-rst-06.yaml": (fragment) => ({ ...fragment, coins: NULL_COIN }),
  "config-rst-07.yaml": (fragment) => ({ coins: { btc: fragment } }),
};

/**
 * No `testnet` key: the original assumed mainnet (for address checks only); here the network
 * is taken from the daemon at start (and checked against it when one is configured).
 */
const FROM_DAEMON = undefined;
// The original's defaults, for the keys its files leave out.
const SERVICE = { broadcast_period: 30, log_level: undefined };
const STATUS_SERVER = { ip: "127.0.0.1", port: 18881 };
const BTC_RPC = { class: "bitcoind", url: "http://foo:***@127.0.0.1:8332/", timeout: 15 };
const UNITTEST_DB = {
  engine: "sqlite",
  filename: "/tmp/cryptoassts-unittest-bitcoind.sqlite",
  ignoredOptions: [],
  pool_size: undefined,
  transaction_retries: undefined,
};
const MEMORY_DB = { engine: "sqlite", filename: ":memory:", ignoredOptions: ["check_same_thread"] };
const SQLITE_DRIVER_WARNING =
  "database.url: SQLite option(s) check_same_thread ignored (they configure Python's sqlite3 driver)";
const LOGGING_WARNING =
  "service.logging: handlers, formatters of the Python logging configuration not used: logs are JSON lines on stdout (route them with your supervisor); only the level is taken";
const ECHO_WARNING =
  "database: SQLAlchemy engine option(s) echo ignored (no meaning here: the engine is not SQLAlchemy; transactions are always serializable; pool_size and transaction_retries are honoured)";
const NULL_BTC = {
  backend: { class: "null" },
  walletnotify: undefined,
  network: FROM_DAEMON,
  max_confirmation_count: 15,
};
const BLOCK_IO =
  "invalid configuration: coins.%s.backend.class: block.io is a hosted wallet service, not supported here (it needs an account there and its API); expected class: bitcoind, with Bitcoin Core's RPC url";
const INPROCESS_NOTIFIER =
  'events.django.class: unknown class "cryptoassets.core.event.python.InProcessNotifier"; expected one of: http, script, in-process, redis-stream, amqp, nats (or the original\'s dotted class name)';
const NO_COINS =
  "invalid configuration: coins: missing: configure at least one coin, e.g. coins: { btc: { backend: { class: bitcoind, url: … } } }";
const PIPE_BTC = (fname: string) => ({
  backend: BTC_RPC,
  walletnotify: { class: "pipe", fname, mode: 0o600 },
  network: FROM_DAEMON,
  max_confirmation_count: 15,
});

/** The chapter's database example. */
const DOCS_POSTGRES = {
  engine: "postgres",
  connectionString: "postgresql://localhost/cryptoassets",
  pool_size: undefined,
  transaction_retries: undefined,
};
const NULL_IN_MEMORY: Outcome = {
  loads: {
    database: { ...MEMORY_DB, pool_size: undefined, transaction_retries: undefined },
    coins: { btc: NULL_BTC },
    events: {},
    status_server: STATUS_SERVER,
    service: SERVICE,
  },
  warnings: [SQLITE_DRIVER_WARNING],
};

const EXPECTED: Record<string, Expected> = {
  "bitcoind.config.yaml": {
    loads: {
      database: UNITTEST_DB,
      coins: { btc: PIPE_BTC("/tmp/cryptoassets-unittest-walletnotify-pipe") },
      events: {},
      status_server: STATUS_SERVER,
      service: SERVICE,
    },
    warnings: [],
  },
  "bitcoind.droneio.config.yaml": {
    loads: {
      database: UNITTEST_DB,
      coins: {
        btc: {
          backend: BTC_RPC,
          walletnotify: { class: "http", ip: "localhost", port: 30000 },
          network: FROM_DAEMON,
          max_confirmation_count: 15,
        },
      },
      events: {},
      status_server: STATUS_SERVER,
      service: SERVICE,
    },
    warnings: [],
  },
  "blockio-bitcoin.config.yaml": { fails: BLOCK_IO.replace("%s", "btc") },
  "blockio-dogecoin.config.yaml": { fails: BLOCK_IO.replace("%s", "doge") },
  "broken-config-no-backend.yaml": {
    fails:
      'invalid configuration: coins.btc.backend: missing: expected a backend (class: bitcoind with its url, or class: "null"); every coin needs one',
  },
  "config-rst-01.yaml": {
    alone: { fails: NO_COINS },
    framed: {
      loads: {
        database: expect.objectContaining({ engine: "sqlite" }),
        coins: { btc: NULL_BTC },
        events: {},
        status_server: STATUS_SERVER,
        service: { broadcast_period: 60, log_level: "debug" },
      },
      warnings: [LOGGING_WARNING],
    },
  },
  "config-rst-02.yaml": {
    loads: {
      database: DOCS_POSTGRES,
      coins: {
        btc: {
          backend: { class: "bitcoind", url: "http://x:***@127.0.0.1:9999/", timeout: 60 },
          walletnotify: { class: "http", ip: "127.0.0.1", port: 28882 },
          network: "testnet",
          max_confirmation_count: 15,
        },
      },
      events: {},
      status_server: STATUS_SERVER,
      service: SERVICE,
    },
    warnings: [ECHO_WARNING],
  },
  "config-rst-03.yaml": {
    alone: { fails: NO_COINS },
    framed: {
      loads: {
        database: DOCS_POSTGRES,
        coins: { btc: NULL_BTC },
        events: {},
        status_server: STATUS_SERVER,
        service: SERVICE,
      },
      warnings: [ECHO_WARNING],
    },
  },
  "config-rst-04.yaml": {
    fails:
      "invalid configuration: coins: unknown coins aby, bitcoin; known coins: btc, ltc, doge (a coin is named by its acronym; the original's own models modules are not loaded)",
  },
  "config-rst-05.yaml": {
    fails:
      "invalid configuration: coins.jesuscoin: unknown coin; known coins: btc, ltc, doge (a coin is named by its acronym; the original's own models modules are not loaded)",
  },
  "config-rst-06.yaml": {
    alone: {
      fails: `invalid configuration (2 problems):\n${NO_COINS.replace("invalid configuration: ", "")}\n${INPROCESS_NOTIFIER}`,
    },
    // The chapter names a class the original never had (its class is InProcessEventHandler).
    framed: { fails: `invalid configuration: ${INPROCESS_NOTIFIER}` },
  },
  "config-rst-07.yaml": {
    alone: {
      fails:
        "invalid configuration: backend: expected under coins.<coin>, e.g. coins: { btc: { backend: … } } (a backend belongs to a coin)",
    },
    framed: {
      loads: {
        database: expect.objectContaining({ engine: "sqlite" }),
        coins: { btc: PIPE_BTC("/tmp/cryptoassets-unittest-walletnotify") },
        events: {},
        status_server: STATUS_SERVER,
        service: SERVICE,
      },
      warnings: [],
    },
  },
  "example.config.yaml": { fails: BLOCK_IO.replace("%s", "btc") },
  "null.config.yaml": NULL_IN_MEMORY,
  // Broken in the original too (a module path it never had, and block.io): the first line.
  "sample-config.yaml": { fails: BLOCK_IO.replace("%s", "doge") },
  "service.config.yaml": {
    loads: {
      database: UNITTEST_DB,
      coins: { btc: PIPE_BTC("/tmp/cryptoassets-unittest-walletnotify") },
      events: {},
      status_server: { ip: "127.0.0.1", port: 18881 },
      service: { broadcast_period: 60, log_level: undefined },
    },
    warnings: [],
  },
  // The same file as null.config.yaml.
  "sqlite.conflictresolver.config.yaml": NULL_IN_MEMORY,
  // `script: true` is YAML's boolean: the original took it for the command and failed with a
  // TypeError on the first event; here the file fails to load, saying how to quote it.
  "startstop.config.yaml": {
    fails:
      'invalid configuration: events.dummy.script: expected a shell command as a string; YAML reads an unquoted true as a boolean, not a command (the original failed on the first event with it): quote it, script: "true"',
  },
};

describe("the original cryptoassets.core configurations", () => {
  it("each loads with the same meaning or fails with one line naming the key and why", () => {
    const files = readdirSync(FOLDER)
      .filter((file) => file.endsWith(".yaml"))
      .sort();
    const actual: Record<string, Expected> = {};
    for (const file of files) {
      const path = join(FOLDER, file);
      // loadConfigFile prefixes the path; the rest is what the operator reads about the file.
      const alone = outcomeOf((onWarning) =>
        loadConfigFile(path, { onWarning: (message) => onWarning(message.replace(`${path}: `, "")) }),
      );
      if ("fails" in alone) alone.fails = alone.fails.replace(`${path}: `, "");
      const frame = FRAMES[file];
      if (frame === undefined) {
        actual[file] = alone;
        continue;
      }
      const fragment = parseYaml(readFileSync(path, "utf8")) as Raw;
      const framed = outcomeOf((onWarning) => parseConfig(frame(fragment), { onWarning, baseDir: "/cwd" }));
      actual[file] = { alone, framed };
    }
    expect(files).toEqual(Object.keys(EXPECTED).sort());
    expect(actual).toEqual(EXPECTED);
  });
});
