/**
 * Shell script handler: runs `sh -c <script>` once per event with the event in environment
 * variables (the original's names, plus CRYPTOASSETS_EVENT_ID) and waits for it to exit.
 * A non-zero exit is a failed attempt (ScriptNotificationFailed, retried later).
 *
 * The script runs in its own process group so that a timeout kills everything it started
 * (`curl` in a pipeline, a `sleep`), not just the shell: a stuck script must not leave
 * children behind that pile up with every retry.
 */
import { spawn } from "node:child_process";
import { EventHandlerConfigError, ScriptNotificationFailedError } from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import type { CryptoassetsEvent } from "../types.js";
import { type DeliveryResult, type EventHandler, secondsToMs } from "./handler.js";

export interface ScriptEventHandlerOptions {
  script: string;
  /** Log the script's stdout and stderr lines at info level (default false). */
  log_output?: boolean;
  /** Seconds before the script's process group is killed (default 60). */
  timeout?: number;
  logger?: Logger;
}

export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 60;
/** How much of stderr is kept for the failure message. */
const STDERR_TAIL_BYTES = 2048;
/**
 * After the shell exits, how long to wait for its output pipes to close. A background
 * process the script left running may hold them open forever; we do not wait for it.
 */
const PIPE_CLOSE_GRACE_MS = 500;

export class ScriptEventHandler implements EventHandler {
  readonly kind = "script" as const;
  readonly timeoutMs: number;
  private readonly script: string;
  private readonly logOutput: boolean;
  private readonly logger: Logger;
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
  }

  deliver(event: CryptoassetsEvent): Promise<DeliveryResult> {
    const started = performance.now();
    const child = spawn("sh", ["-c", this.script], {
      // detached makes the shell a process-group leader, so -pid reaches all its descendants.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        CRYPTOASSETS_EVENT_NAME: event.event_name,
        CRYPTOASSETS_EVENT_DATA: JSON.stringify(event.data),
        CRYPTOASSETS_EVENT_ID: event.event_id,
      },
    });
    const pid = child.pid;
    if (pid !== undefined) this.running.add(pid);
    const fields = { event_id: event.event_id, pid };
    const stdoutLines = this.logOutput
      ? lineLogger((line) => this.logger.info({ ...fields, stream: "stdout" }, line))
      : undefined;
    const stderrLines = this.logOutput
      ? lineLogger((line) => this.logger.info({ ...fields, stream: "stderr" }, line))
      : undefined;
    let stderrTail = Buffer.alloc(0);
    child.stdout.on("data", (chunk: Buffer) => stdoutLines?.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderrLines?.push(chunk);
      stderrTail = Buffer.concat([stderrTail, chunk]);
      if (stderrTail.length > STDERR_TAIL_BYTES) stderrTail = stderrTail.subarray(-STDERR_TAIL_BYTES);
    });

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
        stdoutLines?.flush();
        stderrLines?.flush();
        child.stdout.destroy();
        child.stderr.destroy();
        const durationMs = performance.now() - started;
        const stderr = stderrTail.toString("utf8").trim();
        const tail = stderr ? `; stderr: ${stderr.slice(-500)}` : "";
        if (spawnError) {
          reject(
            new ScriptNotificationFailedError(`could not start script: ${spawnError.message}`, {
              code: "ESPAWN",
              stderr,
            }),
          );
        } else if (timedOut) {
          reject(
            new ScriptNotificationFailedError(
              `script timed out after ${this.timeoutMs / 1000} s and was killed${tail}`,
              {
                code: "ETIMEDOUT",
                stderr,
              },
            ),
          );
        } else if (exitCode !== 0) {
          const how = exitCode === null ? `was killed by ${signal}` : `exited with code ${exitCode}`;
          reject(
            new ScriptNotificationFailedError(`script ${how}${tail}`, {
              ...(exitCode !== null ? { exitCode } : {}),
              code: exitCode === null ? "ESIGNAL" : "EXIT_CODE",
              stderr,
            }),
          );
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

  /** Kills scripts still running (the service is shutting down; their attempts are retried). */
  async close(): Promise<void> {
    for (const pid of this.running) killGroup(pid);
    this.running.clear();
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Splits a byte stream into lines for the log; a trailing partial line is flushed at the end. */
function lineLogger(log: (line: string) => void): { push(chunk: Buffer): void; flush(): void } {
  let pending = "";
  return {
    push(chunk) {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) log(line);
    },
    flush() {
      if (pending) log(pending);
      pending = "";
    },
  };
}
