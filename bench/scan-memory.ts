/**
 * Peak RSS of the first scan (`scan-received` in a child process) of a simulator wallet of
 * N transactions: paged (listtransactions, 1000 per page: the default) beside the unpaged
 * baseline (one listsinceblock reply, as before issue 10's fault 5), same wallet, same run.
 * An empty wallet's scan gives the CLI's own footprint.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator } from "../src/simulator/index.js";
import { measureScan, seedLargeWallet } from "../test/chain/support/scan-memory.js";
import { row } from "./support.js";

/** From dist-bench/bench/: the repository's bin/. */
const CLI = join(import.meta.dirname, "../../bin/cryptoassets.js");

export async function scanMemoryBench(options: { sizes: number[] }): Promise<void> {
  for (const size of options.sizes) {
    const dir = mkdtempSync(join(tmpdir(), "ca-bench-scan-"));
    const sim = await startSimulator({ port: 0 });
    try {
      const seeded = await seedLargeWallet(sim, dir, size);
      const runs = [
        { label: "paged (1000 per page)", pageSize: 1000, maxReplyMb: 16 },
        { label: "unpaged (baseline)", pageSize: 0, maxReplyMb: 4096 },
      ];
      for (const { label, ...scan } of runs) {
        const run = await measureScan(sim, seeded, dir, { ...scan, cli: CLI });
        row(`${seeded.transactions} wallet txs, ${label}`, {
          peak_rss_mib: String(run.peakRssMiB),
          seconds: run.seconds,
          scanned: String(run.scanned),
        });
      }
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
