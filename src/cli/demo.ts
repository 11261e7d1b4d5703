/**
 * `cryptoassets demo [--once] [--port-base N] [--db URL|PATH] [--verbose]`: the embedded
 * demo (see src/service/demo.ts). Runs until Ctrl-C; with --once it exits 0 as soon as the
 * demo deposit is final, 1 if something did not happen in time.
 */
import { type Command, InvalidArgumentError } from "commander";
import { errorMessage } from "../errors.js";
import { createLogger } from "../log.js";
import { runDemo } from "../service/demo.js";

function parsePortBase(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65531) {
    throw new InvalidArgumentError(
      "port base must be an integer from 1 to 65531 (five ports from it are used)",
    );
  }
  return port;
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "run the embedded demo: regtest simulator + helper service on SQLite + webhook and script handlers",
    )
    .option("--once", "stop after the demo deposit is final (15 confirmations delivered)")
    .option(
      "--port-base <port>",
      "use ports N..N+4 (simulator, dashboard, webhook receiver, walletnotify, blocknotify) instead of ephemeral ones",
      parsePortBase,
    )
    .option("--db <url-or-path>", "database URL or SQLite file (default: a temp file, removed afterwards)")
    .option("--verbose", "show the helper service's logs")
    .action(async (options: { once?: boolean; portBase?: number; db?: string; verbose?: boolean }) => {
      const controller = new AbortController();
      const onSignal = () => {
        if (controller.signal.aborted) process.exit(130);
        console.log("stopping the demo…");
        controller.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        await runDemo({
          once: options.once === true,
          portBase: options.portBase,
          db: options.db,
          signal: controller.signal,
          logger: createLogger({ level: options.verbose ? "info" : "warn" }),
        });
        process.exitCode = 0;
      } catch (error) {
        console.error(`demo failed: ${errorMessage(error)}`);
        process.exitCode = 1;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      // Handles of the embedded servers are closed; do not wait for idle keep-alive sockets.
      process.exit(process.exitCode ?? 0);
    });
}
