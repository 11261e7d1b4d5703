/**
 * SQLite's WAL checkpoint, off the event loop. By default the connection whose COMMIT takes
 * the WAL past 1,000 pages copies them into the database file and fsyncs it inside that
 * COMMIT: one synchronous call, which held the service's event loop 50–105 ms when another
 * job loaded the disk (issue 14, target 4). With the checkpointer the service's connection
 * never checkpoints (`wal_autocheckpoint = 0`); a worker thread with a connection of its own
 * runs a PASSIVE checkpoint (it waits for no reader or writer) every `intervalMs`, so the
 * fsync blocks only that thread. Commits stay as durable as before: each is in the WAL,
 * synced, before COMMIT returns; the checkpoint only moves pages to the main file.
 *
 * Should the worker stop (it cannot open the file, runs out of memory, is terminated), the
 * service's connection goes back to SQLite's own automatic checkpoint, so the WAL can never
 * grow without bound; the cause is logged.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";
import type { Logger } from "../log.js";

/** SQLite's own default for `wal_autocheckpoint`, restored when the worker stops. */
export const SQLITE_AUTOCHECKPOINT_PAGES = 1000;
/** How often the worker checkpoints: the WAL holds about this long of writes. */
export const CHECKPOINT_INTERVAL_MS = 500;

// CommonJS, evaluated as a worker: no file to ship beside the CLI bundle. The driver's path
// comes from the main thread, so it resolves wherever the package is installed.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.filename, { fileMustExist: true });
db.pragma("busy_timeout = 0");
let copied = 0; // frames of the current WAL already in the database file
const checkpoint = () => {
  const [result] = db.pragma("wal_checkpoint(PASSIVE)");
  if (result && result.checkpointed > 0 && result.checkpointed !== copied) parentPort.postMessage("copied");
  copied = result ? result.checkpointed : 0;
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close(); // the last connection to close checkpoints what is left and removes the WAL
  parentPort.close();
});
`;

export interface SqliteCheckpointer {
  /** The worker (tests stop it to see the fallback). */
  readonly worker: Worker;
  /** Checkpoints so far that copied pages into the database file. */
  readonly checkpoints: () => number;
  /** Stops the worker after closing its connection; call after the service's connection is closed. */
  close(): Promise<void>;
}

/** Moves `sqlite`'s checkpoints to a worker thread with its own connection to `filename`. */
export function startSqliteCheckpointer(
  sqlite: BetterSqlite3.Database,
  filename: string,
  logger: Logger,
  intervalMs = CHECKPOINT_INTERVAL_MS,
): SqliteCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  sqlite.pragma("wal_autocheckpoint = 0");
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver, filename, intervalMs },
    // A checkpoint needs a few MiB at most; a small heap keeps the service's footprint.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 1 },
  });
  // Checkpoints are housekeeping: they must not keep a process alive that forgot close().
  worker.unref();
  let checkpoints = 0;
  let stopped = false;
  worker.on("message", () => {
    checkpoints += 1;
  });
  const fallBack = (err: unknown) => {
    if (stopped) return;
    stopped = true;
    if (!sqlite.open) return;
    sqlite.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    logger.warn({ err, file: filename }, "SQLite checkpoint worker stopped; checkpointing on commit again");
  };
  worker.on("error", fallBack);
  worker.on("exit", (code) => fallBack(new Error(`checkpoint worker exited with code ${code}`)));
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    worker,
    checkpoints: () => checkpoints,
    async close() {
      stopped = true;
      worker.postMessage("close");
      await exited;
    },
  };
}
