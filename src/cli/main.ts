/** The `cryptoassets` command line. Each subcommand lives in its own module under src/cli/. */

import { Command } from "commander";
import { VERSION } from "../version.js";

type Register = (program: Command) => void;

/**
 * Every subcommand's module, in the order `--help` lists them. Only the one named on the
 * command line is imported (all of them for help or an unknown name): a helper service does
 * not load the simulator, the demo or the operator commands, nor what they import.
 */
const COMMANDS = new Map<string, () => Promise<Register>>([
  ["broadcasts", async () => (await import("./broadcasts.js")).registerBroadcastsCommand],
  ["demo", async () => (await import("./demo.js")).registerDemoCommand],
  ["helper-service", async () => (await import("./helper-service.js")).registerHelperServiceCommand],
  [
    "initialize-database",
    async () => (await import("./initialize-database.js")).registerInitializeDatabaseCommand,
  ],
  ["scan-received", async () => (await import("./scan-received.js")).registerScanReceivedCommand],
  ["events", async () => (await import("./events.js")).registerEventsCommand],
  ["simulate-bitcoind", async () => (await import("./simulate-bitcoind.js")).registerSimulateBitcoindCommand],
  ["wallet", async () => (await import("./wallet-command.js")).registerWalletCommand],
]);

const program = new Command("cryptoassets")
  .description("Accept and send cryptocurrency safely: SQL ledger, bitcoind chain following, durable events.")
  .version(VERSION);

const named = COMMANDS.get(process.argv[2] ?? "");
for (const register of await Promise.all((named ? [named] : [...COMMANDS.values()]).map((load) => load())))
  register(program);

await program.parseAsync(process.argv);
