/**
 * Builds the listener a coin's `walletnotify` (or blocknotify) configuration asks for.
 * The `class` names follow the original cryptoassets.core configuration; its dotted class
 * names are resolved to these short ones by the config loader.
 */
import { type Logger, silentLogger } from "../log.js";
import { NotifyConfigError } from "./errors.js";
import { HttpNotifyListener, type HttpNotifyOptions } from "./http-listener.js";
import type { NotifyCallback, NotifyListener } from "./listener.js";
import { PipeNotifyListener, type PipeNotifyOptions } from "./pipe-listener.js";
import { RedisNotifyListener, type RedisNotifyOptions } from "./redis-listener.js";

export type NotifyListenerConfig =
  | ({ class: "http" } & HttpNotifyOptions)
  | ({ class: "pipe" } & PipeNotifyOptions)
  | ({ class: "redis" } & RedisNotifyOptions);

export function createNotifyListener(
  config: NotifyListenerConfig,
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
