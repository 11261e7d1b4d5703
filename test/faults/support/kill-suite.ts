/**
 * The kill campaign as a vitest suite: runs every seed (each in its own world) from one
 * pool, so that the long waits of some seeds (a killed dispatcher's lease) overlap with the
 * work of others; then, per engine, one test per check over all its seeds; and prints the
 * figures.
 *
 * Reproduce a seed: CRYPTOASSETS_KILL_SEEDS=7 npx vitest run test/faults/kill-campaign.test.ts
 * (the plan of a seed is fixed; where a kill lands relative to the service's work still
 * depends on the machine's timing — the printed kill points say where each one landed).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptySeedResult, runSeed, type SeedResult } from "./kill-campaign.js";
import {
  checkBalances,
  checkDeposits,
  checkEvents,
  checkInterrupted,
  checkRun,
  checkSends,
} from "./kill-checks.js";
import { SABOTAGES, sabotageSubject } from "./kill-sabotage.js";
import { Deadline, killAllChildren } from "./kill-service.js";
import type { CampaignEngine } from "./kill-world.js";

/** Seeds at once: most of a seed's time is spent waiting (restarts, the killed dispatcher's lease). */
const CONCURRENCY = Number(process.env.CRYPTOASSETS_KILL_CONCURRENCY ?? 10);
/** Between the first starts, so that process start-ups do not all land at once. */
const STAGGER_MS = 1500;

/**
 * The time budget of the whole campaign. Every wait of every seed ends by then and every
 * process is stopped, so the hook below never times out with children left running; a seed
 * cut short fails the run check and says so. A seed needs ~20-60 s; none starts in the last minute.
 */
const BUDGET_MS = Number(process.env.CRYPTOASSETS_KILL_BUDGET_S ?? 240) * 1000;
const LAST_START_MS = 60_000;
export const CAMPAIGN_TIMEOUT_MS = BUDGET_MS + 40_000;
const CHECK_TIMEOUT_MS = 10_000;

export interface CampaignPart {
  engine: CampaignEngine;
  seeds: number[];
}

function chosenSeeds(defaults: number[]): number[] {
  const override = process.env.CRYPTOASSETS_KILL_SEEDS;
  if (!override) return defaults;
  const chosen = override.split(",").map((s) => Number(s.trim()));
  return defaults.filter((seed) => chosen.includes(seed));
}

/** Runs the seeds of every part, interleaved (one of each engine in turn), CONCURRENCY at a time. */
async function runPool(parts: CampaignPart[], deadline: Deadline): Promise<SeedResult[]> {
  const queue: Array<{ seed: number; engine: CampaignEngine }> = [];
  for (let i = 0; i < Math.max(...parts.map((p) => p.seeds.length)); i++)
    for (const part of parts) {
      const seed = part.seeds[i];
      if (seed !== undefined) queue.push({ seed, engine: part.engine });
    }
  const results: SeedResult[] = [];
  let next = 0;
  const worker = async (slot: number) => {
    await new Promise((r) => setTimeout(r, slot * STAGGER_MS));
    while (next < queue.length) {
      const job = queue[next++] as (typeof queue)[number];
      if (deadline.at - Date.now() < LAST_START_MS) results.push(notStarted(job.seed, job.engine));
      else results.push(await runSeed(job.seed, job.engine, deadline));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, (_, i) => worker(i)));
  return results.sort((a, b) => a.seed - b.seed);
}

function notStarted(seed: number, engine: CampaignEngine): SeedResult {
  return {
    ...emptySeedResult(seed, engine),
    error: `not started: less than ${LAST_START_MS / 1000} s of the ${BUDGET_MS / 1000} s budget left (machine too loaded?)`,
  };
}

function countBy<T>(items: T[], keyOf: (item: T) => string): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${n}× ${key}`)
    .join("; ");
}

function summarize(engine: CampaignEngine, results: SeedResult[]): string {
  const kills = results.flatMap((r) => r.kills);
  const sum = (f: (r: SeedResult) => number) => results.reduce((total, r) => total + f(r), 0);
  const events = results.map((r) => checkEvents(r).figures);
  const broadcasts = sum(
    (r) => r.ledger?.networkTransactions.filter((n) => n.transaction_type === "broadcast").length ?? 0,
  );
  const lines = [
    `kill campaign on ${engine}: ${results.length} seeds (${results.map((r) => r.seed).join(", ")}), ${Math.round(Math.min(...results.map((r) => r.wallMs)) / 1000)}–${Math.round(Math.max(...results.map((r) => r.wallMs)) / 1000)} s per seed`,
    `  kills: ${kills.length} SIGKILLs, ${sum((r) => r.starts)} starts, ${sum((r) => r.unexpectedExits.length)} unexpected exits; kill delay after spawn ${Math.min(...kills.map((k) => k.atMs))}–${Math.max(...kills.map((k) => k.atMs))} ms`,
    `  kill triggers: ${countBy(kills, (k) => k.trigger.replace(/\d+ ms/, "N ms"))}`,
    `  kill points (last log line received before the kill; pino writes asynchronously, the service may have been a step further): ${countBy(kills, (k) => k.lastMessage)}`,
    `  workload: ${sum((r) => r.deposits.length)} deposits, ${sum((r) => r.sends.length)} sends (${sum((r) => r.sendsSkipped)} skipped: no credited balance within 4 s) in ${broadcasts} broadcasts`,
    `  interrupted broadcasts: ${sum((r) => r.interrupted.seen.length)} (recovered automatically ${sum((r) => r.interrupted.recovered.length)}, released and re-sent ${sum((r) => r.interrupted.released.length)}, paid without comment and closed by hand ${sum((r) => r.interrupted.closedByHand.length)}, released by the service ${sum((r) => r.interrupted.releasedByService.length)}; not from a kill ${sum((r) => r.interrupted.withoutKill.length)}); sendmany comments in use: ${results.some((r) => r.commentsInUse)}`,
    `  events: ${events.reduce((t, e) => t + e.events, 0)} txupdates in the outbox, ${events.reduce((t, e) => t + e.deliveries, 0)} deliveries, ${events.reduce((t, e) => t + e.duplicates, 0)} duplicates (same event_id again after a kill)`,
  ];
  const startups = results
    .flatMap((r) => r.startupMs)
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  lines.push(
    `  start to "helper service running": median ${startups[Math.floor(startups.length / 2)]} ms, max ${startups.at(-1)} ms (${startups.length} starts got there)`,
  );
  const caughtUp = results
    .map((r) => r.caughtUpAfterLastKillMs)
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  lines.push(
    `  settle: all final and delivered ${Math.round((caughtUp[Math.floor(caughtUp.length / 2)] ?? 0) / 1000)} s (median; max ${Math.round((caughtUp.at(-1) ?? 0) / 1000)} s) after the last kill; ${results.filter((r) => r.leasedAtSettle > 0).length} seeds had deliveries under lease when the settle began (${sum((r) => r.leasedAtSettle)} in all; a killed dispatcher's lease holds its transaction's events for handler timeout + 30 s)`,
  );
  for (const r of results)
    lines.push(
      `  seed ${r.seed}: ${Math.round(r.wallMs / 1000)} s, kills [${r.kills.map((k) => `${k.atMs} ms ${k.trigger} @ "${k.lastMessage}"${k.interrupted.length ? ` → interrupted ${k.interrupted.join(",")}` : ""}`).join(" | ")}], ${r.deposits.length} deposits, ${r.sends.length} sends, ${checkEvents(r).figures.duplicates} dup${r.error ? " — RUN FAILED" : ""}`,
    );
  return lines.join("\n");
}

export function killCampaign(parts: CampaignPart[]): void {
  const chosen = parts.map((part) => ({ ...part, seeds: chosenSeeds(part.seeds) }));
  const all = chosen.flatMap((part) => part.seeds);

  // Skipped only when CRYPTOASSETS_KILL_SEEDS selects no seed at all (rerunning one seed).
  describe.skipIf(all.length === 0)("SIGKILL campaign", () => {
    let results: SeedResult[] = [];

    beforeAll(async () => {
      const started = Date.now();
      results = await runPool(
        chosen.filter((part) => part.seeds.length > 0),
        new Deadline(started + BUDGET_MS),
      );
      const wall = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `kill campaign: ${results.length} seeds, ${CONCURRENCY} at a time, wall ${wall} s\n${chosen
          .filter((part) => part.seeds.length > 0)
          .map((part) =>
            summarize(
              part.engine,
              results.filter((r) => r.engine === part.engine),
            ),
          )
          .join("\n")}`,
      );
    }, CAMPAIGN_TIMEOUT_MS);

    afterAll(() => {
      const left = killAllChildren();
      // The service's logs of every seed that fails a check (or saw a broadcast interrupted
      // without a kill), for the post-mortem.
      const failing = results.filter(
        (r) =>
          r.interrupted.withoutKill.length > 0 ||
          [
            checkRun,
            checkDeposits,
            checkBalances,
            checkSends,
            checkInterrupted,
            (x: SeedResult) => checkEvents(x).failures,
          ].some((check) => check(r).length > 0),
      );
      if (failing.length > 0) {
        const dir = mkdtempSync(join(tmpdir(), "ca-kill-logs-"));
        for (const r of failing)
          writeFileSync(
            join(dir, `${r.engine}-seed-${r.seed}.log`),
            r.logs.map((log, i) => `=== start ${i + 1} ===\n${log}`).join("\n"),
          );
        console.log(
          `kill campaign: service logs of the failing seeds (${failing.map((r) => r.seed).join(", ")}) in ${dir}`,
        );
      }
      if (left > 0)
        console.log(`kill campaign: ${left} child process(es) still running at the end were killed`);
      for (const r of results)
        if (r.error) console.log(`seed ${r.seed} (${r.engine}) run failed:\n${r.error}`);
      if (process.env.CRYPTOASSETS_KILL_DEBUG)
        for (const r of results)
          for (const [i, timeline] of r.timelines.entries())
            console.log(
              `seed ${r.seed} start ${i + 1} (${r.startupMs[i] ?? "never"} ms):\n  ${timeline.join("\n  ")}`,
            );
    });

    for (const { engine, seeds } of chosen) {
      describe.skipIf(seeds.length === 0)(`on ${engine} (seeds ${seeds.join(", ")})`, () => {
        const each = (check: (r: SeedResult) => string[]) =>
          results.filter((r) => r.engine === engine).flatMap(check);
        const where = `${engine} seeds ${seeds.join(",")} (rerun one: CRYPTOASSETS_KILL_SEEDS=<seed> npx vitest run test/faults/kill-campaign.test.ts)`;

        it(
          "every seed ran: kills at the planned points, restarts, settled, SIGTERM exit 0",
          () => {
            expect(results.filter((r) => r.engine === engine).map((r) => r.seed)).toEqual(seeds);
            expect(each(checkRun), where).toEqual([]);
          },
          CHECK_TIMEOUT_MS,
        );

        it(
          "1. every deposit on chain is in the ledger exactly once, to the satoshi, credited; nothing else",
          () => {
            expect(each(checkDeposits), where).toEqual([]);
          },
          CHECK_TIMEOUT_MS,
        );

        it(
          "2. balances to the satoshi: accounts, addresses, fees, wallet, and the daemon's wallet",
          () => {
            expect(each(checkBalances), where).toEqual([]);
          },
          CHECK_TIMEOUT_MS,
        );

        it(
          "3. no double broadcast: one payment per send's destination, with its amount",
          () => {
            expect(each(checkSends), where).toEqual([]);
          },
          CHECK_TIMEOUT_MS,
        );

        it(
          "4. interrupted broadcasts: none left whose comment the daemon has; the rest released and re-sent once",
          () => {
            expect(each(checkInterrupted), where).toEqual([]);
          },
          CHECK_TIMEOUT_MS,
        );

        it(
          "5. every txupdate delivered at least once, in order per transaction, final state last",
          () => {
            expect(
              each((r) => checkEvents(r).failures),
              where,
            ).toEqual([]);
          },
          CHECK_TIMEOUT_MS,
        );
      });
    }

    describe("each check can fail: a passing seed's facts, broken one way at a time", () => {
      it.for(SABOTAGES)("$name", (sabotage, ctx) => {
        const subject = sabotageSubject(results);
        if (!subject) {
          ctx.skip("no seed passed, so there are no facts of a passing seed to break");
          return;
        }
        const broken = structuredClone(subject);
        expect(sabotage.check(broken), `seed ${subject.seed} before sabotage`).toEqual([]);
        expect(sabotage.apply(broken as Parameters<typeof sabotage.apply>[0]), "something to break").toBe(
          true,
        );
        expect(sabotage.check(broken).length, `seed ${subject.seed}: ${sabotage.name}`).toBeGreaterThan(0);
      });
    });
  });
}
