/**
 * Claims due deliveries for one handler, honouring per-transaction order.
 *
 * A delivery is claimable when it is pending, due, not leased by a live dispatcher, and it
 * is the head of its ordering key for this handler: no earlier delivery of the same key is
 * still undelivered (pending or dead). So a failing event holds back only the later events
 * of its own transaction — never the whole endpoint — and a handler never sees
 * confirmations N+1 before it accepted N. (graphile-worker solves the same problem with
 * named queues inside its SKIP LOCKED claim; here the queue is the ordering key.)
 *
 * On PostgreSQL the claim is one statement: an UPDATE … RETURNING over a
 * `FOR UPDATE SKIP LOCKED` sub-select, so several dispatchers (several helper services)
 * share one outbox, each row is leased by exactly one, and nobody waits on another's locks.
 * Row re-checks under READ COMMITTED (EvalPlanQual) make the lease test safe. Other engines
 * select then lease in one serializable transaction; they are single-instance deployments.
 *
 * Both probes run on partial indexes that hold only what is still to deliver (migration
 * 0006): the due scan on (handler, next_attempt_at, id) of pending rows, the head test on
 * (handler, ordering_key, id) of undelivered rows. So a claim costs the same with ten
 * million delivered rows kept as with none. The states are SQL literals, not parameters:
 * a planner can only match a partial index's predicate against a constant.
 *
 * The lease (claimed_by/claimed_until) is what makes delivery at-least-once across
 * crashes: a dispatcher that dies mid-delivery simply lets its lease expire and another
 * (or the restarted one) delivers again, with the same event_id.
 */
import { type RawBuilder, sql } from "kysely";
import type { Database } from "../../db/open.js";
import { runSerializable } from "../../db/serializable.js";

export interface ClaimedDelivery {
  delivery_id: number;
  attempts: number;
  event_row_id: number;
  event_id: string;
  event_name: string;
  payload: string;
  created_at: number;
}

/**
 * Ids of the due heads, oldest due first, at most `limit`. The head test is evaluated row
 * by row along the due index, so blocked rows are skipped without a window that a pile of
 * them could fill. It is a scalar sub-select (the key's first undelivered id) rather than a
 * NOT EXISTS: PostgreSQL turns the latter into an anti-join, and with statistics taken while
 * nothing was pending it probed by handler only, reading the whole backlog for each row.
 */
function claimableIds(handler: string, now: number, limit: number, lock: boolean): RawBuilder<unknown> {
  return sql`select c.id from ca_delivery c
    where c.handler = ${handler} and c.state = 'pending' and c.next_attempt_at <= ${now}
      and (c.claimed_until is null or c.claimed_until < ${now})
      and c.id = (
        select min(p.id) from ca_delivery p
        where p.handler = c.handler and p.ordering_key = c.ordering_key and p.state <> 'delivered')
    order by c.next_attempt_at, c.id
    limit ${limit}${lock ? sql` for update of c skip locked` : sql``}`;
}

export async function claimDeliveries(
  database: Database,
  handler: string,
  claimant: string,
  limit: number,
  leaseMs: number,
  now: number = Date.now(),
): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return [];
  const until = now + leaseMs;
  if (database.engine === "postgres") {
    const { rows } = await sql<ClaimedDelivery>`
      update ca_delivery d set claimed_by = ${claimant}, claimed_until = ${until}
      from ca_event e
      where e.id = d.event_row_id and d.id in (${claimableIds(handler, now, limit, true)})
      returning d.id as delivery_id, d.attempts, e.id as event_row_id, e.event_id, e.event_name,
        e.payload, e.created_at`.execute(database.db);
    return rows.sort((a, b) => a.delivery_id - b.delivery_id);
  }
  // SQLite cannot return a joined table's columns from an UPDATE, MariaDB has no UPDATE …
  // RETURNING nor LIMIT in an IN sub-select: read the heads with their events, then lease them.
  return runSerializable(database, async (trx) => {
    const { rows } = await sql<ClaimedDelivery>`
      select d.id as delivery_id, d.attempts, e.id as event_row_id, e.event_id, e.event_name,
        e.payload, e.created_at
      from (${claimableIds(handler, now, limit, false)}) h
      join ca_delivery d on d.id = h.id
      join ca_event e on e.id = d.event_row_id
      order by d.id`.execute(trx);
    if (rows.length > 0) {
      await trx
        .updateTable("ca_delivery")
        .set({ claimed_by: claimant, claimed_until: until })
        .where(
          "id",
          "in",
          rows.map((r) => r.delivery_id),
        )
        .execute();
    }
    return rows;
  });
}

/**
 * Earliest future moment a pending delivery of this handler becomes due (for the retry
 * timer). Deliveries due already are either being delivered or wait behind their key's
 * head, and the outcome of that head wakes the worker.
 */
export async function nextDueAt(
  database: Database,
  handler: string,
  now: number = Date.now(),
): Promise<number | null> {
  const { rows } = await sql<{ next_at: number | null }>`
    select min(next_attempt_at) as next_at from ca_delivery
    where handler = ${handler} and state = 'pending' and next_attempt_at > ${now}`.execute(database.db);
  const value = rows[0]?.next_at;
  return value === null || value === undefined ? null : Number(value);
}
