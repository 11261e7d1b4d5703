/**
 * Private broker servers for the restart tests: a RabbitMQ node and a nats-server (with
 * JetStream) of their own on free loopback ports and in their own folders, so killing and
 * restarting them never touches the shared servers other test files use. (Redis: see
 * ../../faults/support/external-redis.ts.) Each child runs in its own process group; `kill()`
 * is a crash (SIGKILL of the group), `start()` again brings the same node back on the same
 * port with its data.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../support/ports.js";

/** RabbitMQ's own start script (the /usr/sbin wrapper switches to the rabbitmq user). */
export const RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
export const NATS_SERVER = "/usr/sbin/nats-server";

abstract class PrivateServer {
  #child: ChildProcess | undefined;
  #output = "";
  readonly dir: string;

  protected constructor(
    readonly port: number,
    prefix: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  protected abstract command(): { file: string; args: string[]; env?: NodeJS.ProcessEnv };
  /** Printed once the server accepts clients. */
  protected abstract readonly ready: RegExp;
  protected abstract readonly startTimeoutMs: number;

  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  get output(): string {
    return this.#output;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.#output = "";
    const { file, args, env } = this.command();
    const child = spawn(file, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.#child = child;
    const append = (chunk: Buffer) => {
      this.#output += chunk.toString("utf8");
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const deadline = Date.now() + this.startTimeoutMs;
    while (!this.ready.test(this.#output)) {
      if (!this.running) throw new Error(`${file} exited at start:\n${this.#output.slice(-2000)}`);
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `${file} did not start within ${this.startTimeoutMs / 1000} s:\n${this.#output.slice(-2000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A crash: SIGKILL to the whole process group. */
  kill(): Promise<void> {
    return this.#signal("SIGKILL");
  }

  /** A clean stop (SIGTERM), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => void this.kill(), 15_000);
    await this.#signal("SIGTERM");
    clearTimeout(timer);
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child?.pid || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
    await exited;
  }

  /** Stops the server (if running) and removes its folder. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A RabbitMQ node of its own: node name, AMQP and distribution ports, mnesia and log folders. */
export class PrivateRabbitMq extends PrivateServer {
  protected readonly ready = /Starting broker\.\.\. completed|Server startup complete/;
  protected readonly startTimeoutMs = 60_000;

  private constructor(
    port: number,
    private readonly distPort: number,
  ) {
    super(port, "ca-rabbitmq-");
    writeFileSync(
      join(this.dir, "rabbitmq.conf"),
      `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`,
    );
    writeFileSync(join(this.dir, "enabled_plugins"), "[].\n");
    writeFileSync(join(this.dir, "rabbitmq-env.conf"), "");
  }

  static available(): boolean {
    return existsSync(RABBITMQ_SERVER);
  }

  static async start(): Promise<PrivateRabbitMq> {
    const node = new PrivateRabbitMq(await freePort(), await freePort());
    await node.start();
    return node;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  protected command() {
    return {
      file: RABBITMQ_SERVER,
      args: [],
      env: {
        RABBITMQ_NODENAME: `ca-test-${this.port}@localhost`,
        RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.distPort),
        RABBITMQ_CONF_ENV_FILE: join(this.dir, "rabbitmq-env.conf"),
        RABBITMQ_CONFIG_FILE: join(this.dir, "rabbitmq.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, "enabled_plugins"),
        RABBITMQ_MNESIA_BASE: join(this.dir, "mnesia"),
        RABBITMQ_LOG_BASE: join(this.dir, "log"),
        ERL_EPMD_ADDRESS: "127.0.0.1",
        RABBITMQ_SERVER_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
      },
    };
  }
}

/** A nats-server with JetStream, its own port and store folder, optional user and password. */
export class PrivateNats extends PrivateServer {
  protected readonly ready = /Server is ready/;
  protected readonly startTimeoutMs = 20_000;

  private constructor(
    port: number,
    readonly credentials: { user: string; pass: string },
  ) {
    super(port, "ca-nats-");
    mkdirSync(join(this.dir, "store"));
  }

  static available(): boolean {
    return existsSync(NATS_SERVER);
  }

  static async start(credentials: { user: string; pass: string }): Promise<PrivateNats> {
    const server = new PrivateNats(await freePort(), credentials);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://${this.credentials.user}:${this.credentials.pass}@127.0.0.1:${this.port}`;
  }

  protected command() {
    return {
      file: NATS_SERVER,
      args: [
        "-a",
        "127.0.0.1",
        "-p",
        String(this.port),
        "-js",
        "-sd",
        join(this.dir, "store"),
        "--user",
        this.credentials.user,
        "--pass",
        this.credentials.pass,
      ],
    };
  }
}
