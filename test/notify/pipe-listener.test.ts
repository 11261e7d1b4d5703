import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NotifyConfigError, NotifyListenerStartError } from "../../src/errors.js";
import { PipeNotifyListener } from "../../src/notify/pipe-listener.js";
import { waitFor } from "../support/wait.js";
import { captureLogs, randomHash } from "./helpers.js";

const execFileAsync = promisify(execFile);

let dir: string;
let fifo: string;
const listeners: PipeNotifyListener[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "notify-pipe-"));
  fifo = join(dir, "walletnotify");
});

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
  await rm(dir, { recursive: true, force: true });
});

async function startListener(options: { mode?: number; removeOnClose?: boolean } = {}) {
  const values: string[] = [];
  const logs = captureLogs();
  const listener = new PipeNotifyListener(
    { fname: fifo, ...options },
    (value) => {
      values.push(value);
    },
    logs.logger,
  );
  listeners.push(listener);
  await listener.start();
  return { listener, values, logs };
}

/** What bitcoind's `walletnotify=sh -c 'echo %s > fifo'` does: a fresh writer process each time. */
async function echoInto(path: string, text: string): Promise<void> {
  await execFileAsync("sh", ["-c", `printf '%s\\n' "$1" > "$2"`, "sh", text, path]);
}

function pipeHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === "PipeWrap").length;
}

describe("PipeNotifyListener", () => {
  it("creates the FIFO with mode 0600 and reads values from writers that open and close it repeatedly", async () => {
    const { values, listener } = await startListener();
    const info = await stat(fifo);
    expect(info.isFIFO()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    expect(listener.describe()).toBe(`pipe:${fifo}`);

    const txids = Array.from({ length: 6 }, () => randomHash());
    for (const txid of txids) await echoInto(fifo, txid);
    await waitFor("six values", () => values.length === txids.length, 5_000, 10);
    expect(values).toEqual(txids);

    // A later writer, after the pipe sat without writers for a while, still gets through.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const late = randomHash();
    await echoInto(fifo, late.toUpperCase());
    await waitFor("the late value", () => values.length === 7, 5_000, 10);
    expect(values.at(-1)).toBe(late);
  });

  it("receives every line from many concurrent writer processes", async () => {
    const { values } = await startListener();
    const txids = Array.from({ length: 25 }, () => randomHash());
    await Promise.all(txids.map((txid) => echoInto(fifo, txid)));
    // One writer sending several lines at once, with CRLF endings.
    const batch = [randomHash(), randomHash()];
    await execFileAsync("sh", ["-c", `printf '%s\\r\\n%s\\r\\n' "$1" "$2" > "$3"`, "sh", ...batch, fifo]);
    await waitFor("27 values", () => values.length === 27, 5_000, 10);
    expect([...values].sort()).toEqual([...txids, ...batch].sort());
  });

  it("logs and skips invalid and over-long lines, then keeps reading", async () => {
    const { values, logs } = await startListener();
    await echoInto(fifo, "not-a-txid");
    await echoInto(fifo, "");
    await execFileAsync("sh", [
      "-c",
      `head -c 20000 /dev/zero | tr '\\0' 'a' > "$1"; echo >> "$1"`,
      "sh",
      fifo,
    ]);
    await execFileAsync("sh", ["-c", `head -c 3000 /dev/urandom > "$1"; echo >> "$1"`, "sh", fifo]);
    const txid = randomHash();
    await echoInto(fifo, txid);
    await waitFor("the valid value after the garbage", () => values.length === 1, 5_000, 10);
    expect(values).toEqual([txid]);
    const messages = logs.lines.map((line) => line.msg);
    expect(messages).toContain("skipped an invalid line in the notify pipe");
    expect(messages).toContain("skipped an over-long line in the notify pipe");
    expect(
      (logs.lines.find((line) => line.msg === "skipped an invalid line in the notify pipe")?.err as Error)
        ?.message,
    ).toMatch(/"not-a-txid" is not a txid/);
  });

  it("replaces a stale regular file and refuses a directory", async () => {
    await writeFile(fifo, "left over from an old run\n");
    await startListener({ mode: 0o620 });
    const info = await stat(fifo);
    expect(info.isFIFO()).toBe(true);
    expect(info.mode & 0o777).toBe(0o620);

    const blocked = join(dir, "a-directory");
    await mkdir(blocked);
    const listener = new PipeNotifyListener({ fname: blocked }, () => {});
    await expect(listener.start()).rejects.toThrow(NotifyListenerStartError);
    await expect(listener.start()).rejects.toThrow(/is not a FIFO or regular file; refusing to replace it/);
    expect(() => new PipeNotifyListener({ fname: "" }, () => {})).toThrow(NotifyConfigError);
    expect(() => new PipeNotifyListener({ fname: fifo, mode: 0o1777 }, () => {})).toThrow(/mode must be/);
  });

  it("reuses an existing FIFO so a writer already blocked on it is delivered", async () => {
    await execFileAsync("mkfifo", ["-m", "644", fifo]);
    const txid = randomHash();
    // This writer blocks in open() until a reader appears, like a notify command run while the service was down.
    const writer = spawn("sh", ["-c", `echo ${txid} > "${fifo}"`], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => writer.on("exit", (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 100));

    const { values } = await startListener();
    await waitFor("the value from the blocked writer", () => values.length === 1, 5_000, 10);
    expect(values).toEqual([txid]);
    expect(await exited).toBe(0);
    expect((await stat(fifo)).mode & 0o777).toBe(0o600);
  });

  it("close() stops reading promptly, releases the pipe handle and leaves the FIFO unless asked", async () => {
    // Let pipe handles of earlier child processes finish closing before counting.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = pipeHandles();
    const { listener, values } = await startListener();
    expect(pipeHandles()).toBe(before + 1);
    await echoInto(fifo, randomHash());
    await waitFor("one value", () => values.length === 1, 5_000, 10);

    const started = Date.now();
    await listener.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await waitFor("the FIFO handle to be released", () => pipeHandles() === before, 1_000, 10);
    expect((await stat(fifo)).isFIFO()).toBe(true);
    await listener.close(); // twice is harmless

    // A new listener on the same path picks up where the old one stopped.
    const second = await startListener({ removeOnClose: true });
    const txid = randomHash();
    await echoInto(fifo, txid);
    await waitFor("a value on the second listener", () => second.values.length === 1, 5_000, 10);
    expect(second.values).toEqual([txid]);
    expect(values).toHaveLength(1);
    await second.listener.close();
    await expect(stat(fifo)).rejects.toThrow(/ENOENT/);
  });
});

/**
 * The 0600 default is safer than the original's 0703, and locks out a bitcoind that runs as
 * another user: the start-up log must say so, and how to set `mode`. A process named
 * bitcoind (a copy of sleep) runs as `nobody` to stand for such a daemon.
 */
describe.skipIf(process.getuid?.() !== 0)(
  "PipeNotifyListener and bitcoind's user (needs root to run as nobody)",
  () => {
    const NOBODY = 65534;
    let daemon: ReturnType<typeof spawn> | undefined;

    beforeEach(async () => {
      const bin = join(dir, "bin");
      await mkdir(bin, { mode: 0o755 });
      await execFileAsync("chmod", ["755", dir]);
      await execFileAsync("cp", ["/bin/sleep", join(bin, "bitcoind")]);
      daemon = spawn(join(bin, "bitcoind"), ["30"], { uid: NOBODY, gid: NOBODY, stdio: "ignore" });
      await waitFor("the stand-in bitcoind", () => daemon?.pid !== undefined, 5_000, 10);
      await new Promise((resolve) => setTimeout(resolve, 100)); // exec done: /proc shows its name
    });
    afterEach(() => {
      daemon?.kill("SIGKILL");
    });

    const warningOf = (logs: ReturnType<typeof captureLogs>) =>
      logs.lines
        .filter((line) => line.level === 40 && line.daemonPid === daemon?.pid)
        .map((line) => line.msg);

    it("warns that bitcoind cannot write to a 0600 pipe, and how to set mode", async () => {
      const { logs } = await startListener();
      expect(warningOf(logs)).toEqual([
        `bitcoind (pid ${daemon?.pid}) runs as uid ${NOBODY} and cannot write to the notify pipe ${fifo} ` +
          "(owner uid 0, mode 0600): set walletnotify.mode (blocknotify.mode), e.g. 0620 with bitcoind's user " +
          "in the pipe owner's group, or 0622 to let any local user write txids (the original's default was 0703)",
      ]);
    });

    it("says nothing when the mode lets bitcoind write", async () => {
      const { logs } = await startListener({ mode: 0o622 });
      expect(logs.lines.some((line) => line.msg === "listening for notifications on a named pipe")).toBe(
        true,
      );
      expect(warningOf(logs)).toEqual([]);
    });
  },
);
