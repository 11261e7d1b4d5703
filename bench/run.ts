/**
 * `npm run bench [-- --events N] [-- --no-postgres]`: prints figures; compares engines and
 * handler mixes in the same run. Targets loopback only and stops by itself.
 * `--only ingest [--ingest-sizes 1000,10000] [--ingest-batches 1,default] [--profile DIR]
 * [--ingest-baseline REF|DIR|none] [--ingest-runs 1]`: deposit ingest (update_batch_size 1, without
 * group commit, vs the default), the service in its own process beside a baseline build's, with a
 * CPU profile of the service over each ingest stretch written to DIR and summarized.
 * `--only tracking [--tracking-sizes 100,1000,10000] [--tracking-runs 3] [--tracking-cap-s 120]
 * [--tracking-strategies block,poll]`: confirmation tracking.
 * `--only events [--events N] [--events-scenario TEXT]`: event delivery (scenarios by label).
 * `--only scan [--scan-sizes 0,100000]`: peak RSS of the first scan, paged vs unpaged.
 * `--only service [--service-baseline REF|none]`: the helper service's start-up CPU, idle and
 * loaded RSS, beside the service of commit REF (default: main before the CLI was bundled).
 * `--only delivery [--delivery-backlog 100000] [--delivery-steady-s 20] [--delivery-dispatchers 1,2,4]
 * [--delivery-baseline DIR] [--delivery-scenario backlog|steady|dispatchers]`: issue 14's delivery
 * targets on PostgreSQL (bench/delivery-targets.ts).
 * `--only scale [--scale-rows 10000000]`: the outbox empty vs with that many delivered events
 * kept, and their retention purge (bench/outbox-scale.ts).
 */
import { cpus, totalmem } from "node:os";
import { confirmationTrackingBench } from "./confirmation-tracking.js";
import { deliveryTargetsBench } from "./delivery-targets.js";
import { depositIngestBench } from "./deposit-ingest.js";
import { eventDeliveryBench } from "./event-delivery.js";
import { outboxScaleBench } from "./outbox-scale.js";
import { dropPostgresDatabases } from "./postgres.js";
import { scanMemoryBench } from "./scan-memory.js";
import { serviceResourcesBench } from "./service-resources.js";

/**
 * main before the CLI was bundled (issue 14, target 5). The earlier 7aa700b (before the lazy
 * drivers) no longer starts on a ledger of today's schema (migration 0006 unknown to it).
 */
const SERVICE_BASELINE = "2feb146";

const args = process.argv.slice(2);
const flag = (name: string) => args.indexOf(name);
const eventsAt = flag("--events");
const events = eventsAt >= 0 ? Number(args[eventsAt + 1]) : 2000;
const only = flag("--only") >= 0 ? args[flag("--only") + 1] : undefined;
/** The value after `name`, or undefined. */
const option = (name: string) => (flag(name) >= 0 ? args[flag(name) + 1] : undefined);
const postgresUrl =
  flag("--no-postgres") >= 0
    ? undefined
    : (process.env.CRYPTOASSETS_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test");

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
);
const sizesAt = flag("--ingest-sizes");
const sizes =
  sizesAt >= 0
    ? String(args[sizesAt + 1])
        .split(",")
        .map(Number)
    : [1000, 10_000];
if (!only || only === "ingest") {
  console.log(`\n== deposit ingest through the HTTP walletnotify listener ==`);
  const profileAt = flag("--profile");
  await depositIngestBench({
    sizes,
    postgresUrl,
    profileDir: profileAt >= 0 ? String(args[profileAt + 1] ?? ".") : undefined,
    batches:
      flag("--ingest-batches") >= 0
        ? String(args[flag("--ingest-batches") + 1])
            .split(",")
            .map((b) => (b === "default" ? "default" : Number(b)))
        : undefined,
    baseline: option("--ingest-baseline"),
    runs: option("--ingest-runs") === undefined ? undefined : Number(option("--ingest-runs")),
  });
}

if (!only || only === "tracking") {
  const trackingAt = flag("--tracking-sizes");
  const trackingSizes =
    trackingAt >= 0
      ? String(args[trackingAt + 1])
          .split(",")
          .map(Number)
      : [100, 1000, 10_000];
  const runsAt = flag("--tracking-runs");
  const capAt = flag("--tracking-cap-s");
  console.log(`\n== confirmation tracking: K open deposits, one new block, block-driven vs polling ==`);
  await confirmationTrackingBench({
    sizes: trackingSizes,
    postgresUrl,
    runs: runsAt >= 0 ? Number(args[runsAt + 1]) : undefined,
    capSeconds: capAt >= 0 ? Number(args[capAt + 1]) : undefined,
    strategies:
      flag("--tracking-strategies") >= 0
        ? (String(args[flag("--tracking-strategies") + 1]).split(",") as Array<"block" | "poll">)
        : undefined,
    profileDir: flag("--profile") >= 0 ? String(args[flag("--profile") + 1] ?? ".") : undefined,
  });
}

if (!only || only === "events") {
  console.log(`\n== event delivery (${events} events per scenario) ==`);
  const scenarioAt = flag("--events-scenario");
  await eventDeliveryBench({
    events,
    postgresUrl,
    scenario: scenarioAt >= 0 ? args[scenarioAt + 1] : undefined,
  });
}

if (!only || only === "service") {
  console.log("\n== helper service resources (real child process) ==");
  const baselineAt = flag("--service-baseline");
  const baselineRef = baselineAt >= 0 ? String(args[baselineAt + 1]) : SERVICE_BASELINE;
  await serviceResourcesBench({
    depositsPerSecond: 20,
    seconds: 60,
    baselineRef: baselineRef === "none" ? undefined : baselineRef,
  });
}

if (!only || only === "scan") {
  const scanAt = flag("--scan-sizes");
  const scanSizes =
    scanAt >= 0
      ? String(args[scanAt + 1])
          .split(",")
          .map(Number)
      : [0, 100_000];
  console.log("\n== first scan of a large wallet: peak RSS of scan-received, paged vs unpaged ==");
  await scanMemoryBench({ sizes: scanSizes });
}

if ((!only || only === "delivery") && postgresUrl) {
  const backlog = Number(option("--delivery-backlog") ?? 100_000);
  console.log(
    `\n== delivery targets on PostgreSQL (issue 14: backlog ${backlog}, steady 500/s, shared outbox) ==`,
  );
  try {
    await deliveryTargetsBench({
      postgresUrl,
      backlog,
      steadySeconds: Number(option("--delivery-steady-s") ?? 20),
      dispatchers: String(option("--delivery-dispatchers") ?? "1,2,4")
        .split(",")
        .map(Number),
      baseline: option("--delivery-baseline"),
      scenario: option("--delivery-scenario"),
    });
  } finally {
    await dropPostgresDatabases(postgresUrl);
  }
}

if (only === "scale" && postgresUrl) {
  const rows = Number(option("--scale-rows") ?? 1_000_000);
  console.log(`\n== outbox at scale on PostgreSQL (issue 14: empty vs ${rows} delivered events kept) ==`);
  try {
    await outboxScaleBench({ postgresUrl, rows });
  } finally {
    await dropPostgresDatabases(postgresUrl);
  }
}
