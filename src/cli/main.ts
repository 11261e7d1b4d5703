/** The `cryptoassets` command line. Each subcommand lives in its own module under src/cli/. */
import { Command } from "commander";

const program = new Command("cryptoassets")
  .description("Accept and send cryptocurrency safely: SQL ledger, bitcoind chain following, durable events.")
  .version("0.1.0");

program
  .command("demo")
  .description("run the embedded demo (SQLite + bundled regtest simulator)")
  .option("--once", "stop after the demo deposit is final")
  .action(() => {
    console.log("cryptoassets demo: not built yet — the helper-service issue makes it real.");
    console.log("What exists now: the coin registry (amounts, address validation).");
  });

await program.parseAsync(process.argv);
