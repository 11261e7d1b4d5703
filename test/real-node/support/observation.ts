/**
 * The outcome of a scenario run in a form two runs can be compared in: on the simulator
 * and on real Bitcoin Core, the same script must give the same ledger rows and the same
 * txupdate payloads, in the same order per transaction. What legitimately differs between
 * the two runs is left out or replaced by names:
 *
 * - txids: keys, signatures and block times differ, so every transaction id differs. Txids
 *   are replaced by the name the scenario gave them (`payment`, `send`…).
 * - row ids (transaction, network_transaction) and account ids: rows are created in the
 *   order notifications happen to arrive (two receives of one transaction may be inserted
 *   either way round), so the ids are replaced by the names of the account and address.
 * - addresses: derived from each wallet's own random seed; replaced by their role.
 * - fees: Core's coin selection and the simulator's pick different inputs, so transaction
 *   sizes and fees differ; only whether a fee is booked is compared.
 * - times (credited_at, closed_at, event ids, created_at): wall-clock; only whether set.
 */
import type { TxUpdateData } from "../../../src/events/types.js";
import type { Names, ScenarioRun } from "./scenario-run.js";

export interface Observation {
  /** One line per ledger row of the scenario's accounts, sorted. */
  rows: string[];
  /** Per transaction (type, address, txid name): its txupdates in delivery order. */
  events: Record<string, string[]>;
}

function named<K>(map: Map<K, string>, key: K | null | undefined, what: string): string {
  if (key === null || key === undefined) return "-";
  return map.get(key) ?? `unnamed ${what}`;
}

function eventKey(names: Names, event: TxUpdateData): string {
  return `${event.transaction_type} ${named(names.addresses, event.address, "address")} ${named(names.txids, event.txid, "txid")}`;
}

function eventLine(names: Names, event: TxUpdateData): string {
  return `confirmations=${event.confirmations} credited=${event.credited} amount=${event.amount} account=${named(names.accounts, event.account, "account")} coin=${event.coin_name}`;
}

export async function observe(run: ScenarioRun): Promise<Observation> {
  const { names } = run;
  const rows = (await run.rows()).map((row) =>
    [
      row.type,
      row.state,
      `amount=${String(row.amount)}`,
      `from=${named(names.accounts, row.sending_account_id, "account")}`,
      `to=${named(names.accounts, row.receiving_account_id, "account")}`,
      `address=${named(names.addresses, row.address, "address")}`,
      `tx=${named(names.txids, row.txid, "txid")}`,
      `confirmations=${row.confirmations ?? "-"}`,
      `tracked=${row.tracked ?? "-"}`,
      `credited=${row.credited_at !== null}`,
      `fee=${row.fee === null || row.fee === undefined ? "none" : "booked"}`,
      `closed=${row.closed_at !== null && row.closed_at !== undefined}`,
    ].join(" "),
  );
  const events: Record<string, string[]> = {};
  for (const event of run.delivered()) {
    if (!names.addresses.has(event.address)) continue;
    const key = eventKey(names, event);
    events[key] = [...(events[key] ?? []), eventLine(names, event)];
  }
  return { rows: rows.sort(), events };
}
