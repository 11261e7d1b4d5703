/**
 * Builds a handler from one `events.<name>` entry of the configuration. The config schema
 * (src/config) validates and normalizes the entries, including the original's long class
 * names, into this union; the factory turns them into live handlers.
 */

import type { z } from "zod";
import type { eventHandlerSchema } from "../../config/schema.js";
import { EventHandlerConfigError } from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import { AmqpEventHandler } from "./amqp.js";
import type { EventHandler } from "./handler.js";
import { HttpEventHandler } from "./http.js";
import { InProcessEventHandler } from "./in-process.js";
import { NatsEventHandler } from "./nats.js";
import { RedisStreamEventHandler } from "./redis-stream.js";
import { ScriptEventHandler } from "./script.js";

/**
 * One `events.<name>` entry, as a file or code writes it (defaults apply to what is left out):
 * the schema's input type, so that an option the schema lacks cannot be passed here either.
 */
export type EventHandlerConfig = z.input<typeof eventHandlerSchema>;
export type HttpEventHandlerConfig = Extract<EventHandlerConfig, { class: "http" }>;
export type ScriptEventHandlerConfig = Extract<EventHandlerConfig, { class: "script" }>;
export type InProcessEventHandlerConfig = Extract<EventHandlerConfig, { class: "in-process" }>;
export type RedisStreamEventHandlerConfig = Extract<EventHandlerConfig, { class: "redis-stream" }>;
export type AmqpEventHandlerConfig = Extract<EventHandlerConfig, { class: "amqp" }>;
export type NatsEventHandlerConfig = Extract<EventHandlerConfig, { class: "nats" }>;

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
