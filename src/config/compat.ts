/**
 * The original cryptoassets.core's spellings and options, read before validation so its
 * YAML files load with the same meaning: `status_server`, SQLAlchemy engine options, the
 * Python logging dictConfig, backend options it ignored. What has no meaning here is
 * dropped with a warning naming it; backends that need a hosted service are refused with
 * one line saying what to use instead. (The dotted class names are in ./aliases.ts.)
 */
import { ConfigError } from "../errors.js";

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * SQLAlchemy `create_engine` options the original passed through from `database:`. Those
 * with a meaning here (`url`, `echo`, `pool_size`, `transaction_retries`) are schema keys;
 * these are ignored with a warning. Anything else is still an unknown key (a typo).
 */
const SQLALCHEMY_ENGINE_OPTIONS = new Set([
  "case_sensitive",
  "connect_args",
  "convert_unicode",
  "creator",
  "echo_pool",
  "empty_in_strategy",
  "enable_from_linting",
  "encoding",
  "execution_options",
  "future",
  "hide_parameters",
  "implicit_returning",
  "insertmanyvalues_page_size",
  "isolation_level",
  "json_deserializer",
  "json_serializer",
  "label_length",
  "logging_name",
  "max_identifier_length",
  "max_overflow",
  "module",
  "paramstyle",
  "plugins",
  "pool",
  "pool_logging_name",
  "pool_pre_ping",
  "pool_recycle",
  "pool_reset_on_return",
  "pool_timeout",
  "pool_use_lifo",
  "poolclass",
  "query_cache_size",
  "strategy",
  "use_insertmanyvalues",
]);

/** Backends and notify handlers of the original that are clients of a hosted service. */
const HOSTED_SERVICES: ReadonlyArray<[prefix: string, service: string]> = [
  ["cryptoassets.core.backend.blockio", "block.io"],
  ["cryptoassets.core.backend.blockiowebsocket", "block.io"],
  ["cryptoassets.core.backend.blockiowebhook", "block.io"],
  ["cryptoassets.core.backend.blockchain", "blockchain.info"],
  ["cryptoassets.core.backend.sochainwalletnotify", "SoChain"],
];

function hostedService(className: unknown): string | undefined {
  if (typeof className !== "string") return undefined;
  return HOSTED_SERVICES.find(([prefix]) => className.startsWith(`${prefix}.`))?.[1];
}

function refuseHostedBackends(coins: Raw): void {
  for (const [name, coin] of Object.entries(coins)) {
    if (!isObject(coin) || !isObject(coin.backend)) continue;
    const backend = coin.backend;
    const notifyClass = isObject(backend.walletnotify) ? backend.walletnotify.class : undefined;
    const [key, service] =
      hostedService(backend.class) !== undefined
        ? [`coins.${name}.backend.class`, hostedService(backend.class)]
        : [`coins.${name}.backend.walletnotify.class`, hostedService(notifyClass)];
    if (service === undefined) continue;
    throw new ConfigError(
      `invalid configuration: ${key}: ${service} is a hosted wallet service, not supported here ` +
        "(it needs an account there and its API); expected class: bitcoind, with Bitcoin Core's RPC url",
    );
  }
}

/** `database:` — SQLAlchemy engine options dropped, echo and SQLite URL options reported. */
function readDatabase(database: Raw, warn: (message: string) => void): Raw {
  const out: Raw = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(database)) {
    if (SQLALCHEMY_ENGINE_OPTIONS.has(key)) ignored.push(key);
    else out[key] = value;
  }
  if (database.echo === true || database.echo === "true") ignored.unshift("echo");
  if (ignored.length > 0) {
    warn(
      `database: SQLAlchemy engine option(s) ${ignored.join(", ")} ignored (no meaning here: the engine is not SQLAlchemy; ` +
        "transactions are always serializable; pool_size and transaction_retries are honoured)",
    );
  }
  const url = database.url;
  if (typeof url === "string" && /^sqlite(\+\w+)?:/i.test(url) && url.includes("?")) {
    const options = url
      .slice(url.indexOf("?") + 1)
      .split("&")
      .filter((pair) => pair !== "")
      .map((pair) => pair.split("=")[0]);
    warn(
      `database.url: SQLite option(s) ${options.join(", ")} ignored (they configure Python's sqlite3 driver)`,
    );
  }
  return out;
}

function readBackends(coins: Raw, warn: (message: string) => void): Raw {
  return Object.fromEntries(
    Object.entries(coins).map(([name, coin]) => {
      if (
        !isObject(coin) ||
        !isObject(coin.backend) ||
        !("max_tracked_incoming_confirmations" in coin.backend)
      )
        return [name, coin];
      const { max_tracked_incoming_confirmations: _ignored, ...backend } = coin.backend;
      warn(
        `coins.${name}.backend.max_tracked_incoming_confirmations ignored (the original ignored it too): ` +
          `confirmations are tracked up to coins.${name}.max_confirmation_count (default 15)`,
      );
      return [name, { ...coin, backend }];
    }),
  );
}

function readLogging(service: Raw, warn: (message: string) => void): void {
  if (!isObject(service.logging)) return;
  const unused = ["handlers", "formatters", "filters", "incremental"].filter((key) =>
    Object.hasOwn(service.logging as Raw, key),
  );
  if (unused.length > 0) {
    warn(
      `service.logging: ${unused.join(", ")} of the Python logging configuration not used: ` +
        "logs are JSON lines on stdout (route them with your supervisor); only the level is taken",
    );
  }
}

/** Rewrites the original's spellings into ours; `warn` hears what is dropped. */
export function readOriginalSpellings(raw: Raw, warn: (message: string) => void): Raw {
  const out: Raw = { ...raw };
  if ("backend" in out && !("coins" in out)) {
    // The configuration chapter's walletnotify example, copied as it is shown.
    throw new ConfigError(
      "invalid configuration: backend: expected under coins.<coin>, e.g. coins: { btc: { backend: … } } (a backend belongs to a coin)",
    );
  }
  if ("status_server" in out) {
    if ("status-server" in out) {
      throw new ConfigError(
        "invalid configuration: status_server: the same section as status-server (the original's spelling and ours); expected only one of them",
      );
    }
    out["status-server"] = out.status_server;
    delete out.status_server;
  }
  if (isObject(out.database)) out.database = readDatabase(out.database, warn);
  if (isObject(out.coins)) {
    refuseHostedBackends(out.coins);
    out.coins = readBackends(out.coins, warn);
  }
  if (isObject(out.service)) readLogging(out.service, warn);
  return out;
}
