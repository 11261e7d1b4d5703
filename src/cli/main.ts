/** The `cryptoassets` command line. Each subcommand lives in its own module under src/cli/. */

import { Command } from "commander";
import { VERSION } from "../version.js";
import { registerBroadcastsCommand } from "./broadcasts.js";
import { registerDemoCommand } from "./demo.js";
import { registerEventsCommand } from "./events.js";
import { registerHelperServiceCommand } from "./helper-service.js";
import { registerInitializeDatabaseCommand } from "./initialize-database.js";
import { registerScanReceivedCommand } from "./scan-received.js";
import { registerSimulateBitcoindCommand } from "./simulate-bitcoind.js";
import { registerWalletCommand } from "./wallet-command.js";

const program = new Command("cryptoassets")
  .description("Accept and send cryptocurrency safely: SQL ledger, bitcoind chain following, durable events.")
  .version(VERSION);

registerBroadcastsCommand(program);
registerDemoCommand(program);
registerHelperServiceCommand(program);
registerInitializeDatabaseCommand(program);
registerScanReceivedCommand(program);
registerEventsCommand(program);
registerSimulateBitcoindCommand(program);
registerWalletCommand(program);

await program.parseAsync(process.argv);
