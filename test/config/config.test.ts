import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfigFile, maskSecrets, parseConfig, parseConfigYaml } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "ca-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Written the way cryptoassets.core users wrote theirs.
const ORIGINAL_STYLE = `
database:
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
events:
  example_http:
    class: cryptoassets.core.event.http.HTTPEventHandler
    url: http://localhost:10000
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
    level: debug
`;

describe("configuration", () => {
  it("loads an original cryptoassets.core file into the canonical form", () => {
    const path = join(dir, "original.yaml");
    writeFileSync(path, ORIGINAL_STYLE);
    const config = loadConfigFile(path);
    const btc = config.coins.btc;
    expect(btc?.backend.class).toBe("bitcoind");
    expect(btc?.network).toBe("testnet");
    expect(btc?.credit_threshold).toBe(3);
    expect(btc?.backend.walletnotify).toEqual({ class: "http", ip: "127.0.0.1", port: 28882 });
    expect(config.coins.doge?.backend.walletnotify).toEqual({
      class: "pipe",
      fname: "/tmp/dogecoin-walletnotify-pipe",
      mode: 0o600,
    });
    expect(config.events.example_http).toMatchObject({ class: "http", format: "form", timeout: 10 });
    expect(config.events.example_script).toMatchObject({ class: "script", log_output: true, timeout: 60 });
    expect(config.events.example_inproc).toEqual({
      class: "in-process",
      callback: `${join(dir, "handlers.js")}#onEvent`,
      timeout: 60,
    });
    expect(config.service.broadcast_period).toBe(60);
    expect(config.service.dispatcher.concurrency).toBe(8);
  });

  it("fills every default", () => {
    const config = parseConfig(
      { coins: { btc: { backend: { class: "bitcoind", url: "http://u:p@127.0.0.1:18443/" } } } },
      { baseDir: "/srv/app" },
    );
    expect(config.database.url).toBe("sqlite:////srv/app/cryptoassets.db");
    // No network: the service takes the daemon's chain.
    expect(config.coins.btc?.network).toBeUndefined();
    expect(config.coins.btc).toMatchObject({
      max_confirmation_count: 15,
      credit_threshold: 3,
      wallet_name: "default",
      backend: { timeout: 15 },
    });
    expect(config["status-server"]).toEqual({ ip: "127.0.0.1", port: 18881 });
    expect(config.service).toMatchObject({
      broadcast_period: 30,
      confirmation_strategy: "block",
      poll_period: 10,
      recheck_period: 600,
      retry_backoff_cap: 60,
      shutdown_grace_period: 10,
      update_batch_size: 256,
      dispatcher: { concurrency: 8, retention_days: 30, poll_interval: 5 },
    });
    const totalRetry = config.service.dispatcher.retry_schedule.reduce((a, b) => a + b, 0);
    expect(totalRetry / 86_400).toBeGreaterThan(2.5);
    expect(config.events).toEqual({});
  });

  it("reads service.update_batch_size (it failed to load before), at least 1", () => {
    const base = { coins: { btc: { backend: { class: "bitcoind", url: "http://u:p@127.0.0.1:18443/" } } } };
    expect(parseConfig({ ...base, service: { update_batch_size: 1 } }).service.update_batch_size).toBe(1);
    expect(parseConfig({ ...base, service: { poll_period: 2 } }).service).toMatchObject({
      poll_period: 2,
      update_batch_size: 256,
      dispatcher: { concurrency: 8 },
    });
    expect(() => parseConfig({ ...base, service: { update_batch_size: 0 } })).toThrow(
      /service\.update_batch_size/,
    );
  });

  it("lets the status server pick a free port with port 0; notify listeners need a fixed one", () => {
    const base = { coins: { btc: { backend: { class: "bitcoind", url: "http://u:p@127.0.0.1:18443/" } } } };
    expect(parseConfig({ ...base, "status-server": { port: 0 } })["status-server"].port).toBe(0);
    expect(() =>
      parseConfig({
        coins: {
          btc: {
            backend: {
              class: "bitcoind",
              url: "http://u:p@127.0.0.1:18443/",
              walletnotify: { class: "http", port: 0 },
            },
          },
        },
      }),
    ).toThrow(/coins\.btc\.backend\.walletnotify\.port/);
  });

  const bad = (input: unknown) => () => parseConfig(input, { env: {} });
  const btc = { class: "bitcoind", url: "http://u:p@127.0.0.1:8332/" };

  it("names the key path and what was expected", () => {
    expect(bad({ coins: { btc: { backend: { class: "bitcoind", url: "not a url" } } } })).toThrow(
      /coins\.btc\.backend\.url: expected a URL/,
    );
    expect(bad({ coins: { btc: { backend: { class: "electrum" } } } })).toThrow(
      /coins\.btc\.backend\.class: /,
    );
    expect(bad({ coins: { btc: { backend: btc, max_confirmations: 3 } } })).toThrow(
      /coins\.btc: unknown key\(s\) max_confirmations/,
    );
    expect(bad({ coins: { btc: { backend: btc, credit_threshold: 20 } } })).toThrow(
      /coins\.btc\.credit_threshold: credit_threshold must not exceed max_confirmation_count/,
    );
    expect(bad({ coins: { xyz: { backend: btc } } })).toThrow(/coins\.xyz: unknown coin/);
    expect(bad({ coins: {} })).toThrow(/coins: configure at least one coin/);
    expect(bad({ coins: { btc: { backend: btc } }, events: { app: { class: "http" } } })).toThrow(
      /events\.app\.url/,
    );
    expect(bad({ coins: { btc: { backend: btc } }, "status-server": { port: 70000 } })).toThrow(
      /status-server\.port/,
    );
    expect(bad({ coins: { btc: { backend: btc } }, database: { url: "oracle://x" } })).toThrow(
      /database\.url: expected a database URL/,
    );
    expect(bad("just text")).toThrow(ConfigError);
    expect(() => parseConfigYaml("coins: [unclosed")).toThrow(/not valid YAML/);
  });

  it("interpolates environment variables and reports missing ones", () => {
    const config = parseConfig(
      {
        coins: { btc: { backend: { class: "bitcoind", url: "http://rpc:${RPC_PASSWORD}@127.0.0.1:8332/" } } },
        events: {
          app: {
            class: "http",
            url: "http://127.0.0.1:9/",
            secret: "${SECRET:-whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}",
          },
        },
      },
      { env: { RPC_PASSWORD: "hunter2" } },
    );
    expect(config.coins.btc?.backend).toMatchObject({ url: "http://rpc:hunter2@127.0.0.1:8332/" });
    expect(config.events.app).toMatchObject({ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
    expect(
      bad({ coins: { btc: { backend: { class: "bitcoind", url: "http://rpc:${NOPE}@h:1/" } } } }),
    ).toThrow(/coins\.btc\.backend\.url: environment variable NOPE is not set/);
  });

  it("masks secrets for printing", () => {
    const config = parseConfig(
      {
        database: { url: "postgresql://app:dbpass@db/app" },
        coins: { btc: { backend: { class: "bitcoind", url: "http://rpc:rpcpass@127.0.0.1:8332/" } } },
        events: {
          app: {
            class: "http",
            url: "http://127.0.0.1:9/",
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
          },
        },
        "status-server": { admin_token: "tok", read_token: "feed-reader-tok" },
      },
      { env: {} },
    );
    const text = JSON.stringify(maskSecrets(config));
    for (const secret of [
      "dbpass",
      "rpcpass",
      "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      '"tok"',
      "feed-reader-tok",
    ])
      expect(text).not.toContain(secret);
    expect(text).toContain("postgresql://app:***@db/app");
  });
});
