/**
 * Replays the recorded Bitcoin Core v29 regtest session (/work/shared/bitcoind) against the
 * simulator and compares every response with the recording: HTTP status, error code and
 * message, the key set and key order of every object (recursively), JSON value types,
 * the number of decimals of every number (amounts print with exactly 8), and the values
 * that are deterministic for the scenario (amounts, fees, confirmations, categories,
 * heights, and ids once mapped from the recording's to the simulator's).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLosslessNumber, parse } from "lossless-json";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { call, result } from "./rpc-client.js";

const SAMPLES = process.env.BITCOIND_SAMPLES ?? "/work/shared/bitcoind";

interface Sample {
  file: string;
  request: { path: string; method: string; params: unknown[] };
  http_status: number;
  raw_response: string;
}

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
/** Arrays in an order bitcoind does not define (it iterates an unordered map). */
const UNORDERED = new Set(["transactions", "removed"]);

function sortKey(entry: unknown): string {
  const record = entry as Record<string, unknown>;
  return `${String(record.txid)}|${String(record.category)}|${String(record.amount)}`;
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

function loadSamples(): Sample[] {
  return readdirSync(SAMPLES)
    .filter((file) => /^\d\d-.*\.json$/.test(file))
    .sort()
    .map((file) => ({
      file,
      ...(JSON.parse(readFileSync(join(SAMPLES, file), "utf8")) as Omit<Sample, "file">),
    }));
}

describe.runIf(existsSync(SAMPLES))("responses match the recorded Bitcoin Core v29 session", () => {
  let sim: Simulator;
  let dir: string;
  const ids = new Map<string, string>();
  const map = (text: string) => {
    let out = text;
    for (const [recorded, ours] of ids) out = out.replaceAll(recorded, ours);
    return out;
  };
  const learn = (recorded: unknown, ours: unknown) => {
    if (typeof recorded === "string" && typeof ours === "string") ids.set(recorded, ours);
    if (Array.isArray(recorded) && Array.isArray(ours)) {
      recorded.forEach((r, i) => {
        learn(r, ours[i]);
      });
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "simulator-shape-"));
    // The same commands the recorded daemon ran.
    sim = await startSimulator({
      port: 0,
      walletNotify: `echo %s %w >> ${dir}/walletnotify.log`,
      blockNotify: `echo %s >> ${dir}/blocknotify.log`,
    });
  });
  afterAll(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("detects a wrong shape (the comparison can fail)", () => {
    const recorded = parse('{"amount":1.50000000,"details":[{"vout":0,"abandoned":false}],"txid":"aa"}');
    expect(
      shapeDiff(
        recorded,
        parse('{"amount":1.50000000,"details":[{"vout":0,"abandoned":false}],"txid":"aa"}'),
      ),
    ).toEqual([]);
    expect(
      shapeDiff(recorded, parse('{"amount":1.5,"details":[{"vout":0,"abandoned":false}],"txid":"aa"}')),
    ).not.toEqual([]);
    expect(
      shapeDiff(
        recorded,
        parse('{"amount":"1.50000000","details":[{"vout":0,"abandoned":false}],"txid":"aa"}'),
      ),
    ).not.toEqual([]);
    expect(
      shapeDiff(recorded, parse('{"amount":1.50000000,"details":[{"vout":0}],"txid":"aa"}')),
    ).not.toEqual([]);
    expect(
      shapeDiff(
        recorded,
        parse('{"txid":"aa","amount":1.50000000,"details":[{"vout":0,"abandoned":false}]}'),
      ),
    ).not.toEqual([]);
    expect(shapeDiff(recorded, parse('{"amount":1.50000000,"details":[],"txid":"aa"}'))).not.toEqual([]);
  });

  it("replays every recorded request with the same status, error and shape", async () => {
    const samples = loadSamples();
    expect(samples.length).toBeGreaterThanOrEqual(46);
    const failures: string[] = [];
    let premined = false;
    for (const sample of samples) {
      const number = Number(sample.file.slice(0, 2));
      if (number >= 8 && !premined) {
        // The recording mined 101 blocks to the payer between samples 07 and 08.
        const payerAddress = ids.get("bcrt1qndamp9rzqwtdy8ywmlwlmwfwnatupju3acu94j") as string;
        await result(sim, "generatetoaddress", [101, payerAddress]);
        premined = true;
      }
      const { request } = sample;
      const reply = await call(sim, request.method, map(JSON.stringify(request.params)), request.path);
      const recorded = parse(sample.raw_response) as {
        result: unknown;
        error: { code: unknown; message: string } | null;
      };
      const ours = reply.body as { result: unknown; error: { code: unknown; message: string } | null };
      const where = `${sample.file}`;
      if (reply.status !== sample.http_status)
        failures.push(`${where}: HTTP ${reply.status} != ${sample.http_status}`);
      if (!reply.text.endsWith("\n"))
        failures.push(`${where}: reply should end with a newline like bitcoind's`);
      const recordedMapped = parse(map(sample.raw_response)) as typeof recorded;
      for (const diff of shapeDiff(recordedMapped, ours)) failures.push(`${where}: ${diff}`);
      if (recorded.error === null && ours.error === null) learn(recorded.result, ours.result);
      if (sample.request.method === "getblock") {
        learn((recorded.result as { tx: unknown }).tx, (ours.result as { tx: unknown }).tx);
      }
    }
    expect(failures).toEqual([]);

    // walletnotify and blocknotify fired in the recorded order, for the same wallets.
    await sim.notificationsIdle();
    const recordedBlocks = readFileSync(join(SAMPLES, "blocknotify.log"), "utf8").trim().split("\n");
    for (let height = 1; height <= 101; height++) {
      ids.set(recordedBlocks[height - 1] as string, (await result(sim, "getblockhash", [height])) as string);
    }
    const recordedWallet = readFileSync(join(SAMPLES, "walletnotify.log"), "utf8").trim().split("\n");
    for (let height = 1; height <= 101; height++) {
      const block = (await result(sim, "getblock", [ids.get(recordedBlocks[height - 1] as string)])) as {
        tx: string[];
      };
      ids.set((recordedWallet[height - 1] as string).split(" ")[0] as string, block.tx[0] as string);
    }
    const block103 = (await result(sim, "getblock", [ids.get(recordedBlocks[102] as string)])) as {
      tx: string[];
    };
    ids.set("bf73ae1eda3646cec499f73da99f4cde1e4f437ac5d84c13538e57765ee0f5c1", block103.tx[0] as string);
    const ourBlocks = readFileSync(join(dir, "blocknotify.log"), "utf8").trim().split("\n");
    const ourWallet = readFileSync(join(dir, "walletnotify.log"), "utf8").trim().split("\n");
    expect(ourBlocks).toEqual(recordedBlocks.map(map));
    expect(ourWallet).toEqual(recordedWallet.map(map));
  });
});
