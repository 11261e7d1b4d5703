/**
 * The one wait-until helper of the tests and the benchmarks.
 *
 * Polls `probe` every `everyMs` until it yields a value other than `undefined` or `false`, and
 * returns that value. A probe that throws is retried (a server that is not up yet refuses the
 * connection); on timeout the error names what was awaited and the last error seen.
 */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  const name = typeof what === "function" ? what() : what;
  const last =
    lastError === undefined ? "" : ` (last error: ${(lastError as Error).message ?? String(lastError)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${name}${last}`);
}
