/**
 * The configuration schema (zod). Layout follows the original cryptoassets.core YAML;
 * every key is documented here and in the README's configuration reference. Unknown keys
 * are rejected: in a money system a typo must not silently fall back to a default.
 */
import * as z from "zod";
import { knownCoins } from "../coins/registry.js";
import { DEFAULT_RETRY_SCHEDULE } from "../events/retry-schedule.js";
import { NO_VALUE, TRANSACTION_TYPES } from "../events/routing.js";
import { webhookSecretProblem } from "../events/signing.js";
import { EVENT_NAMES } from "../events/types.js";
import { urlProblem } from "../redact/url.js";
import { parseHostHeader } from "../service/host-header.js";
import { DISPATCHER_DEFAULTS, HANDLER_TIMEOUTS, SERVICE_DEFAULTS } from "./defaults.js";

// A digit string is read as a number so `port: ${NOTIFY_PORT:-28882}` (a string after
// interpolation) works. Not z.coerce: it turned `true` and `[80]` into ports 1 and 80.
// Typed as taking a number so the input types (what code that builds a configuration
// writes) say `port?: number`; YAML values of any type still go through the check.
const digitsToNumber = (value: number) =>
  typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
const port = z.preprocess(digitsToNumber, z.number().int().min(1).max(65535));
/** A whole number written as a number or a digit string (the original read these with int()). */
const count = (min: number) => z.preprocess(digitsToNumber, z.number().int().min(min));
/**
 * true/false, or the strings "true"/"false": the original compared with `in ("true", True)`,
 * so a quoted "true" meant true there. Other strings ("yes", "True") are refused: the
 * original read them as false, which is rarely what the writer meant.
 */
const flag = z.preprocess(
  (value: boolean) => (value === ("true" as unknown) ? true : value === ("false" as unknown) ? false : value),
  z.boolean({ error: 'expected true or false (or the strings "true"/"false")' }),
);
/** A port we only listen on (no daemon must know it): 0 picks a free one, logged at start. */
const listenPort = z.preprocess(digitsToNumber, z.number().int().min(0).max(65535));

const MODE_EXPECTED = 'expected file permission bits in octal: 0600, "0600" or 0o600 (at most 0777)';
/**
 * File mode: a number (the loader reads YAML's unquoted 0600 as octal) or an octal string.
 * Range-checked here so a bad mode is a config error with its key path, not a start failure.
 */
const fileMode = z.custom<number>().transform((mode: unknown, ctx) => {
  let bits = Number.NaN;
  if (typeof mode === "number") bits = mode;
  else if (typeof mode === "string" && /^0?o?[0-7]{3,4}$/.test(mode)) {
    bits = Number.parseInt(mode.replace(/^0?o?/, ""), 8);
  }
  if (!Number.isInteger(bits) || bits < 0 || bits > 0o777) {
    ctx.addIssue({ code: "custom", message: MODE_EXPECTED });
    return z.NEVER;
  }
  return bits;
});

/** pino's level names, plus Python's from original files; pino itself throws on unknown ones at start. */
const LOG_LEVELS = new Map([
  ["trace", "trace"],
  ["debug", "debug"],
  ["info", "info"],
  ["warn", "warn"],
  ["warning", "warn"],
  ["error", "error"],
  ["fatal", "fatal"],
  ["critical", "fatal"],
  ["silent", "silent"],
]);
const logLevel = z.string().transform((level, ctx) => {
  const known = LOG_LEVELS.get(level.toLowerCase());
  if (known === undefined) {
    ctx.addIssue({
      code: "custom",
      message:
        "expected a log level: trace, debug, info, warn, error, fatal, silent (or Python's DEBUG, INFO, WARNING, ERROR, CRITICAL)",
    });
    return z.NEVER;
  }
  return known;
});
const seconds = z.preprocess(digitsToNumber, z.number().positive());

/**
 * `service.logging`: our `level`, or the original's Python logging.config.dictConfig. Its
 * level is the most specific one that applies to the library's loggers, as Python resolves
 * it: `loggers."cryptoassets.core"`, then `loggers.cryptoassets`, then `root`. Handlers and
 * formatters are not used (logs are JSON lines on stdout); the loader warns about them.
 */
const levelHolder = z.looseObject({ level: logLevel.optional() });
const pythonLogging = z
  .looseObject({
    level: logLevel.optional(),
    root: levelHolder.optional(),
    loggers: z.record(z.string(), levelHolder).optional(),
  })
  .transform(({ level, root, loggers }) => ({
    level: level ?? loggers?.["cryptoassets.core"]?.level ?? loggers?.cryptoassets?.level ?? root?.level,
  }));
const envName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    "expected a variable name: letters, digits and _, not starting with a digit",
  )
  .refine((name) => !/^CRYPTOASSETS_EVENT_(NAME|DATA|ID)$/.test(name), {
    message: "expected another name: the handler sets CRYPTOASSETS_EVENT_NAME, _DATA and _ID for each event",
  });
const host = z.string().min(1);

/**
 * An amount in coin units, kept as the decimal string written ("0.00000546"): money never
 * becomes a float. A YAML number is taken when it reads back as the same plain decimal
 * (0.5); one JavaScript would print otherwise (1e-7) must be quoted.
 */
const coinAmount = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const text = String(value).trim();
  if (!/^\d+(\.\d{1,8})?$/.test(text)) {
    ctx.addIssue({
      code: "custom",
      message: `expected an amount in coin units with at most 8 decimal places, e.g. "0.00000546" (quote small amounts), got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return text;
});

/** A URL that may carry credentials: refused when it does not parse or reads two ways (the message never quotes it). */
const refineCredentialUrl = (url: string, ctx: z.RefinementCtx) => {
  const problem = urlProblem(url);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `expected a URL: ${problem}` });
  return problem === undefined;
};
/** A credential URL with one of `schemes`, e.g. urlWithScheme(["http", "https"]). */
const urlWithScheme = (schemes: readonly string[]) =>
  z.string().superRefine((url, ctx) => {
    if (refineCredentialUrl(url, ctx) && !schemes.includes(new URL(url).protocol.slice(0, -1))) {
      ctx.addIssue({
        code: "custom",
        message: `expected a URL starting with ${schemes.map((scheme) => `${scheme}://`).join(" or ")}`,
      });
    }
  });
const httpUrl = urlWithScheme(["http", "https"]);

const databaseUrl = z
  .string()
  .refine((u) => /^(sqlite|postgres|postgresql|mysql|mariadb)(\+\w+)?:\/\//i.test(u), {
    message:
      "expected a database URL: sqlite:///relative.db, sqlite:////absolute/path.db, sqlite://, postgresql://… or mysql://…",
    abort: true,
  })
  .superRefine((url, ctx) => {
    if (!/^sqlite[:+]/i.test(url)) refineCredentialUrl(url, ctx);
  });

/** walletnotify/blocknotify listeners. */
export const notifySchema = z.discriminatedUnion("class", [
  z.strictObject({
    class: z.literal("http"),
    /** Address to listen on (default 127.0.0.1). */
    ip: host.default("127.0.0.1"),
    /** Port (default 28882). */
    port: port.default(28882),
  }),
  z.strictObject({
    class: z.literal("pipe"),
    /** Path of the named pipe (FIFO) bitcoind writes txids to. */
    fname: z.string().min(1),
    /** File mode of the FIFO (default 0o600); a number or an octal string like "0600". */
    mode: fileMode.default(0o600),
  }),
  z.strictObject({
    class: z.literal("redis"),
    host: host.default("127.0.0.1"),
    port: port.default(6379),
    /** Redis 6 ACL user name (the original's `username`). */
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    db: count(0).default(0),
    /** Pub/sub channel bitcoind's notify command publishes to (the original's default). */
    channel: z.string().min(1).default("bitcoind_walletnotify_pubsub"),
  }),
]);

export const backendSchema = z.discriminatedUnion(
  "class",
  [
    z.strictObject({
      class: z.literal("bitcoind"),
      /** JSON-RPC URL with credentials, e.g. http://rpcuser:${RPC_PASSWORD}@127.0.0.1:8332/ */
      url: httpUrl,
      /** Multiwallet: the wallet name (requests go to /wallet/<name>). */
      wallet: z.string().optional(),
      /** Seconds before an RPC call times out (default 15). */
      timeout: seconds.default(15),
      /** MiB: the largest daemon reply read; a larger one fails with CA_ERR_RPC_REPLY_TOO_LARGE (default 16). */
      max_reply_mb: z.preprocess(digitsToNumber, z.number().positive()).optional(),
      /** Wallet entries per listtransactions page of a full scan (default 1000; 0: one unpaged listsinceblock). */
      scan_page_size: count(0).optional(),
      /** How bitcoind tells us about wallet transactions (optional: without it, only scans and blocks). */
      walletnotify: notifySchema.optional(),
      /** How bitcoind tells us about new blocks (optional: without it the tip is polled). */
      blocknotify: notifySchema.optional(),
    }),
    z.strictObject({
      class: z.literal("null"),
      walletnotify: notifySchema.optional(),
      blocknotify: notifySchema.optional(),
    }),
  ],
  {
    error: (issue) =>
      issue.input === undefined
        ? 'missing: expected a backend (class: bitcoind with its url, or class: "null"); every coin needs one'
        : undefined,
  },
);

export const coinSchema = z
  .strictObject({
    backend: backendSchema,
    /**
     * mainnet | testnet | regtest (the original's `testnet: true` means testnet). Checked
     * against the daemon's chain at start; unset (and no `testnet`): taken from the daemon.
     */
    network: z.enum(["mainnet", "testnet", "regtest"]).optional(),
    /** Original key; prefer `network`. true: testnet, false: mainnet ("true"/"false" too). */
    testnet: flag.optional(),
    /** Confirmations after which a transaction is final and no longer tracked (default 15). */
    max_confirmation_count: count(1).default(15),
    /** Confirmations at which a deposit is credited to the account (default 3). */
    credit_threshold: z
      .preprocess(
        digitsToNumber,
        z
          .number()
          .int()
          .min(
            1,
            "expected at least 1: a deposit with no confirmation could be spent (and then vanish with its transaction)",
          ),
      )
      .default(3),
    /** Name of the ledger wallet for this coin (default "default"). */
    wallet_name: z.string().min(1).default("default"),
    /**
     * Smallest amount `send` accepts, in coin units (default per coin: BTC 0.00000546, LTC
     * 0.00005460, DOGE 0.01 — what the daemon refuses as dust for any output type).
     */
    dust_limit: coinAmount.optional(),
    /** Seconds between blocks (default btc 600, ltc 150, doge 60, others 600): the unit of stuck_after_blocks. */
    block_interval: seconds.optional(),
    /** backendstatus "stuck" once the tip stands still this many block intervals (default 6; regtest 0 = never). */
    stuck_after_blocks: z.preprocess(digitsToNumber, z.number().min(0)).optional(),
    /**
     * Optional, in coin units: a `hotwalletlow` event fires when the daemon's spendable
     * balance falls below it (and one when it recovers). Without it, only a shortfall (the
     * wallet cannot pay the pending sends) makes the wallet low.
     */
    hot_wallet_threshold: coinAmount.optional(),
    /** Original key (Python models module): accepted and ignored. */
    models: z.string().optional(),
  })
  .transform(({ testnet, models: _models, ...coin }) => ({
    ...coin,
    network:
      coin.network ??
      (testnet === undefined ? undefined : testnet ? ("testnet" as const) : ("mainnet" as const)),
  }))
  .refine((coin) => coin.credit_threshold <= coin.max_confirmation_count, {
    message: "credit_threshold must not exceed max_confirmation_count",
    path: ["credit_threshold"],
  });

/**
 * `events.<name>.subscribe`: the handler receives only matching events (every listed
 * dimension must match; `-` stands for an event without that field). Absent: everything.
 */
export const subscriptionSchema = z
  .strictObject({
    /** Event names, e.g. [txupdate]. */
    events: z
      .array(z.enum(EVENT_NAMES as [string, ...string[]]))
      .min(1, "expected at least one event name")
      .optional(),
    /** Configured coin names (case-insensitive), or "-" for events without a coin. */
    coins: z
      .array(z.string().transform((coin) => coin.toLowerCase()))
      .min(1, "expected at least one coin")
      .optional(),
    /** deposit, broadcast, or "-" for events without a transaction type. */
    transaction_types: z
      .array(z.enum(TRANSACTION_TYPES))
      .min(1, "expected at least one transaction type")
      .optional(),
  })
  .refine((s) => s.events ?? s.coins ?? s.transaction_types, {
    message:
      "an empty subscription: expected events, coins or transaction_types (or leave subscribe out to receive everything)",
  });
const subscribe = subscriptionSchema.optional();

export const eventHandlerSchema = z.discriminatedUnion("class", [
  z.strictObject({
    class: z.literal("http"),
    /** Where to POST events. */
    url: httpUrl,
    /** Standard Webhooks signing secret (whsec_<base64> or any string), at least 24 bytes. */
    secret: z
      .string()
      .superRefine((secret, ctx) => {
        const problem = webhookSecretProblem(secret);
        if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    /** Seconds per request (default 10). */
    timeout: seconds.default(HANDLER_TIMEOUTS.http),
    /** form (default, wire-compatible with the original) or json. */
    format: z.enum(["form", "json"]).default("form"),
    /** Extra request headers. */
    headers: z.record(z.string(), z.string()).default({}),
    subscribe,
  }),
  z.strictObject({
    class: z.literal("script"),
    /** Shell command run per event with CRYPTOASSETS_EVENT_NAME/DATA/ID in its environment. */
    script: z
      .string({
        error: (issue) =>
          typeof issue.input === "boolean" || typeof issue.input === "number"
            ? `expected a shell command as a string; YAML reads an unquoted ${String(issue.input)} as a ${typeof issue.input}, not a command (the original failed on the first event with it): quote it, script: "${String(issue.input)}"`
            : undefined,
      })
      .min(1),
    /** Log the script's stdout/stderr at info level (default false). */
    log_output: flag.default(false),
    /** Variables set for the script (it inherits only PATH, HOME, LANG, LC_* and CRYPTOASSETS_*). */
    env: z.record(envName, z.string()).default({}),
    /** Variables of the service's environment passed on to the script as they are. */
    pass_env: z.array(envName).default([]),
    /** Seconds before the script's process group is killed (default 60). */
    timeout: seconds.default(HANDLER_TIMEOUTS.script),
    subscribe,
  }),
  z.strictObject({
    class: z.literal("in-process"),
    /** "<module>#<export>": a path relative to the config file, or a package specifier. */
    callback: z
      .string()
      .regex(
        /^[^#]+#[A-Za-z_$][\w$]*$/,
        'expected "<module>#<export>" naming a JavaScript module and its function, e.g. ./events.js#onEvent (a Python dotted name cannot be loaded here)',
      ),
    /** Seconds before a promise still pending counts as a failed attempt (default 60); the function is not cancelled. */
    timeout: seconds.default(HANDLER_TIMEOUTS.function),
    subscribe,
  }),
  z.strictObject({
    class: z.literal("redis-stream"),
    /** redis://[user:password@]host:6379[/db] (rediss:// for TLS). */
    url: urlWithScheme(["redis", "rediss"]),
    /** The stream's key (XADD). */
    stream: z.string().min(1),
    /** Trim to about this many entries (XADD MAXLEN ~); default: never trimmed. */
    maxlen: z.number().int().min(1).optional(),
    /** Seconds per delivery, connecting included (default 10). */
    timeout: seconds.default(HANDLER_TIMEOUTS.broker),
    subscribe,
  }),
  z.strictObject({
    class: z.literal("amqp"),
    /** amqp://user:password@host:5672/vhost (amqps:// for TLS). */
    url: urlWithScheme(["amqp", "amqps"]),
    /** Exchange to publish to; declared as a durable topic exchange when missing. */
    exchange: z.string().min(1),
    /** A message no queue is bound for is a failed attempt, not silently dropped (default true). */
    mandatory: z.boolean().default(true),
    /** Seconds per delivery, connecting included (default 10). */
    timeout: seconds.default(HANDLER_TIMEOUTS.broker),
    subscribe,
  }),
  z.strictObject({
    class: z.literal("nats"),
    /** nats://[user:password@]host:4222 (tls:// for TLS). */
    url: urlWithScheme(["nats", "tls"]).refine((url) => !/^[a-z]+:\/\/[^:@/]+@/.test(url), {
      message: "expected user:password@ in the URL, or no credentials there (a token goes in `token`)",
    }),
    /** First subject tokens: subjects are <subject_prefix>.<event_name>.<coin> (default cryptoassets). */
    subject_prefix: z
      .string()
      .regex(
        /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
        "expected subject tokens of letters, digits, _ and -, separated by dots",
      )
      .default("cryptoassets"),
    /** Token authentication (instead of user:password in the URL). */
    token: z.string().min(1).optional(),
    /** Seconds per delivery, connecting included (default 10). */
    timeout: seconds.default(HANDLER_TIMEOUTS.broker),
    subscribe,
  }),
]);

export const configSchema = z
  .strictObject({
    database: z
      .strictObject({
        /** Connection URL, read by SQLAlchemy's rules (default: sqlite file cryptoassets.db next to the config file). */
        url: databaseUrl.optional(),
        /** Original key: log SQL (accepted; ignored with a warning when true). */
        echo: flag.optional(),
        /** Retries of a transaction after a serialization conflict (default 19: 20 attempts). */
        transaction_retries: count(0).pipe(z.number().max(1000)).optional(),
        /** Connections in the pool for PostgreSQL and MySQL (default 10; SQLite has one). */
        pool_size: count(1).pipe(z.number().max(1000)).optional(),
      })
      .default({}),
    coins: z
      .record(
        z.string().refine((name) => knownCoins().includes(name.toLowerCase()), {
          message: `unknown coin; known coins: ${knownCoins().join(", ")}`,
        }),
        coinSchema,
        {
          error: (issue) =>
            issue.input === undefined
              ? "missing: configure at least one coin, e.g. coins: { btc: { backend: { class: bitcoind, url: … } } }"
              : undefined,
        },
      )
      .refine((coins) => Object.keys(coins).length > 0, { message: "configure at least one coin" }),
    events: z
      .record(z.string().regex(/^[\w.-]+$/, "handler names use letters, digits, _ . -"), eventHandlerSchema)
      .default({}),
    "status-server": z
      .strictObject({
        ip: host.default("127.0.0.1"),
        port: listenPort.default(18881),
        /** Bearer token for mutating actions (redeliver); without it the dashboard is read-only. */
        admin_token: z.string().min(1).optional(),
        /** Host header names answered besides loopback and the bound address (the name a reverse proxy forwards). */
        allowed_hosts: z
          .array(
            z.string().refine((entry) => parseHostHeader(entry) !== undefined, {
              message:
                "expected a host name as the Host header carries it, e.g. status.example.com or status.example.com:8443 (no scheme, path or wildcard)",
            }),
          )
          .optional(),
        /** Bearer token for GET /events, the pull feed (the admin token works too). */
        read_token: z.string().min(1).optional(),
        /** false: no status server at all (default true). */
        enabled: flag.optional(),
      })
      .default({ ip: "127.0.0.1", port: 18881 }),
    // Defaults from ./defaults.ts; prefault runs an absent section through the schema, so
    // every default is written once.
    service: z
      .strictObject({
        broadcast_period: seconds.default(SERVICE_DEFAULTS.broadcast_period),
        /** block (one listsinceblock per new block) or poll (the original: one RPC per open transaction). */
        confirmation_strategy: z.enum(["block", "poll"]).default("block"),
        poll_period: seconds.default(SERVICE_DEFAULTS.poll_period),
        recheck_period: seconds.default(SERVICE_DEFAULTS.recheck_period),
        retry_backoff_cap: seconds.default(SERVICE_DEFAULTS.retry_backoff_cap),
        shutdown_grace_period: seconds.default(SERVICE_DEFAULTS.shutdown_grace_period),
        update_batch_size: count(1).default(SERVICE_DEFAULTS.update_batch_size),
        /** `level`, or the original's Python dictConfig (its root and cryptoassets logger levels). */
        logging: pythonLogging.optional(),
        dispatcher: z
          .strictObject({
            concurrency: z.number().int().min(1).default(DISPATCHER_DEFAULTS.concurrency),
            /** Seconds between attempts; after the last one the delivery is dead (default ≈3 days). */
            retry_schedule: z
              .array(seconds)
              .min(1)
              .default([...DEFAULT_RETRY_SCHEDULE]),
            retention_days: z.number().positive().default(DISPATCHER_DEFAULTS.retention_days),
            poll_interval: seconds.default(DISPATCHER_DEFAULTS.poll_interval),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    // A subscription to a coin that is not configured would silently receive nothing.
    const coins = Object.keys(config.coins).map((coin) => coin.toLowerCase());
    for (const [name, handler] of Object.entries(config.events)) {
      handler.subscribe?.coins?.forEach((coin, i) => {
        if (coin === NO_VALUE || coins.includes(coin)) return;
        ctx.addIssue({
          code: "custom",
          path: ["events", name, "subscribe", "coins", i],
          message: `${JSON.stringify(coin)} is not a configured coin; expected one of: ${coins.join(", ")}, or "${NO_VALUE}" for events without a coin`,
        });
      });
    }
  });

export type CryptoassetsConfig = z.output<typeof configSchema> & { database: { url: string } };
export type CoinConfig = z.output<typeof coinSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
/** A walletnotify/blocknotify listener as written (defaults apply to what is left out). */
export type NotifyConfig = z.input<typeof notifySchema>;
export type EventHandlerConfig = z.output<typeof eventHandlerSchema>;
