/**
 * The start-up scan (`scan-received`, and on every helper-service start): catch up on every
 * wallet transaction since the last processed block — all of them on the first run, page by page — in
 * database batches, reporting progress. It is the block tracker's catch-up forced to run
 * even when the tip has not moved, so both paths apply chain data identically.
 */
import type { BlockConfirmationTracker, ScanProgress, TickResult } from "./tracker.js";

export type { ScanProgress };

export interface ScanResult {
  /** Wallet transactions listed by the daemon since the last processed block. */
  scanned: number;
  /** Open transactions moved forward from the tip height. */
  advanced: number;
  /** txupdate events written. */
  events: number;
  /** Network transactions (txids) that got an event: new deposits or changed confirmations. */
  changed: number;
  tipHeight: number;
  tipHash: string;
  /** Block the scan started from (null: the first scan read everything). */
  fromBlock: string | null;
}

export async function scanReceived(
  tracker: BlockConfirmationTracker,
  options: { onProgress?: (progress: ScanProgress) => void } = {},
): Promise<ScanResult> {
  const result: TickResult = await tracker.tick({ force: true, onProgress: options.onProgress });
  return {
    scanned: result.touched,
    advanced: result.advanced,
    events: result.events,
    changed: result.changed,
    tipHeight: result.tip.height,
    tipHash: result.tip.hash,
    fromBlock: result.previous.lastBlockHash,
  };
}
