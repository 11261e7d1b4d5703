/** Small test utilities for test/notify: controllable promises, captured logs. */
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "../../src/log.js";

export interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface CapturedLog {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Every captured line as raw JSON text, for "never appears in the logs" checks. */
  text(): string;
}

/** A real pino logger at debug level whose JSON lines land in memory. */
export function captureLogs(): CapturedLog {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.length === 0) continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines, text: () => raw.join("\n") };
}

/** A random lowercase 64-hex value, like a txid. */
export function randomHash(): string {
  let out = "";
  for (let i = 0; i < 64; i++) out += Math.floor(Math.random() * 16).toString(16);
  return out;
}
