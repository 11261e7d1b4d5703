/** A real pino logger whose JSON lines land in memory, for "was it reported?" checks. */
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "../../../src/log.js";

export function captureLogs(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}
