/**
 * walletnotify / blocknotify through a named pipe (FIFO), one value per line:
 * `walletnotify=sh -c 'echo %s > /var/run/cryptoassets/walletnotify'`.
 *
 * Robustness choice: we open the FIFO read-write (O_RDWR | O_NONBLOCK) rather than
 * read-only-and-reopen-on-EOF. Holding a write end ourselves means the pipe never reaches
 * EOF when the last outside writer closes, so there is no window between "EOF" and "reopen"
 * in which a new writer's data could be thrown away with the old read end. Linux defines
 * O_RDWR on a FIFO (fifo(7)); the non-blocking fd goes into a net.Socket so reads use the
 * event loop (epoll) instead of parking a libuv thread-pool thread in a blocking read(),
 * which is also what makes close() return promptly.
 *
 * An existing FIFO at `fname` is reused (its mode reset), not replaced: writers bitcoind
 * started while we were down are blocked in open() on that very inode and deliver their
 * txids as soon as we open it; replacing it would strand them. A stale regular file is
 * replaced. close() stops reading and leaves the FIFO in place unless `removeOnClose`.
 *
 * Every writer shares one byte stream, split on "\n": a line over `maxLineLength` is skipped
 * up to its newline (a txid written right after it without one goes with it), and a partial
 * line left by a writer that died is joined to the next line, which is then invalid and
 * skipped. bitcoind's `echo %s > fifo` writes each "<txid>\n" in one atomic write (65 bytes
 * ≤ PIPE_BUF), so well-behaved writers never interleave; memory stays bounded by the limit.
 * (Checked by test/notify/pipe-fuzz.test.ts.)
 */
import { execFile } from "node:child_process";
import { constants as fsConstants, open as openCallback } from "node:fs";
import { chmod, lstat, stat, unlink } from "node:fs/promises";
import { Socket } from "node:net";
import { promisify } from "node:util";
import { errorMessage, NotifyConfigError, NotifyListenerStartError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import { findDaemonProcesses, mayWrite } from "./daemon-processes.js";
import { deliverRawNotifyValue } from "./deliver.js";
import { LineSplitter } from "./line-splitter.js";
import type { NotifyCallback, NotifyListener } from "./listener.js";

const execFileAsync = promisify(execFile);
const openAsync = promisify(openCallback);

export interface PipeNotifyOptions {
  /** Path of the FIFO; created when missing. */
  fname: string;
  /**
   * Permission bits of the FIFO; default 0o600 (only the service user may write txids; the
   * original used 0o703). When a local bitcoind runs as a user who could not write, start()
   * logs a warning saying how to set `mode`.
   */
  mode?: number;
  /** Remove the FIFO on close(); default false. */
  removeOnClose?: boolean;
  /** Longest accepted line in characters; default 1024 (a txid line is 65). */
  maxLineLength?: number;
}

export const DEFAULT_PIPE_NOTIFY_MODE = 0o600;
export const DEFAULT_PIPE_NOTIFY_MAX_LINE = 1024;

export class PipeNotifyListener implements NotifyListener {
  readonly kind = "pipe";
  readonly #fname: string;
  readonly #mode: number;
  readonly #removeOnClose: boolean;
  readonly #maxLineLength: number;
  readonly #onValue: NotifyCallback;
  readonly #logger: Logger;
  #socket: Socket | undefined;

  constructor(options: PipeNotifyOptions, onValue: NotifyCallback, logger: Logger = silentLogger) {
    if (typeof options.fname !== "string" || options.fname.length === 0) {
      throw new NotifyConfigError("pipe notify listener: fname (path of the named pipe) is required");
    }
    this.#fname = options.fname;
    this.#mode = options.mode ?? DEFAULT_PIPE_NOTIFY_MODE;
    if (!Number.isInteger(this.#mode) || this.#mode < 0 || this.#mode > 0o777) {
      throw new NotifyConfigError(
        `pipe notify listener: mode must be permission bits 0..0o777, got ${String(options.mode)}`,
      );
    }
    this.#removeOnClose = options.removeOnClose ?? false;
    this.#maxLineLength = options.maxLineLength ?? DEFAULT_PIPE_NOTIFY_MAX_LINE;
    this.#onValue = onValue;
    this.#logger = logger.child({ module: "notify.pipe" });
  }

  describe(): string {
    return `pipe:${this.#fname}`;
  }

  async start(): Promise<void> {
    if (this.#socket !== undefined) {
      throw new NotifyConfigError(`pipe notify listener ${this.describe()} is already started`);
    }
    await this.#prepareFifo();
    let fd: number;
    try {
      fd = await openAsync(this.#fname, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    } catch (err) {
      throw new NotifyListenerStartError(
        `pipe notify listener could not open ${this.#fname}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    const socket = new Socket({ fd, readable: true, writable: false });
    socket.setEncoding("utf8");
    const splitter = new LineSplitter(this.#maxLineLength, {
      line: (line) => this.#handleLine(line),
      oversized: (chars) =>
        this.#logger.warn(
          { chars, limit: this.#maxLineLength },
          "skipped an over-long line in the notify pipe",
        ),
    });
    socket.on("data", (chunk: string) => splitter.push(chunk));
    socket.on("error", (err) => this.#logger.error({ err, fname: this.#fname }, "notify pipe read failed"));
    this.#socket = socket;
    this.#logger.info(
      { fname: this.#fname, mode: this.#mode.toString(8).padStart(4, "0") },
      "listening for notifications on a named pipe",
    );
    await this.#warnIfDaemonCannotWrite();
  }

  /** A safer default than the original's 0703 is only safe if the operator hears when it locks bitcoind out. */
  async #warnIfDaemonCannotWrite(): Promise<void> {
    const owner = await stat(this.#fname).catch(() => undefined);
    if (owner === undefined) return;
    const mode = (owner.mode & 0o777).toString(8).padStart(4, "0");
    for (const daemon of await findDaemonProcesses()) {
      if (mayWrite(daemon, owner, owner.mode)) continue;
      this.#logger.warn(
        { fname: this.#fname, mode, owner: owner.uid, daemonPid: daemon.pid, daemonUid: daemon.uid },
        `bitcoind (pid ${daemon.pid}) runs as uid ${daemon.uid} and cannot write to the notify pipe ${this.#fname} ` +
          `(owner uid ${owner.uid}, mode ${mode}): set walletnotify.mode (blocknotify.mode), e.g. 0620 with bitcoind's user ` +
          "in the pipe owner's group, or 0622 to let any local user write txids (the original's default was 0703)",
      );
    }
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    await new Promise<void>((resolve) => {
      if (socket.destroyed) {
        resolve();
        return;
      }
      socket.once("close", () => resolve());
      socket.destroy();
    });
    if (this.#removeOnClose) {
      await unlink(this.#fname).catch((err: unknown) =>
        this.#logger.warn({ err, fname: this.#fname }, "could not remove the notify pipe"),
      );
    }
    this.#logger.info({ fname: this.#fname }, "stopped listening on the named pipe");
  }

  #handleLine(line: string): void {
    if (line.trim().length === 0) return;
    deliverRawNotifyValue(this.#onValue, line, this.#logger, "skipped an invalid line in the notify pipe");
  }

  /** Makes sure a FIFO with our mode exists at fname, replacing a stale regular file. */
  async #prepareFifo(): Promise<void> {
    const existing = await lstat(this.#fname).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw new NotifyListenerStartError(
        `pipe notify listener cannot inspect ${this.#fname}: ${err.message}`,
        { cause: err },
      );
    });
    if (existing?.isFIFO()) {
      try {
        await chmod(this.#fname, this.#mode);
      } catch (err) {
        throw new NotifyListenerStartError(
          `pipe notify listener cannot set mode ${this.#mode.toString(8)} on existing FIFO ${this.#fname}: ${errorMessage(err)}`,
          { cause: err },
        );
      }
      return;
    }
    if (existing?.isFile()) {
      this.#logger.warn({ fname: this.#fname }, "replacing a regular file with the notify pipe");
      await unlink(this.#fname);
    } else if (existing !== undefined) {
      throw new NotifyListenerStartError(
        `pipe notify listener: ${this.#fname} exists and is not a FIFO or regular file; refusing to replace it`,
      );
    }
    try {
      // Node has no mkfifo(3); the coreutils command is everywhere bitcoind runs.
      await execFileAsync("mkfifo", ["-m", this.#mode.toString(8), this.#fname]);
    } catch (err) {
      throw new NotifyListenerStartError(
        `pipe notify listener could not create FIFO ${this.#fname} with mkfifo: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
}
