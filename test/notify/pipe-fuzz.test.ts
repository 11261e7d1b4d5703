/**
 * Hostile input for the named-pipe walletnotify listener, bounded and seeded: writer
 * processes and in-process writers pour random bytes, NULs, invalid UTF-8, CRLF and empty
 * lines, over-long lines (past the 1,024-character limit, and MiBs without a newline) and
 * partial lines from writers killed mid-write into the FIFO, interleaved with real txids.
 * The listener never fails, keeps reading, hands exactly the real txids to the queue, and
 * its memory stays flat (heap measured after forced GC).
 *
 * The contract, from the code (LineSplitter + PipeNotifyListener): the FIFO is one byte
 * stream shared by every writer, split on "\n" (one trailing "\r" dropped). A line is a
 * notification when, trimmed and lowercased, it is exactly 64 hex characters; anything
 * else is logged and skipped. A line longer than the limit is skipped whole, up to and
 * including its newline: a txid written right after an over-long line *without* a newline
 * in between is part of that line and is skipped with it. Likewise a partial line left by
 * a writer that died mid-write is joined to the next writer's line, which is then invalid.
 * bitcoind's `echo %s > fifo` writes "<txid>\n" in one write(2) of 65 bytes, atomic
 * (≤ PIPE_BUF) and newline-terminated, so concurrent well-behaved writers never interleave.
 *
 * Seed: PIPE_FUZZ_SEED (default below); every assertion message carries it.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { type FileHandle, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CoalescingQueue } from "../../src/notify/coalescing-queue.js";
import { DEFAULT_PIPE_NOTIFY_MAX_LINE, PipeNotifyListener } from "../../src/notify/pipe-listener.js";
import { Rng } from "../support/prng.js";
import { waitFor } from "../support/wait.js";

const execFileAsync = promisify(execFile);

const SEED = Number(process.env.PIPE_FUZZ_SEED ?? 0x5eed_2024);
const TAG = `seed ${SEED} (rerun with PIPE_FUZZ_SEED=${SEED})`;
const LIMIT = DEFAULT_PIPE_NOTIFY_MAX_LINE;
/** A write of at most this many bytes to a pipe is atomic (Linux PIPE_BUF). */
const PIPE_BUF = 4096;

const rng = new Rng(SEED);
const rand = () => rng.next();
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
function randomBytes(n: number, { newlines = true } = {}): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    let byte = int(256);
    if (!newlines && byte === 0x0a) byte = 0x0b;
    out[i] = byte;
  }
  return out;
}
const HEX = "0123456789abcdef";
const hex = (n: number) => Array.from({ length: n }, () => HEX[int(16)]).join("");

/** What the README promises a notification is; garbage must never satisfy it. */
const looksValid = (line: string) => /^[0-9a-f]{64}$/.test(line.trim().toLowerCase());

/** A gc() even when vitest runs without --expose-gc. */
setFlagsFromString("--expose-gc");
const gc: () => void = (globalThis as { gc?: () => void }).gc ?? runInNewContext("gc");
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
const MiB = 2 ** 20;

let dir: string;
let fifo: string;
let listener: PipeNotifyListener;
let queue: CoalescingQueue<string>;
/** What reached the queue's worker, in order. */
const received: string[] = [];
const logCounts = new Map<string, number>();
const errorLogs: string[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pipe-fuzz-"));
  fifo = join(dir, "walletnotify");
  // Counts log lines instead of keeping them, so thousands of warnings cost no memory.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.length === 0) continue;
        const entry = JSON.parse(line) as { msg: string; level: number };
        logCounts.set(entry.msg, (logCounts.get(entry.msg) ?? 0) + 1);
        if (entry.level >= 50) errorLogs.push(line);
      }
      callback();
    },
  });
  queue = new CoalescingQueue<string>(
    async (txid) => {
      received.push(txid);
    },
    { concurrency: 4 },
  );
  listener = new PipeNotifyListener(
    { fname: fifo, removeOnClose: true },
    (value) => {
      queue.push(value);
    },
    pino({ level: "warn" }, sink),
  );
  await listener.start();
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await listener?.close();
  await queue?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Writes the whole buffer (a blocking FIFO write may be partial for > PIPE_BUF bytes). */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

async function openWriter(): Promise<FileHandle> {
  // The listener holds the FIFO open for reading, so this does not block.
  return open(fifo, fsConstants.O_WRONLY);
}

/** Resolves once every line written so far has been read: a last txid is delivered. */
async function flushWith(txid: string, expected: string[]): Promise<void> {
  await execFileAsync("sh", ["-c", `echo ${txid} > "$1"`, "sh", fifo]);
  expected.push(txid);
  await waitFor(`sentinel ${txid} (${TAG})`, () => received.includes(txid), 15_000, 10);
  await queue.drain();
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = int(i + 1);
    const item = items[i] as T;
    items[i] = items[j] as T;
    items[j] = item;
  }
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/**
 * One atomic write's worth (≤ PIPE_BUF bytes) of complete lines: garbage of every kind with
 * real txids among them. Returns the bytes and the txids it carries (lowercase).
 */
function hostileBatch(txidShare: number): { bytes: Buffer; txids: string[] } {
  const parts: Buffer[] = [];
  const txids: string[] = [];
  let size = 0;
  const add = (line: Buffer) => {
    if (size + line.length > PIPE_BUF) return false;
    parts.push(line);
    size += line.length;
    return true;
  };
  for (let attempts = 0; attempts < 12; attempts++) {
    if (rand() < txidShare) {
      const txid = hex(64);
      const shown = pick([
        `${txid}\n`,
        `${txid}\r\n`,
        `${txid.toUpperCase()}\n`,
        `  ${txid}\t\n`,
        `\t${txid.slice(0, 32).toUpperCase()}${txid.slice(32)} \r\n`,
      ]);
      if (add(Buffer.from(shown, "latin1"))) txids.push(txid);
      continue;
    }
    const kind = int(11);
    let line: Buffer;
    if (kind === 0) line = Buffer.concat([randomBytes(int(300)), Buffer.from("\n")]);
    else if (kind === 1)
      line = Buffer.concat([Buffer.alloc(1 + int(200)), Buffer.from("\n")]); // NULs
    else if (kind === 2) {
      // Invalid UTF-8 around hex: lone continuation bytes, truncated sequences, overlongs.
      const bad = pick([[0x80], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xff, 0xfe]]);
      line = Buffer.concat([Buffer.from(bad), Buffer.from(hex(64)), Buffer.from(bad), Buffer.from("\n")]);
    } else if (kind === 3) line = Buffer.from(pick(["\n", "\r\n", "   \n", "\t\r\n", "\r\r\n"]));
    else if (kind === 4)
      line = Buffer.from(`${hex(pick([0, 1, 32, 63, 65, 66, 128]))}\n`); // wrong length
    else if (kind === 5) {
      // 64 characters with one that is not hex.
      const txid = hex(64).split("");
      txid[int(64)] = pick(["g", "z", " ", "-", "é", "\u0000", "0x"]);
      line = Buffer.from(`${txid.join("")}\n`);
    } else if (kind === 6)
      line = Buffer.from(`${hex(LIMIT + 1 + int(PIPE_BUF - LIMIT - 200))}\n`); // over-long
    else if (kind === 7)
      line = Buffer.from(`txid=${hex(64)}\n`); // the HTTP form, not the pipe's
    else if (kind === 8)
      line = Buffer.from(`${hex(64)} ${hex(64)}\n`); // two on one line
    else if (kind === 9)
      line = Buffer.from(`${hex(32)}\r${hex(32)}\n`); // CR inside
    else line = Buffer.concat([Buffer.from([0xef, 0xbf, 0xbd]), Buffer.from(`${hex(64)}\u0000\n`)]);
    // Every piece between newlines must be garbage under the contract, whatever the decoder does.
    const pieces = new TextDecoder().decode(line).split("\n");
    if (pieces.some(looksValid)) throw new Error(`generator produced a valid line (${TAG})`);
    add(line);
  }
  return { bytes: Buffer.concat(parts), txids };
}

it("survives concurrent and serial hostile writers, delivers exactly the real txids, memory flat", async () => {
  const started = Date.now();
  const expected: string[] = [];
  const dropped: string[] = [];
  const volume = { processes: 0, inProcessWrites: 0, bytes: 0, oversizedLines: 0 };

  // Warm-up (JIT, first reads), then the baseline heap.
  await flushWith(hex(64), expected);
  const heapBefore = heapAfterGc();

  // Phase 1: many writers at once, each write atomic and newline-terminated.
  const payloadFiles: { path: string; size: number }[] = [];
  for (let i = 0; i < 300; i++) {
    const { bytes, txids } = hostileBatch(0.15);
    const path = join(dir, `payload-${i}`);
    await writeFile(path, bytes);
    payloadFiles.push({ path, size: bytes.length });
    expected.push(...txids);
  }
  const echoTxids = Array.from({ length: 80 }, () => hex(64));
  expected.push(...echoTxids);
  const processJobs: Array<() => Promise<unknown>> = [
    // cat reads the ≤ 4 KiB file in one read and writes it in one write(2).
    ...payloadFiles.map(
      ({ path }) =>
        () =>
          execFileAsync("sh", ["-c", `cat "$1" > "$2"`, "sh", path, fifo]),
    ),
    // Exactly what bitcoind runs.
    ...echoTxids.map((txid) => () => execFileAsync("sh", ["-c", `echo ${txid} > "$1"`, "sh", fifo])),
  ];
  shuffle(processJobs);
  volume.processes += processJobs.length;
  volume.bytes += payloadFiles.reduce((sum, file) => sum + file.size, 0) + echoTxids.length * 65;

  const inProcessBatches = Array.from({ length: 12 }, () =>
    Array.from({ length: 150 }, () => {
      const batch = hostileBatch(0.1);
      expected.push(...batch.txids);
      volume.bytes += batch.bytes.length;
      return batch.bytes;
    }),
  );
  await Promise.all([
    pool(processJobs, 12, async (job) => {
      await job();
    }),
    ...inProcessBatches.map(async (batches) => {
      const handle = await openWriter();
      try {
        for (const bytes of batches) {
          const { bytesWritten } = await handle.write(bytes);
          expect(bytesWritten, TAG).toBe(bytes.length); // ≤ PIPE_BUF: one atomic write
          volume.inProcessWrites++;
        }
      } finally {
        await handle.close();
      }
    }),
  ]);
  await flushWith(hex(64), expected);
  expect([...received].sort(), `phase 1, ${TAG}`).toEqual([...expected].sort());

  // Phase 2: one hostile writer at a time (a line of MiBs is not atomic and would swallow a
  // concurrent writer's line), each followed by txids that show what the contract promises.
  const handle = await openWriter();
  try {
    // 2a. An over-long line far beyond the limit, then a newline: the next line is fine.
    await writeAll(handle, Buffer.concat([Buffer.alloc(5 * MiB, "a"), Buffer.from("\n")]));
    const afterLongLine = hex(64);
    await writeAll(handle, Buffer.from(`${afterLongLine}\n`));
    expected.push(afterLongLine);
    volume.bytes += 5 * MiB + 66;
    volume.oversizedLines++;

    // 2b. 3 MiB of binary without a newline, then a txid: it is the tail of that line, dropped.
    await writeAll(handle, randomBytes(3 * MiB, { newlines: false }));
    const swallowed = hex(64);
    await writeAll(handle, Buffer.from(`${swallowed}\n`));
    dropped.push(swallowed);
    const afterSwallowed = hex(64);
    await writeAll(handle, Buffer.from(`${afterSwallowed}\r\n`));
    expected.push(afterSwallowed);
    volume.bytes += 3 * MiB + 131;
    volume.oversizedLines++;

    // 2c. A flood of empty lines and a MiB of NULs: nothing delivered, nothing kept.
    await writeAll(handle, Buffer.from("\n\r\n".repeat(100_000)));
    await writeAll(handle, Buffer.concat([Buffer.alloc(MiB), Buffer.from("\n")]));
    volume.bytes += 300_000 + MiB + 1;
    volume.oversizedLines++;
  } finally {
    await handle.close();
  }
  await flushWith(hex(64), expected);

  // 2d. A writer process streaming an endless line is killed mid-write; while it streams,
  // the listener's heap does not grow with the line.
  const streamer = spawn(
    process.execPath,
    [
      "-e",
      `const fs = require("node:fs");
       const fd = fs.openSync(process.argv[1], "w");
       const chunk = Buffer.alloc(65536, "x");
       let sent = 0;
       let told = false;
       for (;;) {
         sent += fs.writeSync(fd, chunk);
         if (!told && sent >= 16 * 1048576) {
           told = true;
           process.stdout.write("ready\\n");
         }
       }`,
      fifo,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(streamer);
  const streamerExit = new Promise((resolve) => streamer.on("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    streamer.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    streamer.on("exit", (code) => reject(new Error(`streamer exited early (${code}), ${TAG}`)));
  });
  const heapWhileStreaming = heapAfterGc();
  streamer.kill("SIGKILL");
  await streamerExit;
  children.delete(streamer);
  volume.processes++;
  volume.bytes += 16 * MiB;
  volume.oversizedLines++;
  const afterKilledStreamer = hex(64);
  const next = hex(64);
  await execFileAsync("sh", ["-c", `echo ${afterKilledStreamer} > "$1"; echo ${next} > "$1"`, "sh", fifo]);
  dropped.push(afterKilledStreamer); // ends the endless line the killed writer left open
  expected.push(next);

  // 2e. A short partial line, then the writer dies: the next writer's line is joined to it
  // and rejected (not misread as some other txid); the line after that is delivered.
  const partial = spawn(
    "sh",
    ["-c", `printf '%s' "$1" > "$2"; echo written; exec sleep 30`, "sh", "deadbeef", fifo],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(partial);
  const partialExit = new Promise((resolve) => partial.on("exit", resolve));
  await new Promise<void>((resolve) => partial.stdout?.once("data", () => resolve()));
  partial.kill("SIGKILL");
  await partialExit;
  children.delete(partial);
  volume.processes++;
  const joined = hex(64);
  await execFileAsync("sh", ["-c", `echo ${joined} > "$1"`, "sh", fifo]);
  dropped.push(joined);
  volume.processes += 2;

  // Phase 3: still reading — a last burst from concurrent processes.
  const finalTxids = Array.from({ length: 40 }, () => hex(64));
  await pool(finalTxids, 8, async (txid) => {
    await execFileAsync("sh", ["-c", `echo ${txid} > "$1"`, "sh", fifo]);
  });
  expected.push(...finalTxids);
  volume.processes += finalTxids.length;
  await flushWith(hex(64), expected);

  expect([...received].sort(), `all phases, ${TAG}`).toEqual([...expected].sort());
  expect(new Set(received).size, TAG).toBe(received.length);
  for (const txid of dropped) expect(received, `contract: ${txid} is dropped, ${TAG}`).not.toContain(txid);
  const heapAfter = heapAfterGc();
  const streamingGrowth = (heapWhileStreaming - heapBefore) / MiB;
  const growth = (heapAfter - heapBefore) / MiB;
  // 16 MiB went through as one line while we measured: none of it may be held.
  expect(streamingGrowth, TAG).toBeLessThan(8);
  expect(growth, TAG).toBeLessThan(8);

  expect(errorLogs, TAG).toEqual([]);
  const oversized = logCounts.get("skipped an over-long line in the notify pipe") ?? 0;
  const invalid = logCounts.get("skipped an invalid line in the notify pipe") ?? 0;
  expect(oversized, TAG).toBeGreaterThanOrEqual(volume.oversizedLines);
  expect(invalid, TAG).toBeGreaterThan(1000);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `[figures] pipe listener fuzz (${TAG}): ${volume.processes} writer processes, ${volume.inProcessWrites} in-process writes, ` +
      `${(volume.bytes / MiB).toFixed(1)} MiB, ${expected.length} real txids delivered, ${dropped.length} dropped by contract, ` +
      `${invalid} invalid + ${oversized} over-long lines skipped; heap +${streamingGrowth.toFixed(1)} MiB while a 16 MiB line streamed, ` +
      `+${growth.toFixed(1)} MiB at the end (after GC); ${seconds.toFixed(1)} s`,
  );
}, 60_000);
