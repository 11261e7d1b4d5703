/**
 * Replays the recorded Bitcoin Core v29 regtest session (../shared/bitcoind beside the checkout,
 * or $BITCOIND_SAMPLES) against the
 * simulator and compares every response with the recording: HTTP status, error code and
 * message, the key set and key order of every object (recursively), JSON value types,
 * the number of decimals of every number (amounts print with exactly 8), and the values
 * that are deterministic for the scenario (amounts, fees, confirmations, categories,
 * heights, and ids once mapped from the recording's to the simulator's).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "lossless-json";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { call, result } from "./rpc-client.js";
import { replyDiff, shapeDiff } from "./shape-diff.js";

const SAMPLES = process.env.BITCOIND_SAMPLES ?? resolve(import.meta.dirname, "../../../shared/bitcoind");
/** Why the suite skips; undefined when the recording is there. */
const SKIP_REASON = existsSync(SAMPLES)
  ? undefined
  : `no recorded session at ${SAMPLES} (set BITCOIND_SAMPLES or place shared/ beside the checkout)`;
if (SKIP_REASON) console.warn(`[simulator] skipping the recorded-session replay: ${SKIP_REASON}`);

interface Sample {
  file: string;
  request: { path: string; method: string; params: unknown[] };
  http_status: number;
  raw_response: string;
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

describe.skipIf(SKIP_REASON !== undefined)(
  `responses match the recorded Bitcoin Core v29 session${SKIP_REASON ? ` (skipped: ${SKIP_REASON})` : ""}`,
  () => {
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
        for (const diff of replyDiff(request.method, recordedMapped, ours))
          failures.push(`${where}: ${diff}`);
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
        ids.set(
          recordedBlocks[height - 1] as string,
          (await result(sim, "getblockhash", [height])) as string,
        );
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
  },
);
