/**
 * The original's spellings and options one by one, with values that differ from our
 * defaults (the fixture files mostly repeat the defaults): each is honoured, ignored with a
 * warning naming it, or refused with one line saying why.
 */
import { describe, expect, it } from "vitest";
import { parseConfig, parseConfigYaml } from "../../src/config/index.js";
import { openConfiguredDatabase, runSerializable } from "../../src/db/index.js";
import { TransactionRetryExhaustedError } from "../../src/errors.js";

const BTC = {
  backend: { class: "cryptoassets.core.backend.bitcoind.Bitcoind", url: "http://u:p@127.0.0.1:8332/" },
};

function load(input: Record<string, unknown>) {
  const warnings: string[] = [];
  const config = parseConfig(
    { coins: { btc: BTC }, ...input },
    { onWarning: (message) => warnings.push(message), env: {} },
  );
  return { config, warnings };
}

describe("the original's options", () => {
  it("status_server is the status-server section; both at once is refused", () => {
    expect(load({ status_server: { ip: "127.0.0.2", port: 18999 } }).config["status-server"]).toEqual({
      ip: "127.0.0.2",
      port: 18999,
    });
    expect(() => load({ status_server: { port: 1 }, "status-server": { port: 2 } })).toThrow(
      /^invalid configuration: status_server: the same section as status-server \(the original's spelling and ours\); expected only one of them$/,
    );
  });

  it("database: pool_size and transaction_retries are honoured, SQLAlchemy engine options ignored with one warning", () => {
    const { config, warnings } = load({
      database: {
        url: "postgresql+psycopg2://app@127.0.0.1/app",
        pool_size: "5",
        transaction_retries: 2,
        max_overflow: 10,
        pool_recycle: 3600,
        echo: "false",
      },
    });
    expect(config.database).toMatchObject({ pool_size: 5, transaction_retries: 2, echo: false });
    expect(warnings).toEqual([
      "database: SQLAlchemy engine option(s) max_overflow, pool_recycle ignored (no meaning here: the engine is not SQLAlchemy; transactions are always serializable; pool_size and transaction_retries are honoured)",
    ]);
    // A typo is still a typo, not an engine option.
    expect(() => load({ database: { pool_sise: 5 } })).toThrow(/database: unknown key\(s\) pool_sise/);
  });

  it("transaction_retries is how many times a conflicting transaction is run again", async () => {
    const database = await openConfiguredDatabase({ url: "sqlite://", transaction_retries: 2 });
    try {
      let calls = 0;
      const conflict = Object.assign(new Error("could not serialize access"), { code: "40001" });
      const error = await runSerializable(
        database,
        async () => {
          calls++;
          throw conflict;
        },
        { baseDelayMs: 1 },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransactionRetryExhaustedError);
      expect(calls).toBe(3);
    } finally {
      await database.close();
    }
  });

  it("reads the strings the original read as booleans and numbers", () => {
    const { config } = load({
      coins: {
        btc: {
          ...BTC,
          testnet: "true",
          max_confirmation_count: "20",
          backend: { ...BTC.backend, walletnotify: { class: "redis", db: "1" } },
        },
      },
      events: { log: { class: "script", script: "logger", log_output: "true" } },
      service: { broadcast_period: "60" },
    });
    expect(config.coins.btc).toMatchObject({ network: "testnet", max_confirmation_count: 20 });
    expect(config.coins.btc?.backend.walletnotify).toMatchObject({ class: "redis", db: 1 });
    expect(config.events.log).toMatchObject({ log_output: true });
    expect(config.service.broadcast_period).toBe(60);
    // The original read any other string as false: refused rather than guessed.
    expect(() => load({ coins: { btc: { ...BTC, testnet: "yes" } } })).toThrow(
      /^invalid configuration: coins\.btc\.testnet: expected true or false \(or the strings "true"\/"false"\)$/,
    );
  });

  it("the Redis walletnotify channel defaults to the original's, so an unchanged walletnotify line is heard", () => {
    const { config } = load({
      coins: { btc: { backend: { ...BTC.backend, walletnotify: { class: "redis", username: "bitcoind" } } } },
    });
    expect(config.coins.btc?.backend.walletnotify).toEqual({
      class: "redis",
      host: "127.0.0.1",
      port: 6379,
      db: 0,
      username: "bitcoind",
      channel: "bitcoind_walletnotify_pubsub",
    });
  });

  it("service.logging: the level of the Python dictConfig, most specific logger first", () => {
    const level = (logging: unknown) => load({ service: { logging } }).config.service.logging?.level;
    expect(level({ version: 1, root: { level: "DEBUG", handlers: [] } })).toBe("debug");
    expect(level({ root: { level: "DEBUG" }, loggers: { cryptoassets: { level: "WARNING" } } })).toBe("warn");
    expect(
      level({
        root: { level: "DEBUG" },
        loggers: { cryptoassets: { level: "ERROR" }, "cryptoassets.core": { level: "INFO" } },
      }),
    ).toBe("info");
    expect(level({ level: "error", root: { level: "DEBUG" } })).toBe("error");
    expect(() => level({ root: { level: "LOUD" } })).toThrow(
      /service\.logging\.root\.level: expected a log level/,
    );
    expect(load({ service: { logging: { root: { level: "INFO" }, handlers: {} } } }).warnings).toEqual([
      "service.logging: handlers of the Python logging configuration not used: logs are JSON lines on stdout (route them with your supervisor); only the level is taken",
    ]);
  });

  it("max_tracked_incoming_confirmations loads with a warning (the original ignored it as well)", () => {
    const { config, warnings } = load({
      coins: { btc: { backend: { ...BTC.backend, max_tracked_incoming_confirmations: 20 } } },
    });
    expect(config.coins.btc?.max_confirmation_count).toBe(15);
    expect(warnings).toEqual([
      "coins.btc.backend.max_tracked_incoming_confirmations ignored (the original ignored it too): confirmations are tracked up to coins.btc.max_confirmation_count (default 15)",
    ]);
  });

  it("hosted wallet services are refused with one line saying what to use", () => {
    expect(() =>
      parseConfigYaml(
        "coins:\n  btc:\n    backend:\n      class: cryptoassets.core.backend.blockchain.BlockChain\n      identifier: x\n      password: y\n",
      ),
    ).toThrow(
      /^invalid configuration: coins\.btc\.backend\.class: blockchain\.info is a hosted wallet service, not supported here \(it needs an account there and its API\); expected class: bitcoind, with Bitcoin Core's RPC url$/,
    );
    expect(() =>
      load({
        coins: {
          btc: {
            backend: {
              ...BTC.backend,
              walletnotify: {
                class: "cryptoassets.core.backend.sochainwalletnotify.SochainWalletNotifyHandler",
              },
            },
          },
        },
      }),
    ).toThrow(
      /^invalid configuration: coins\.btc\.backend\.walletnotify\.class: SoChain is a hosted wallet service/,
    );
  });

  it("tells nothing about ignored options when the configuration fails anyway", () => {
    const warnings: string[] = [];
    expect(() =>
      parseConfig(
        { database: { url: "sqlite:///:memory:?check_same_thread=false" } },
        {
          onWarning: (message) => warnings.push(message),
        },
      ),
    ).toThrow(/coins: missing/);
    expect(warnings).toEqual([]);
  });
});
