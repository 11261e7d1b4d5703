import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Database suites share real servers; files run in parallel but each file uses its own database.
    fileParallelism: true,
    reporters: ["default"],
  },
});
