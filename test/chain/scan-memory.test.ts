/**
 * Fault 5 of issue 10: the first scan asked for the whole wallet history in one reply (a
 * 43 MB listsinceblock cost +689 MB RSS). It now pages (listtransactions), so its memory is
 * that of one page whatever the wallet's size. Here: a simulator wallet of 100,000
 * transactions, scanned by the real `scan-received` CLI in a child process whose peak RSS
 * is measured and reported (bench/scan-memory.ts prints it beside the unpaged baseline).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { measureScan, type SeededWallet, seedLargeWallet } from "./support/scan-memory.js";

const TRANSACTIONS = Number(process.env.SCAN_MEMORY_TX ?? 100_000);
/**
 * The paged scan's peak stays near an idle CLI's (~100 MiB); the unpaged one of the same
 * wallet reads a ~45 MB reply and peaks far above this (see bench/README.md).
 */
const PEAK_RSS_BOUND_MIB = 300;

describe(`the first scan of a wallet of ${TRANSACTIONS} transactions`, () => {
  let sim: Simulator | undefined;
  let seeded: SeededWallet | undefined;
  const dir = mkdtempSync(join(tmpdir(), "ca-scan-memory-"));

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    seeded = await seedLargeWallet(sim, dir, TRANSACTIONS);
  }, 600_000);

  afterAll(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pages: bounded peak RSS, every transaction scanned, every deposit credited", async () => {
    const run = await measureScan(sim as Simulator, seeded as SeededWallet, dir, {
      pageSize: 1000,
      maxReplyMb: 16,
    });
    console.log(
      `[scan-memory] paged scan (1000 per page) of ${run.scanned} wallet transactions: peak RSS ${run.peakRssMiB} MiB, ${run.seconds.toFixed(1)} s`,
    );
    expect(run.scanned).toBeGreaterThanOrEqual(TRANSACTIONS);
    expect(run.credited).toEqual((seeded as SeededWallet).deposits);
    expect(run.peakRssMiB).toBeGreaterThan(0);
    expect(run.peakRssMiB).toBeLessThan(PEAK_RSS_BOUND_MIB);
  }, 900_000);
});
