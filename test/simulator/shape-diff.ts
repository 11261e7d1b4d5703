/**
 * Compares a JSON-RPC reply of the simulator with one recorded from real Bitcoin Core: the
 * key set and key order of every object (recursively), JSON value types, the number of
 * decimals of every number (amounts print with exactly 8), and the values that are
 * deterministic for a scripted session (amounts, fees, confirmations, categories, heights,
 * error codes and messages, and ids once mapped from the recording's to the simulator's).
 */
import { isLosslessNumber } from "lossless-json";

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (isLosslessNumber(value)) return "number";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Keys whose values are deterministic for the recorded scenario (after id mapping). */
const COMPARED_VALUES = new Set([
  "",
  "amount",
  "fee",
  "confirmations",
  "category",
  "blockheight",
  "height",
  "blockindex",
  "trusted",
  "bip125-replaceable",
  "ismine",
  "solvable",
  "iswatchonly",
  "isscript",
  "iswitness",
  "witness_version",
  "ischange",
  "isvalid",
  "chain",
  "blocks",
  "headers",
  "nTx",
  "abandoned",
  "label",
  "txid",
  "blockhash",
  "lastblock",
  "previousblockhash",
  "hash",
  "address",
  "bits",
  "target",
  "chainwork",
  "version",
  "versionHex",
  "nonce",
  "untrusted_pending",
  "immature",
  "name",
  "code",
  "message",
  "hdkeypath",
  "initialblockdownload",
  "pruned",
]);

/** Arrays whose length legitimately differs from the recording. */
const FREE_LENGTH = new Set(["warnings"]);
/**
 * Arrays in an order bitcoind does not define: listsinceblock iterates an unordered map, and
 * `details` (like the entries of one transaction anywhere) follow vout order, which bitcoind
 * shuffles when it builds a transaction. Compared sorted (ids are mapped before comparing,
 * so both sides sort alike).
 */
export const UNORDERED = new Set(["transactions", "removed", "details"]);

function sortKey(entry: unknown): string {
  const record = entry as Record<string, unknown>;
  return `${String(record.txid)}|${String(record.category)}|${String(record.amount)}|${String(record.address)}`;
}

/** Differences between a recorded value and the simulator's; empty when they match. */
export function shapeDiff(expected: unknown, actual: unknown, path = "$", key = ""): string[] {
  const te = typeOf(expected);
  const ta = typeOf(actual);
  if (te !== ta) return [`${path}: expected ${te}, got ${ta}`];
  if (te === "object") {
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    const ek = Object.keys(e);
    const ak = Object.keys(a);
    if (ek.join(",") !== ak.join(",")) return [`${path}: keys [${ek.join(",")}] != [${ak.join(",")}]`];
    return ek.flatMap((k) => shapeDiff(e[k], a[k], `${path}.${k}`, k));
  }
  if (te === "array") {
    let e = expected as unknown[];
    let a = actual as unknown[];
    if (e.length !== a.length && !FREE_LENGTH.has(key)) {
      return [`${path}: expected ${e.length} elements, got ${a.length}`];
    }
    if (UNORDERED.has(key)) {
      e = [...e].sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
      a = [...a].sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
    }
    const n = Math.min(e.length, a.length);
    const diffs: string[] = [];
    for (let i = 0; i < n; i++) diffs.push(...shapeDiff(e[i], a[i], `${path}[${i}]`, key));
    return diffs;
  }
  if (te === "number") {
    const decimals = (text: string) => (text.includes(".") ? (text.split(".")[1] ?? "").length : 0);
    const et = String(expected);
    const at = String(actual);
    if (!/e/i.test(et) && decimals(et) !== decimals(at))
      return [`${path}: number ${at} should print like ${et}`];
  }
  if (COMPARED_VALUES.has(key) && String(expected) !== String(actual)) {
    return [`${path}: expected ${String(expected)}, got ${String(actual)}`];
  }
  return [];
}

/**
 * shapeDiff of two whole JSON-RPC replies to `method`. listtransactions lists entries
 * transaction by transaction in the daemon's order (the product pages through it: that
 * order is compared), and the entries of one transaction in vout order, which bitcoind
 * shuffles (compared sorted).
 */
export function replyDiff(method: string, expected: unknown, actual: unknown): string[] {
  const want = expected as { result?: unknown };
  const have = actual as { result?: unknown };
  if (method !== "listtransactions" || !Array.isArray(want?.result) || !Array.isArray(have?.result)) {
    return shapeDiff(expected, actual);
  }
  const txids = (list: unknown[]) =>
    [...new Set(list.map((entry) => String((entry as { txid?: unknown }).txid)))].join(",");
  const diffs: string[] = [];
  if (txids(want.result) !== txids(have.result)) diffs.push("$.result: transactions in another order");
  diffs.push(...shapeDiff(want.result, have.result, "$.result", "transactions"));
  const { result: _w, ...wantRest } = want;
  const { result: _h, ...haveRest } = have;
  diffs.push(...shapeDiff(wantRest, haveRest));
  return diffs;
}
