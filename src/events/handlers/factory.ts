/**
 * Builds a handler from one `events.<name>` entry of the configuration. The config schema
 * (src/config) validates and normalizes the entries, including the original's long class
 * names, into this union; the factory turns them into live handlers.
 */

import { EventHandlerConfigError } from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import type { Subscription } from "../subscription.js";
import { AmqpEventHandler } from "./amqp.js";
import type { EventHandler } from "./handler.js";
import { HttpEventHandler } from "./http.js";
import type { WebhookFormat } from "./http-body.js";
import { InProcessEventHandler } from "./in-process.js";
import { NatsEventHandler } from "./nats.js";
import { RedisStreamEventHandler } from "./redis-stream.js";
import { ScriptEventHandler } from "./script.js";

/** What every handler entry may have besides its class's options. */
export interface EventHandlerConfigBase {
  /** Only these events (applied when events are written); absent: every event. */
  subscribe?: Subscription;
}

export interface HttpEventHandlerConfig extends EventHandlerConfigBase {
  class: "http";
  url: string;
  secret?: string;
  /** Seconds (default 10). */
  timeout?: number;
  format?: WebhookFormat;
  headers?: Record<string, string>;
}

export interface ScriptEventHandlerConfig extends EventHandlerConfigBase {
  class: "script";
  script: string;
  log_output?: boolean;
  /** Seconds (default 60). */
  timeout?: number;
  /** Variables set for the script. */
  env?: Record<string, string>;
  /** Variables of the service's environment passed on to the script. */
  pass_env?: readonly string[];
}

export interface InProcessEventHandlerConfig extends EventHandlerConfigBase {
  class: "in-process";
  callback: string;
  /** Seconds (default 60). */
  timeout?: number;
}

export interface RedisStreamEventHandlerConfig extends EventHandlerConfigBase {
  class: "redis-stream";
  url: string;
  stream: string;
  maxlen?: number;
  /** Seconds (default 10). */
  timeout?: number;
}

export interface AmqpEventHandlerConfig extends EventHandlerConfigBase {
  class: "amqp";
  url: string;
  exchange: string;
  mandatory?: boolean;
  /** Seconds (default 10). */
  timeout?: number;
}

export interface NatsEventHandlerConfig extends EventHandlerConfigBase {
  class: "nats";
  url: string;
  subject_prefix?: string;
  token?: string;
  /** Seconds (default 10). */
  timeout?: number;
}

export type EventHandlerConfig =
  | HttpEventHandlerConfig
  | ScriptEventHandlerConfig
  | InProcessEventHandlerConfig
  | RedisStreamEventHandlerConfig
  | AmqpEventHandlerConfig
  | NatsEventHandlerConfig;

export interface CreateEventHandlerOptions {
  logger?: Logger;
  /** Folder relative `callback` specifiers are resolved against: the config file's folder. */
  baseDir?: string;
}

export function createEventHandler(
  name: string,
  config: EventHandlerConfig,
  options: CreateEventHandlerOptions = {},
): EventHandler {
  const logger = options.logger ?? silentLogger;
  switch (config.class) {
    case "http":
      return new HttpEventHandler(name, {
        url: config.url,
        logger,
        ...(config.secret !== undefined ? { secret: config.secret } : {}),
        ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
        ...(config.format !== undefined ? { format: config.format } : {}),
        ...(config.headers !== undefined ? { headers: config.headers } : {}),
      });
    case "script":
      return new ScriptEventHandler(name, {
        script: config.script,
        logger,
        ...(config.log_output !== undefined ? { log_output: config.log_output } : {}),
        ...(config.env !== undefined ? { env: config.env } : {}),
        ...(config.pass_env !== undefined ? { pass_env: config.pass_env } : {}),
        ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
      });
    case "in-process":
      return new InProcessEventHandler(name, {
        callback: config.callback,
        ...(options.baseDir !== undefined ? { baseDir: options.baseDir } : {}),
        ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
      });
    case "redis-stream": {
      const { class: _, subscribe: __, ...options } = config;
      return new RedisStreamEventHandler(name, { ...options, logger });
    }
    case "amqp": {
      const { class: _, subscribe: __, ...options } = config;
      return new AmqpEventHandler(name, { ...options, logger });
    }
    case "nats": {
      const { class: _, subscribe: __, ...options } = config;
      return new NatsEventHandler(name, { ...options, logger });
    }
    default: {
      const unknown = (config as { class?: unknown }).class;
      throw new EventHandlerConfigError(
        `events.${name}.class "${String(unknown)}" is not one of "http", "script", "in-process", "redis-stream", "amqp", "nats"`,
      );
    }
  }
}
