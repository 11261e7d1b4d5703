/**
 * A scripted regtest session of every RPC the product sends to bitcoind (see
 * src/backends/bitcoind/backend.ts), in the forms it sends them — getnewaddress,
 * validateaddress, getblockchaininfo, gettransaction alone and in a batch, listsinceblock
 * (blockhash, 1, true, true) across a reorg and a double spend, sendmany with a comment,
 * listtransactions ("*", n, skip, true), getbalance — and the errors it must understand.
 *
 * Run against real Bitcoin Core it records the request/response pairs kept in
 * test/fixtures/bitcoind/ (same JSON shape as the shared recordings); run against the
 * simulator it gives the pairs compared with them (compareSessions).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LosslessNumber, parse, stringify } from "lossless-json";
import { waitFor } from "../support/wait.js";
import { replyDiff } from "./shape-diff.js";

export const FIXTURES_DIR = join(import.meta.dirname, "../fixtures/bitcoind");

export interface RecordedPair {
  request: {
    path: string;
    method: string;
    params: unknown[];
    /** A JSON-RPC batch (method "batch"): its calls, in order. */
    batch?: Array<{ method: string; params: unknown[] }>;
  };
  http_status: number;
  raw_response: string;
}

const ROOT = "/";
const PAYER = "/wallet/payer";
const OURS = "/wallet/ours";
const amount = (text: string) => new LosslessNumber(text);
const UNKNOWN_TXID = "0".repeat(64);
/** A mainnet address: valid bech32, wrong network for regtest. */
const MAINNET_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
/** A regtest address of nobody's, fixed so that a message quoting it is the same on every run. */
const FIXED_REGTEST_ADDRESS = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";

/** Runs the session against the daemon at `url` (`http://user:password@127.0.0.1:port/`). */
export async function runProductSession(url: string): Promise<RecordedPair[]> {
  const target = new URL(url);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")}`;
  const pairs: RecordedPair[] = [];
  let id = 0;

  const send = async (path: string, body: unknown, request: RecordedPair["request"]) => {
    const response = await fetch(`http://${target.host}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: auth },
      body: stringify(body) as string,
    });
    const raw = await response.text();
    pairs.push({ request, http_status: response.status, raw_response: raw });
    return raw;
  };

  /** One call; resolves to its result, or undefined when the daemon answered an error. */
  const rpc = async (path: string, method: string, params: unknown[] = []): Promise<unknown> => {
    const raw = await send(path, { jsonrpc: "1.0", id: ++id, method, params }, { path, method, params });
    const reply = parse(raw) as { result: unknown; error: unknown };
    return reply.error === null ? reply.result : undefined;
  };
  /** A call the rest of the session depends on. */
  const must = async (path: string, method: string, params: unknown[] = []): Promise<unknown> => {
    const result = await rpc(path, method, params);
    if (result === undefined) throw new Error(`session: ${method} failed: ${pairs.at(-1)?.raw_response}`);
    return result;
  };
  const batch = async (path: string, calls: Array<{ method: string; params: unknown[] }>) => {
    await send(
      path,
      calls.map((call) => ({ jsonrpc: "1.0", id: ++id, ...call })),
      { path, method: "batch", params: [], batch: calls },
    );
  };
  /**
   * Waits, unrecorded, until our wallet has a payment the payer just made. bitcoind hands a
   * new mempool transaction to each wallet asynchronously (gettransaction in "ours" right
   * after the payer's send can answer -5); the product asks only once walletnotify fired.
   */
  const walletHas = async (txid: string) => {
    const seen = async () => {
      const response = await fetch(`http://${target.host}${OURS}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: auth },
        body: JSON.stringify({ jsonrpc: "1.0", id: "wait", method: "gettransaction", params: [txid] }),
      });
      return ((await response.json()) as { error: unknown }).error === null;
    };
    await waitFor(`session: our wallet to see ${txid}`, seen, 10_000, 20);
  };
  const mine = async (blocks: number, to: string) =>
    (await must(ROOT, "generatetoaddress", [blocks, to])) as string[];

  await rpc(ROOT, "getblockchaininfo");
  await must(ROOT, "createwallet", ["payer"]);
  await must(ROOT, "createwallet", ["ours"]);
  await rpc(ROOT, "listwallets");
  const o1 = String(await must(OURS, "getnewaddress"));
  const o2 = String(await must(OURS, "getnewaddress", ["deposit label"]));
  const o3 = String(await must(OURS, "getnewaddress"));
  const p1 = String(await must(PAYER, "getnewaddress"));
  const p2 = String(await must(PAYER, "getnewaddress"));
  await rpc(OURS, "validateaddress", [o1]);
  await rpc(OURS, "validateaddress", [o1.toUpperCase()]);
  await rpc(OURS, "validateaddress", [MAINNET_ADDRESS]);
  await rpc(OURS, "validateaddress", ["not-an-address"]);
  await mine(101, p1);
  await rpc(OURS, "getbalance");
  await rpc(ROOT, "getblockchaininfo");

  // A deposit, seen in the mempool, then mined.
  const t1 = String(await must(PAYER, "sendtoaddress", [o1, amount("1.5")]));
  await walletHas(t1);
  await rpc(OURS, "gettransaction", [t1]);
  await rpc(OURS, "listsinceblock", ["", 1, true, true]);
  const [b102] = await mine(1, p1);
  // One transaction paying two of our addresses, still unconfirmed; at 10 sat/vB, below our
  // send's 20, so the block puts it second (block order follows the fee rate).
  const t2 = String(
    await must(PAYER, "sendmany", [
      "",
      { [o2]: amount("0.1"), [o3]: amount("0.2") },
      1,
      "",
      [],
      true,
      null,
      "unset",
      10,
    ]),
  );
  await walletHas(t2);
  await rpc(OURS, "gettransaction", [t2]);
  // Our send with its comment (minconf 1: the one confirmed coin pays, so the fee is fixed).
  const s1 = String(
    await must(OURS, "sendmany", ["", { [p1]: amount("0.1"), [p2]: amount("0.2") }, 1, "cryptoassets:ntx:1"]),
  );
  await rpc(OURS, "gettransaction", [s1]);
  await rpc(OURS, "listtransactions", ["*", 500, 0, true]);
  await rpc(OURS, "getbalance");
  await batch(OURS, [
    { method: "gettransaction", params: [t1] },
    { method: "gettransaction", params: [t2] },
    { method: "gettransaction", params: [UNKNOWN_TXID] },
  ]);
  const [b103] = await mine(1, p1);
  await rpc(OURS, "listsinceblock", [b102, 1, true, true]);
  await rpc(ROOT, "getblockchaininfo");

  // Refusals the product must understand.
  await rpc(OURS, "sendmany", ["", { [p1]: amount("0.00000001") }, 1, "cryptoassets:ntx:2"]);
  await rpc(OURS, "sendmany", ["", { [p1]: amount("1000") }, 1, "cryptoassets:ntx:3"]);
  await rpc(OURS, "sendmany", ["", { "not-an-address": amount("0.1") }, 1, "cryptoassets:ntx:4"]);
  await rpc(OURS, "sendmany", ["", { [MAINNET_ADDRESS]: amount("0.1") }, 1, "cryptoassets:ntx:5"]);
  await rpc(OURS, "gettransaction", [UNKNOWN_TXID]);
  await rpc(OURS, "gettransaction", ["zz"]);
  await rpc(OURS, "listsinceblock", [UNKNOWN_TXID, 1, true, true]);
  await rpc("/wallet/nosuch", "getbalance");
  await rpc(ROOT, "getbalance");

  // A reorg: the block holding the deposits and our send leaves the chain, then returns.
  await must(ROOT, "invalidateblock", [b103]);
  await rpc(OURS, "listsinceblock", [b103, 1, true, true]);
  await rpc(OURS, "gettransaction", [s1]);
  await must(ROOT, "reconsiderblock", [b103]);
  await rpc(OURS, "listsinceblock", [b102, 1, true, true]);

  // A double spend: the payer replaces an unconfirmed deposit with a payment to itself.
  const t3 = String(await must(PAYER, "sendtoaddress", [o1, amount("0.3")]));
  await walletHas(t3);
  await rpc(OURS, "gettransaction", [t3]);
  await rpc(PAYER, "bumpfee", [t3, { foo: 1 }]);
  await rpc(PAYER, "bumpfee", [t3, { outputs: [] }]);
  await must(PAYER, "bumpfee", [t3, { outputs: [{ [p2]: amount("0.3") }] }]);
  await mine(1, p1);
  await rpc(OURS, "gettransaction", [t3]);
  await rpc(OURS, "listsinceblock", [b103, 1, true, true]);
  await rpc(OURS, "getbalance");

  // What the broadcaster's isolation relies on: Core refuses a dust output before it looks
  // at the funds, and one address spelled in both cases as a duplicate.
  await rpc(OURS, "sendmany", [
    "",
    { [p1]: amount("0.00000001"), [p2]: amount("1000") },
    1,
    "cryptoassets:ntx:6",
  ]);
  await rpc(OURS, "sendmany", [
    "",
    { [FIXED_REGTEST_ADDRESS]: amount("0.1"), [FIXED_REGTEST_ADDRESS.toUpperCase()]: amount("0.1") },
    1,
    "cryptoassets:ntx:7",
  ]);
  return pairs;
}

/** The ids (txids, block hashes, addresses) a pair's result introduces, to map one run's onto another's. */
function introducedIds(pair: RecordedPair): string[] {
  const reply = parse(pair.raw_response) as { result: unknown; error: unknown };
  if (reply.error !== null && reply.error !== undefined) return [];
  const { result } = reply;
  if (typeof result === "string") return [result];
  if (pair.request.method === "generatetoaddress" && Array.isArray(result)) return result.map(String);
  if (pair.request.method === "bumpfee") return [String((result as { txid: unknown }).txid)];
  return [];
}

/**
 * Differences between a recorded session (real Core) and another run of it (the simulator),
 * pair by pair: HTTP status, the trailing newline, and shapeDiff of the bodies once every
 * id the recording introduced is replaced by the other run's.
 */
export function compareSessions(recorded: RecordedPair[], actual: RecordedPair[]): string[] {
  const failures: string[] = [];
  if (recorded.length !== actual.length) {
    failures.push(`the session made ${actual.length} calls, the recording ${recorded.length}`);
  }
  const ids = new Map<string, string>();
  const map = (text: string) => {
    let out = text;
    for (const [from, to] of ids) out = out.replaceAll(from, to);
    return out;
  };
  recorded.forEach((expected, index) => {
    const got = actual[index];
    const where = `${String(index + 1).padStart(2, "0")}-${expected.request.method}`;
    if (!got) return;
    if (got.request.method !== expected.request.method) {
      failures.push(`${where}: the run called ${got.request.method}`);
      return;
    }
    if (got.http_status !== expected.http_status) {
      failures.push(`${where}: HTTP ${got.http_status} != ${expected.http_status}`);
    }
    if (expected.raw_response.endsWith("\n") !== got.raw_response.endsWith("\n")) {
      failures.push(`${where}: trailing newline differs`);
    }
    const recordedIds = introducedIds(expected);
    const actualIds = introducedIds(got);
    recordedIds.forEach((id, i) => {
      if (actualIds[i] !== undefined) ids.set(id, actualIds[i] as string);
    });
    const diffs = replyDiff(
      expected.request.method,
      parse(map(expected.raw_response)),
      parse(got.raw_response),
    );
    for (const diff of diffs) failures.push(`${where}: ${diff}`);
  });
  return failures;
}

export function readFixtures(dir = FIXTURES_DIR): RecordedPair[] {
  return (
    readdirSync(dir)
      .filter((file) => /^\d\d-.*\.json$/.test(file))
      .sort()
      // Plain JSON.parse: only the method, the status and raw_response (a string) are used.
      .map((file) => JSON.parse(readFileSync(join(dir, file), "utf8")) as RecordedPair)
  );
}

/** Replaces the fixtures with a new recording (one file per pair, NN-method.json). */
export function writeFixtures(pairs: RecordedPair[], dir = FIXTURES_DIR): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  pairs.forEach((pair, index) => {
    const name = `${String(index + 1).padStart(2, "0")}-${pair.request.method}.json`;
    writeFileSync(join(dir, name), `${stringify(pair, undefined, 1)}\n`);
  });
}
