/**
 * `npm run bench [-- --events N] [-- --no-postgres]`: prints figures; compares engines and
 * handler mixes in the same run. Targets loopback only and stops by itself.
 */
import { cpus, totalmem } from "node:os";
import { depositIngestBench } from "./deposit-ingest.js";
import { eventDeliveryBench } from "./event-delivery.js";
import { serviceResourcesBench } from "./service-resources.js";

const args = process.argv.slice(2);
const flag = (name: string) => args.indexOf(name);
const eventsAt = flag("--events");
const events = eventsAt >= 0 ? Number(args[eventsAt + 1]) : 2000;
const only = flag("--only") >= 0 ? args[flag("--only") + 1] : undefined;
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
  await depositIngestBench({ sizes, postgresUrl });
}

if (!only || only === "events") {
  console.log(`\n== event delivery (${events} events per scenario) ==`);
  await eventDeliveryBench({ events, postgresUrl });
}

if (!only || only === "service") {
  console.log("\n== helper service resources (real child process) ==");
  await serviceResourcesBench({ depositsPerSecond: 20, seconds: 30 });
}
