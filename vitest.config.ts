import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Rebuilds dist/ when stale: the CLI suites spawn bin/ → dist/.
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Database suites share real servers; files run in parallel but each file uses its own database.
    fileParallelism: true,
    // Two files at a time: on the 2-core CI machine the default (cores - 1) runs the suite serially;
    // four at once timed out spawn-heavy files. CRYPTOASSETS_TEST_WORKERS overrides.
    maxWorkers: Number(process.env.CRYPTOASSETS_TEST_WORKERS ?? 2),
    reporters: ["default"],
  },
});
