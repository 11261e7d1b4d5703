/**
 * Structured logs with pino: JSON lines by default, human-readable when stdout is a TTY.
 * Modules take a child logger (`logger.child({ module: "notify.http" })`) so every line
 * says where it came from. Secrets never reach a log call: mask them at the source.
 */
import { type Logger, pino } from "pino";

export type { Logger };

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.CRYPTOASSETS_LOG_LEVEL ?? "info";
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({ level, transport: { target: "pino-pretty", options: { colorize: true } } });
  }
  return pino({ level });
}

/** A logger that drops everything: the default for library users who pass none, and for tests. */
export const silentLogger: Logger = pino({ level: "silent" });
