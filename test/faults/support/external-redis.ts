/**
 * A private redis-server child on 127.0.0.1, restartable on the same port: `stop()` is
 * `redis-cli shutdown nosave`, what an operator's restart does; `kill()` is a crash. No
 * persistence, unless `dir` is given: then every write is in the append-only file before
 * Redis answers (appendfsync always), so a crash loses nothing acknowledged.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface PrivateRedisOptions {
  /** Folder for the append-only file: persistence on (see above). */
  dir?: string;
  /** requirepass. */
  password?: string;
}

export class PrivateRedis {
  #child: ChildProcess | undefined;
  #output = "";

  private constructor(
    readonly port: number,
    private readonly options: PrivateRedisOptions,
  ) {}

  static async start(port: number, options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(port, options);
    await redis.start();
    return redis;
  }

  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.#output = "";
    const { dir, password } = this.options;
    const persistence = dir
      ? ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir]
      : ["--appendonly", "no"];
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        ...persistence,
        ...(password ? ["--requirepass", password] : []),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#child = child;
    const append = (chunk: Buffer) => {
      this.#output += chunk.toString("utf8");
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const deadline = Date.now() + 10_000;
    while (!this.#output.includes("Ready to accept connections")) {
      if (!this.running) throw new Error(`redis-server exited at start:\n${this.#output}`);
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`redis-server did not start within 10 s:\n${this.#output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** `redis-cli shutdown nosave`; SIGKILL if it does not exit within 5 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    await this.cli("shutdown", "nosave").catch(() => undefined);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** A crash: SIGKILL. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  /** One redis-cli command against this server; resolves with its stdout. */
  async cli(...args: string[]): Promise<string> {
    const auth = this.options.password ? ["--no-auth-warning", "-a", this.options.password] : [];
    const { stdout } = await run(
      "redis-cli",
      ["-h", "127.0.0.1", "-p", String(this.port), ...auth, ...args],
      {
        timeout: 5000,
      },
    );
    return stdout.trim();
  }

  /** Subscribers of a channel (PUBSUB NUMSUB). */
  async subscribers(channel: string): Promise<number> {
    const reply = await this.cli("pubsub", "numsub", channel);
    return Number(reply.split("\n")[1] ?? "0");
  }
}
