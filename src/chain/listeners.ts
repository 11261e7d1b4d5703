/**
 * walletnotify / blocknotify listener specs (as the configuration spells them) → listener
 * objects from src/notify. Listeners are created here but started by the caller.
 */

import { type Logger, silentLogger } from "../log.js";
import { HttpNotifyListener } from "../notify/http-listener.js";
import type { NotifyCallback, NotifyListener } from "../notify/listener.js";
import { PipeNotifyListener } from "../notify/pipe-listener.js";
import { RedisNotifyListener } from "../notify/redis-listener.js";

export type NotifySpec =
  | { class: "http"; ip?: string; port?: number }
  | { class: "pipe"; fname: string; mode?: number }
  | { class: "redis"; host?: string; port?: number; password?: string; db?: number; channel?: string };

export function createNotifyListener(
  spec: NotifySpec,
  onValue: NotifyCallback,
  logger: Logger = silentLogger,
): NotifyListener {
  switch (spec.class) {
    case "http":
      return new HttpNotifyListener({ ip: spec.ip, port: spec.port }, onValue, logger);
    case "pipe":
      return new PipeNotifyListener({ fname: spec.fname, mode: spec.mode }, onValue, logger);
    case "redis":
      return new RedisNotifyListener(
        { host: spec.host, port: spec.port, password: spec.password, db: spec.db, channel: spec.channel },
        onValue,
        logger,
      );
  }
}
