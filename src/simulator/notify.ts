/**
 * -walletnotify / -blocknotify: shell commands run through `sh -c`, one after another in
 * the order the chain emitted them, never awaited by the RPC that caused them (bitcoind
 * runs them on detached threads). Placeholders: %s txid or block hash, %w wallet name
 * (shell-quoted, as bitcoind does), %b block hash ("unconfirmed" for a walletnotify of an
 * unconfirmed transaction), %h block height (-1 when unconfirmed).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type Logger, silentLogger } from "../log.js";
import type { BlockRef, ChainListener } from "./chain.js";

/** bitcoind's ShellEscape: single quotes, with embedded ones closed, escaped, reopened. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

export function walletNotifyCommand(
  template: string,
  txid: string,
  wallet: string,
  block: BlockRef | null,
): string {
  return template.replace(/%[swbh]/g, (placeholder) => {
    switch (placeholder) {
      case "%s":
        return txid;
      case "%w":
        return shellQuote(wallet);
      case "%b":
        return block ? block.hash : "unconfirmed";
      default:
        return block ? String(block.height) : "-1";
    }
  });
}

export function blockNotifyCommand(template: string, block: BlockRef): string {
  return template.replace(/%[sbh]/g, (placeholder) =>
    placeholder === "%h" ? String(block.height) : block.hash,
  );
}

/** Runs commands strictly one at a time, in submission order. */
export class CommandQueue {
  private readonly pending: string[] = [];
  private running: ChildProcess | undefined;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly logger: Logger = silentLogger) {}

  enqueue(command: string): void {
    if (this.stopped) return;
    this.pending.push(command);
    if (!this.running) this.runNext();
  }

  private runNext(): void {
    const command = this.pending.shift();
    if (command === undefined || this.stopped) {
      this.running = undefined;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    const child = spawn("sh", ["-c", command], { stdio: "ignore" });
    this.running = child;
    let finished = false;
    const done = (outcome: string | null) => {
      if (finished) return;
      finished = true;
      if (outcome !== null) this.logger.warn({ command, outcome }, "notification command failed");
      this.runNext();
    };
    child.on("error", (err) => done(err.message));
    child.on("exit", (code, signal) =>
      done(code === 0 ? null : signal ? `signal ${signal}` : `exit code ${code}`),
    );
  }

  /** Resolves when every queued command has run. */
  idle(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Let queued commands finish for up to `graceMs`, then kill the running one and drop the rest. */
  async stop(graceMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.idle(), timeout]);
    clearTimeout(timer);
    this.stopped = true;
    this.pending.length = 0;
    this.running?.kill("SIGKILL");
    if (!this.running) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

export interface NotifyOptions {
  walletNotify?: string;
  blockNotify?: string;
  logger?: Logger;
}

/** A ChainListener that turns chain events into notification commands. */
export function notificationListener(queue: CommandQueue, options: NotifyOptions): ChainListener {
  return {
    walletTransaction(wallet, txid, block) {
      if (options.walletNotify) queue.enqueue(walletNotifyCommand(options.walletNotify, txid, wallet, block));
    },
    blockTip(block) {
      if (options.blockNotify) queue.enqueue(blockNotifyCommand(options.blockNotify, block));
    },
  };
}
