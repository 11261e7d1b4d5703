/**
 * The helper service under fire: the real CLI (`bin/cryptoassets.js helper-service`) as a
 * child process, SIGKILLed on demand and restarted with the same command and config, like
 * systemd's Restart= would. An exit nobody asked for is recorded (and the service restarted)
 * so the campaign can report it.
 */
import type { ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import { type CliProcess, runCli } from "../../service/support.js";

/**
 * Every child process of the campaign (simulators, services), so that none outlives it: a
 * seed closes its own, the suite's afterAll kills what is left, and if the test process
 * exits anyway (a timeout tearing the worker down) the exit hook SIGKILLs them.
 */
const children = new Set<ChildProcess>();
let exitHook = false;

/**
 * Niceness of the campaign's children: twenty worlds of Node processes would otherwise take
 * both cores from test files running beside the campaign (the demo's and the dashboard's
 * timing tests failed under it); the campaign only waits a little longer.
 */
const NICENESS = Number(process.env.CRYPTOASSETS_KILL_NICE ?? 10);

export function trackChild(child: ChildProcess): void {
  children.add(child);
  if (child.pid !== undefined && NICENESS > 0) {
    try {
      setPriority(child.pid, NICENESS);
    } catch {
      // not permitted here: run at normal priority
    }
  }
  child.once("exit", () => children.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const c of children) c.kill("SIGKILL");
    });
  }
}

/** SIGKILLs every child still running; returns how many there were. */
export function killAllChildren(): number {
  const alive = [...children];
  for (const child of alive) child.kill("SIGKILL");
  return alive.length;
}

/** An absolute time limit shared by every wait of a seed. */
export class Deadline {
  constructor(readonly at: number) {}

  /** `ms`, or less if the deadline comes first (never negative). */
  bound(ms: number): number {
    return Math.max(0, Math.min(ms, this.at - Date.now()));
  }

  check(what: string): void {
    if (Date.now() >= this.at) throw new Error(`time budget of the campaign used up ${what}`);
  }
}

export interface Exit {
  /** Exit code or signal name. */
  code: number | string;
  /** Milliseconds the process had been running. */
  uptimeMs: number;
  /** The last lines it wrote. */
  tail: string;
}

export interface KillRecord {
  /** Milliseconds after the spawn of the killed process. */
  atMs: number;
  /** The `msg` of the last log line written before the kill: where the service was. */
  lastMessage: string;
}

/** The `msg` of the last complete JSON log line in `output` (the service logs pino JSON lines). */
export function lastLogMessage(output: string): string {
  const lines = output.split("\n");
  lines.pop(); // incomplete (or empty) last line
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    if (!line.startsWith("{")) continue;
    try {
      const parsed = JSON.parse(line) as { msg?: unknown };
      if (typeof parsed.msg === "string") return parsed.msg;
    } catch {
      // a line cut by the kill
    }
  }
  return "(no log line yet: still loading)";
}

interface LineWaiter {
  message: string;
  resolve: (line: string) => void;
}

export class SupervisedService {
  #process: CliProcess | undefined;
  #spawnedAt = 0;
  #firstLogAt: number | undefined;
  #waiters = new Set<LineWaiter>();
  #expectingExit = false;
  #stopped = false;
  readonly unexpectedExits: Exit[] = [];
  starts = 0;
  /** Per start: milliseconds from the spawn to "helper service running" (undefined: never got there). */
  readonly startupMs: Array<number | undefined> = [];
  /** Per start: "ms-after-spawn msg" of every log line (for a slow or failed start). */
  readonly timelines: string[][] = [];
  /** Per start: everything the process wrote (kept for a failing seed's report). */
  readonly outputs: Array<() => string> = [];

  constructor(
    private readonly configPath: string,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  get process(): CliProcess {
    if (!this.#process) throw new Error("service not started");
    return this.#process;
  }

  get spawnedAt(): number {
    return this.#spawnedAt;
  }

  /** When the current process wrote its first log line (undefined: not yet). */
  get firstLogAt(): number | undefined {
    return this.#firstLogAt;
  }

  start(): CliProcess {
    const cli = runCli(["helper-service", this.configPath], this.env);
    trackChild(cli.child);
    this.#process = cli;
    this.#spawnedAt = Date.now();
    this.#firstLogAt = undefined;
    this.#expectingExit = false;
    this.starts++;
    const spawnedAt = this.#spawnedAt;
    const startIndex = this.startupMs.length;
    this.startupMs.push(undefined);
    const timeline: string[] = [];
    this.timelines.push(timeline);
    this.outputs.push(() => cli.output());
    // Log lines as they arrive, for kills aimed right behind a given line.
    let partial = "";
    cli.child.stdout?.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      if (this.#process !== cli) return;
      for (const line of lines) {
        const ms = Date.now() - spawnedAt;
        if (this.#firstLogAt === undefined && matches(line, "*")) this.#firstLogAt = Date.now();
        timeline.push(`${ms} ${lastLogMessage(`${line}\n`)}`);
        if (line.includes(`"msg":"helper service running"`)) this.startupMs[startIndex] = ms;
        for (const waiter of this.#waiters) {
          if (matches(line, waiter.message)) {
            this.#waiters.delete(waiter);
            waiter.resolve(line);
          }
        }
      }
    });
    void cli.exited.then((code) => {
      if (this.#process !== cli || this.#expectingExit || this.#stopped) return;
      this.unexpectedExits.push({ code, uptimeMs: Date.now() - spawnedAt, tail: tail(cli.output()) });
      // Like Restart=on-failure: come back, the campaign goes on and reports the exit.
      setTimeout(() => {
        if (this.#process === cli && !this.#stopped) this.start();
      }, 300);
    });
    return cli;
  }

  /**
   * Resolves at the next log line with this `msg` ("*": any log line) written by the current process after this
   * call (or, with `alreadyWritten`, immediately when one was written already); false after
   * `timeoutMs` without one.
   */
  nextLine(message: string, timeoutMs: number, alreadyWritten = false): Promise<boolean> {
    if (
      alreadyWritten &&
      this.process
        .output()
        .split("\n")
        .some((line) => matches(line, message))
    )
      return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: LineWaiter = {
        message,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** SIGKILL now; resolves once the process is gone. */
  async kill(): Promise<KillRecord> {
    const cli = this.process;
    this.#expectingExit = true;
    const atMs = Date.now() - this.#spawnedAt;
    const lastMessage = lastLogMessage(cli.output());
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
    await cli.exited;
    return { atMs, lastMessage };
  }

  /**
   * SIGTERM (graceful), SIGKILL after `graceMs`; resolves with the exit code. `forGood: false`
   * for a pause (an operator's maintenance): start() brings it back.
   */
  async stop(graceMs = 10_000, forGood = true): Promise<number | string> {
    this.#stopped = forGood;
    const cli = this.#process;
    if (!cli) return "never started";
    this.#expectingExit = true;
    if (cli.child.exitCode !== null || cli.child.signalCode !== null) return cli.exited;
    cli.child.kill("SIGTERM");
    const timer = setTimeout(() => cli.child.kill("SIGKILL"), graceMs);
    const code = await cli.exited;
    clearTimeout(timer);
    return code;
  }
}

/** A pino JSON line with this `msg` ("*": any). */
function matches(line: string, message: string): boolean {
  return message === "*"
    ? line.startsWith("{") && line.includes(`"msg":"`)
    : line.includes(`"msg":"${message}"`);
}

function tail(output: string, lines = 15): string {
  return output.split("\n").slice(-lines).join("\n");
}
