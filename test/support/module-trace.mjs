/**
 * Which modules a child process loads, for tests that a part is not loaded at all. Preload it
 * with NODE_OPTIONS="--import <this file's URL>" and MODULE_TRACE_FILE=<path>: every module the
 * process imports (a resolve hook, in the loader's thread) and every CommonJS file it requires
 * (listed as it exits) is appended to the file, one file: URL a line.
 */
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";

let traceFile;

if (isMainThread && process.env.MODULE_TRACE_FILE) {
  const file = process.env.MODULE_TRACE_FILE;
  register(import.meta.url, { data: { file } });
  const required = createRequire(import.meta.url).cache;
  process.once("exit", () => {
    appendFileSync(
      file,
      Object.keys(required)
        .map((path) => `${pathToFileURL(path).href}\n`)
        .join(""),
    );
  });
}

/** Hook: runs in the loader's thread with the file given to register(). */
export function initialize(data) {
  traceFile = data.file;
}

/** Hook: records where each import resolved to. */
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(traceFile, `${resolved.url}\n`);
  return resolved;
}
