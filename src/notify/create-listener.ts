/**
 * Builds the listener a coin's `walletnotify` (or blocknotify) configuration asks for; the
 * one factory for listeners (the helper service's composition uses it, src/service/coin-runtime.ts).
 * The `class` names follow the original cryptoassets.core configuration; its dotted class
 * names are resolved to these short ones by the config loader.
 */
import type { NotifyConfig } from "../config/schema.js";
import { NotifyConfigError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { HttpNotifyListener } from "./http-listener.js";
import type { NotifyCallback, NotifyListener } from "./listener.js";
import { PipeNotifyListener } from "./pipe-listener.js";
import { RedisNotifyListener } from "./redis-listener.js";

export function createNotifyListener(
  config: NotifyConfig,
  onValue: NotifyCallback,
  logger: Logger = silentLogger,
): NotifyListener {
  switch (config.class) {
    case "http":
      return new HttpNotifyListener(config, onValue, logger);
    case "pipe":
      return new PipeNotifyListener(config, onValue, logger);
    case "redis":
      return new RedisNotifyListener(config, onValue, logger);
    default: {
      const unknown: { class?: unknown } = config;
      throw new NotifyConfigError(
        `unknown notify listener class ${JSON.stringify(unknown.class)}: expected "http", "pipe" or "redis"`,
      );
    }
  }
}
