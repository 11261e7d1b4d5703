/**
 * The outbox as the rest of the product sees it: `write` inside a ledger transaction,
 * then `notifyCommitted` after the commit so a local dispatcher wakes at once.
 */
import type { Database } from "../../db/open.js";
import type { Trx } from "../../db/serializable.js";
import { txReplacedFor } from "../replaced.js";
import type { OutboxRecipient } from "../subscription.js";
import type { TxUpdateData } from "../types.js";
import { type NewEvent, type WrittenEvent, writeEvents } from "./write-events.js";

export interface EventSink {
  /** Writes the events in the caller's transaction. */
  write(trx: Trx, events: readonly NewEvent[]): Promise<WrittenEvent[]>;
  /** Call after the transaction that wrote events committed. */
  notifyCommitted(): void;
}

export class Outbox implements EventSink {
  private readonly listeners = new Set<() => void>();
  /** Events written through this outbox (counter for metrics). */
  created = 0;
  readonly recipients: readonly OutboxRecipient[];

  constructor(
    readonly database: Database,
    /**
     * Every handler that may receive events (configured ones and code subscriptions): a
     * name (receives everything) or a name with its subscription.
     */
    recipients: readonly (string | OutboxRecipient)[],
  ) {
    this.recipients = recipients.map((r) =>
      typeof r === "string" ? { name: r } : { name: r.name, subscription: r.subscription },
    );
  }

  async write(trx: Trx, events: readonly NewEvent[]): Promise<WrittenEvent[]> {
    // Counted after commit would be more exact; a rolled-back write is retried and counted again.
    const written = await writeEvents(trx, this.database.engine, this.recipients, events);
    this.created += written.length;
    return written;
  }

  /** For the chain follower: one txupdate per payload, each conflicted one followed by its txreplaced. */
  writeTxUpdates(trx: Trx, updates: readonly TxUpdateData[]): Promise<WrittenEvent[]> {
    return this.write(
      trx,
      updates.flatMap((data): NewEvent[] => {
        const replaced = txReplacedFor(data);
        const update: NewEvent = { event_name: "txupdate", data };
        return replaced ? [update, { event_name: "txreplaced", data: replaced }] : [update];
      }),
    );
  }

  notifyCommitted(): void {
    for (const listener of this.listeners) listener();
  }

  /** The dispatcher subscribes here for in-process wake-ups. */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
