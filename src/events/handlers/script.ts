/**
 * Shell script handler: runs `sh -c <script>` once per event with the event in environment
 * variables (the original's names, plus CRYPTOASSETS_EVENT_ID) and waits for it to exit.
 * A non-zero exit is a failed attempt (ScriptNotificationFailed, retried later).
 *
 * The script gets a small environment, not ours: the service's holds the RPC and database
 * passwords, the webhook secret and the admin token. It inherits PATH, HOME, LANG, LC_* and
 * CRYPTOASSETS_* only, plus what the handler config lists (`env`, `pass_env`). Its stderr
 * goes to our log; the failure recorded for the delivery (shown on the dashboard and
 * /status.json) says only how it ended.
 *
 * The script runs in its own process group so that a timeout kills everything it started
 * (`curl` in a pipeline, a `sleep`), not just the shell: a stuck script must not leave
 * children behind that pile up with every retry.
 */

import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { HANDLER_TIMEOUTS } from "../../config/defaults.js";
import { EventHandlerConfigError, ScriptNotificationFailedError } from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import { cleanExternalText } from "../../redact/external-text.js";
import type { CryptoassetsEvent } from "../types.js";
import { type DeliveryResult, type EventHandler, secondsToMs } from "./handler.js";

export interface ScriptEventHandlerOptions {
  script: string;
  /** Log the script's stdout and stderr lines at info level (default false). */
  log_output?: boolean;
  /** Seconds before the script's process group is killed (default 60). */
  timeout?: number;
  /** Variables set for the script, e.g. `{ SHOP_API: "https://…" }`. */
  env?: Record<string, string>;
  /** Variables of the service's environment passed on as they are, e.g. `["TZ"]`. */
  pass_env?: readonly string[];
  logger?: Logger;
}

export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = HANDLER_TIMEOUTS.script;
/** Variables every script inherits from the service (with LC_* and CRYPTOASSETS_*): none holds a secret. */
export const SCRIPT_INHERITED_ENV = ["PATH", "HOME", "LANG"] as const;
const INHERITED_PATTERN = /^(LC_[A-Z_]+|CRYPTOASSETS_\w+)$/;
/** Set per event; the handler config may not replace them. */
const EVENT_VARIABLES = ["CRYPTOASSETS_EVENT_NAME", "CRYPTOASSETS_EVENT_DATA", "CRYPTOASSETS_EVENT_ID"];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** How much of stderr is kept for the log line of a failure. */
const STDERR_TAIL_BYTES = 2048;
/** Longest stdout/stderr line logged with log_output; the rest of the line is counted, not kept. */
export const MAX_LOGGED_LINE_CHARS = 4096;
/**
 * After the shell exits, how long to wait for its output pipes to close. A background
 * process the script left running may hold them open forever; we do not wait for it.
 */
const PIPE_CLOSE_GRACE_MS = 500;

/**
 * The script's environment without the event: the allowlist from `from`, then `pass_env`,
 * then `env`. Names in `pass_env` that `from` lacks are returned so the caller can warn.
 */
export function scriptEnvironment(
  name: string,
  options: Pick<ScriptEventHandlerOptions, "env" | "pass_env">,
  from: NodeJS.ProcessEnv,
): { env: Record<string, string>; missing: string[] } {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if ((SCRIPT_INHERITED_ENV as readonly string[]).includes(key) || INHERITED_PATTERN.test(key))
      env[key] = value;
  }
  const missing: string[] = [];
  const check = (key: string, where: string) => {
    if (!ENV_NAME.test(key)) {
      throw new EventHandlerConfigError(
        `events.${name}.${where}: ${JSON.stringify(key)} is not a variable name`,
      );
    }
    if (EVENT_VARIABLES.includes(key)) {
      throw new EventHandlerConfigError(
        `events.${name}.${where}: ${key} is set by the handler for each event`,
      );
    }
  };
  for (const key of options.pass_env ?? []) {
    check(key, "pass_env");
    const value = from[key];
    if (value === undefined) missing.push(key);
    else env[key] = value;
  }
  for (const [key, value] of Object.entries(options.env ?? {})) {
    check(key, "env");
    env[key] = value;
  }
  return { env, missing };
}

export class ScriptEventHandler implements EventHandler {
  readonly kind = "script" as const;
  readonly timeoutMs: number;
  /** The values of its configured `env`: masked in what the script prints to the log. */
  readonly redactions: readonly string[];
  private readonly script: string;
  private readonly logOutput: boolean;
  private readonly logger: Logger;
  private readonly env: Record<string, string>;
  private readonly running = new Set<number>();

  constructor(
    readonly name: string,
    options: ScriptEventHandlerOptions,
  ) {
    if (typeof options.script !== "string" || options.script.trim() === "") {
      throw new EventHandlerConfigError(`events.${name}.script is empty`);
    }
    this.script = options.script;
    this.logOutput = options.log_output ?? false;
    this.timeoutMs = secondsToMs(options.timeout ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS, `events.${name}.timeout`);
    this.logger = (options.logger ?? silentLogger).child({ module: "events.script", handler: name });
    const { env, missing } = scriptEnvironment(name, options, process.env);
    this.env = env;
    this.redactions = Object.values(options.env ?? {});
    for (const key of missing) {
      this.logger.warn(`events.${name}.pass_env names ${key}, which is not set: the script runs without it`);
    }
  }

  deliver(event: CryptoassetsEvent): Promise<DeliveryResult> {
    const started = performance.now();
    const child = this.spawnFor(event);
    const pid = child.pid;
    if (pid !== undefined) this.running.add(pid);
    const fields = { event_id: event.event_id, pid };
    const output = this.captureOutput(child, fields);

    return new Promise<DeliveryResult>((resolve, reject) => {
      let timedOut = false;
      let settled = false;
      let graceTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(pid);
      }, this.timeoutMs);

      const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        if (pid !== undefined) this.running.delete(pid);
        const stderr = output.close();
        const durationMs = performance.now() - started;
        const failure = scriptFailure({ spawnError, exitCode, signal, timedOut, stderr }, this.timeoutMs);
        if (failure) {
          // The operator reads stderr in the log; the delivery record (public) gets only how it ended.
          this.logger.warn(
            {
              ...fields,
              exitCode,
              signal,
              stderr: cleanExternalText(stderr, { maxChars: STDERR_TAIL_BYTES, secrets: this.redactions }),
            },
            "script failed",
          );
          reject(failure);
        } else {
          this.logger.debug({ ...fields, durationMs }, "script succeeded");
          resolve({ durationMs });
        }
      };

      child.on("error", (error) => finish(null, null, error));
      // 'close' (all pipes closed) carries the complete output; 'exit' bounds how long we wait for it.
      child.on("close", (code, signal) => finish(code, signal));
      child.on("exit", (code, signal) => {
        graceTimer = setTimeout(() => finish(code, signal), PIPE_CLOSE_GRACE_MS);
      });
    });
  }

  /** `sh -c <script>` in its own process group, with the event in its environment. */
  private spawnFor(event: CryptoassetsEvent): ChildProcessByStdio<null, Readable, Readable> {
    return spawn("sh", ["-c", this.script], {
      // detached makes the shell a process-group leader, so -pid reaches all its descendants.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...this.env,
        CRYPTOASSETS_EVENT_NAME: event.event_name,
        CRYPTOASSETS_EVENT_DATA: JSON.stringify(event.data),
        CRYPTOASSETS_EVENT_ID: event.event_id,
      },
    });
  }

  /**
   * Logs the script's lines when log_output is on and keeps the tail of stderr; close() flushes,
   * releases the pipes and returns that tail.
   */
  private captureOutput(
    child: ChildProcessByStdio<null, Readable, Readable>,
    fields: Record<string, unknown>,
  ): { close(): string } {
    const lines = (stream: "stdout" | "stderr") =>
      this.logOutput
        ? lineLogger((line) => this.logger.info({ ...fields, stream }, line), this.redactions)
        : undefined;
    const stdoutLines = lines("stdout");
    const stderrLines = lines("stderr");
    let stderrTail = Buffer.alloc(0);
    child.stdout.on("data", (chunk: Buffer) => stdoutLines?.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderrLines?.push(chunk);
      stderrTail = Buffer.concat([stderrTail, chunk]);
      if (stderrTail.length > STDERR_TAIL_BYTES) stderrTail = stderrTail.subarray(-STDERR_TAIL_BYTES);
    });
    return {
      close() {
        stdoutLines?.flush();
        stderrLines?.flush();
        child.stdout.destroy();
        child.stderr.destroy();
        return stderrTail.toString("utf8").trim();
      },
    };
  }

  /** Kills scripts still running (the service is shutting down; their attempts are retried). */
  async close(): Promise<void> {
    for (const pid of this.running) killGroup(pid);
    this.running.clear();
  }
}

/** How the script ended as the delivery's error, or undefined when it succeeded. */
function scriptFailure(
  end: {
    spawnError: Error | undefined;
    exitCode: number | null;
    signal: NodeJS.Signals | null;
    timedOut: boolean;
    stderr: string;
  },
  timeoutMs: number,
): ScriptNotificationFailedError | undefined {
  const { spawnError, exitCode, signal, stderr } = end;
  if (spawnError) {
    return new ScriptNotificationFailedError(`could not start script: ${spawnError.message}`, {
      code: "ESPAWN",
      stderr,
    });
  }
  if (end.timedOut) {
    return new ScriptNotificationFailedError(`script timed out after ${timeoutMs / 1000} s and was killed`, {
      code: "ETIMEDOUT",
      stderr,
    });
  }
  if (exitCode === 0) return undefined;
  const how = exitCode === null ? `was killed by ${signal}` : `exited with code ${exitCode}`;
  return new ScriptNotificationFailedError(`script ${how}`, {
    ...(exitCode !== null ? { exitCode } : {}),
    code: exitCode === null ? "ESIGNAL" : "EXIT_CODE",
    stderr,
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * Splits a byte stream into lines for the log; a trailing partial line is flushed at the end.
 * A line longer than MAX_LOGGED_LINE_CHARS is logged cut, with the count of what was left out:
 * a script printing megabytes without a newline must cost linear work and bounded memory
 * (appending to one growing string and splitting it again per chunk was quadratic).
 */
function lineLogger(
  log: (line: string) => void,
  secrets: readonly string[],
): { push(chunk: Buffer): void; flush(): void } {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  let dropped = 0;
  const emit = () => {
    const line = cleanExternalText(pending, { maxChars: MAX_LOGGED_LINE_CHARS + 1, secrets });
    log(dropped > 0 ? `${line}… (${dropped} more bytes not logged)` : line);
    pending = "";
    dropped = 0;
  };
  const take = (text: string) => {
    const room = MAX_LOGGED_LINE_CHARS - pending.length;
    if (text.length <= room) pending += text;
    else {
      pending += text.slice(0, Math.max(0, room));
      dropped += Buffer.byteLength(text.slice(Math.max(0, room)), "utf8");
    }
  };
  return {
    push(chunk) {
      const text = decoder.write(chunk);
      let start = 0;
      for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", start)) {
        take(text.slice(start, newline));
        emit();
        start = newline + 1;
      }
      take(text.slice(start));
    },
    flush() {
      take(decoder.end());
      if (pending || dropped) emit();
    },
  };
}
