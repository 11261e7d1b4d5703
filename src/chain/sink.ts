/**
 * Where chain updates put their txupdate events: the outbox (src/events/outbox/outbox.ts)
 * satisfies this structurally. The events are written in the same serializable transaction
 * as the ledger change, and `notifyCommitted` wakes a local dispatcher after the commit.
 */
import { breathe } from "../db/bulk.js";
import type { Trx } from "../db/serializable.js";
import type { NewEvent } from "../events/outbox/write-events.js";
import type { TxUpdateData } from "../events/types.js";
import type { LedgerContext } from "../ledger/context.js";
import type { Ledger } from "../ledger/ledger.js";

export interface TxUpdateSink {
  /** Writes one txupdate event per payload inside `trx`. */
  writeTxUpdates(trx: Trx, updates: readonly TxUpdateData[]): Promise<unknown>;
  /** Writes events of any kind inside `trx` (sendfailed, …). */
  write(trx: Trx, events: readonly NewEvent[]): Promise<unknown>;
  /** Called once after a transaction that wrote events has committed. */
  notifyCommitted(): void;
}

/**
 * Runs `fn` in one serializable ledger transaction, writes the txupdate payloads it returns
 * through the sink in that same transaction, and wakes the sink after the commit.
 * `fn` may run more than once (serialization retries): it must only touch the database.
 */
export async function commitWithEvents(
  ledger: Ledger,
  sink: TxUpdateSink,
  fn: (trx: Trx, ctx: LedgerContext) => Promise<TxUpdateData[]>,
): Promise<TxUpdateData[]> {
  const updates = await ledger.run(async (trx, ctx) => {
    const produced = await fn(trx, ctx);
    if (produced.length > 0) {
      await sink.writeTxUpdates(trx, produced);
      // SQLite: the COMMIT is one more synchronous call; not in the same turn as the inserts.
      await breathe(ctx.engine);
    }
    return produced;
  });
  if (updates.length > 0) sink.notifyCommitted();
  return updates;
}
