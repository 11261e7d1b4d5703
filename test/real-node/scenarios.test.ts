/**
 * The real-node scenarios (./support/scenarios.ts), each run twice: against real Bitcoin
 * Core and against the simulator, both behind the real `cryptoassets helper-service` CLI.
 * Each run asserts what a correct service does; then the two runs' ledger rows and txupdate
 * sequences are compared (./support/observation.ts says what is left out and why): any
 * difference is a simulator bug.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithBitcoind } from "../support/bitcoind.js";
import type { ChainKind } from "./support/chain.js";
import { type ScenarioEnv, startScenarioEnv } from "./support/environment.js";
import { type Observation, observe } from "./support/observation.js";
import { ScenarioRun } from "./support/scenario-run.js";
import { SCENARIOS } from "./support/scenarios.js";

const KINDS: ChainKind[] = ["bitcoind", "simulator"];

describeWithBitcoind(
  "real-node scenarios through the helper service, on Bitcoin Core and on the simulator",
  () => {
    const envs = new Map<ChainKind, ScenarioEnv>();
    const observations = new Map<string, Map<ChainKind, Observation>>();

    beforeAll(async () => {
      const started = await Promise.allSettled(KINDS.map((kind) => startScenarioEnv(kind)));
      started.forEach((outcome, index) => {
        if (outcome.status === "fulfilled") envs.set(KINDS[index] as ChainKind, outcome.value);
      });
      const failed = started.find((outcome) => outcome.status === "rejected");
      if (failed) throw failed.reason;
    }, 120_000);

    afterAll(async () => {
      await Promise.allSettled([...envs.values()].map((env) => env.close()));
    }, 60_000);

    for (const scenario of SCENARIOS) {
      for (const kind of KINDS) {
        it(`${scenario.name}, on ${kind}`, async () => {
          const env = envs.get(kind);
          if (!env) throw new Error(`the ${kind} world did not start`);
          const run = new ScenarioRun(env, scenario.id);
          try {
            await scenario.run(run);
          } finally {
            // Observed even when the run failed: the comparison then shows where it went apart.
            const byKind = observations.get(scenario.id) ?? new Map<ChainKind, Observation>();
            byKind.set(kind, await observe(run));
            observations.set(scenario.id, byKind);
          }
        }, 240_000);
      }

      it(`${scenario.name}: the simulator does what Bitcoin Core does`, () => {
        const byKind = observations.get(scenario.id);
        const core = byKind?.get("bitcoind");
        const simulator = byKind?.get("simulator");
        if (!core || !simulator) throw new Error("a run did not get far enough to be observed");
        expect(simulator).toEqual(core);
      });
    }
  },
);
