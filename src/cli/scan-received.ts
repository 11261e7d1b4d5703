/**
 * `cryptoassets scan-received <config>`: catch up on every wallet transaction since the last
 * processed block (the first run reads all of them), for every configured coin or one
 * `--coin`. New deposits, confirmation changes and their txupdate events are written exactly
 * as the helper service would; the events are delivered when the service next runs.
 * Progress goes to stderr as a bar on a terminal; the summary goes to stdout.
 */
import type { Command } from "commander";
import { pino } from "pino";
import type { ScanProgress, ScanResult } from "../chain/scan.js";
import { initializeDatabase } from "../db/initialize.js";
import { ConfigError } from "../errors.js";
import { Outbox } from "../events/outbox/outbox.js";
import { configuredRecipients } from "../events/subscription.js";
import { silentLogger } from "../log.js";
import { CoinRuntime } from "../service/coin-runtime.js";
import { toJson, withDatabase } from "./common.js";

interface ScanOptions {
  coin?: string;
  json?: boolean;
  verbose?: boolean;
}

/** Renders "btc  [██████░░░░]  600/1000 transactions" in place on a TTY. */
export function progressLine(coin: string, progress: ScanProgress, width = 30): string {
  if (progress.phase === "listing") return `${coin}  asking the daemon for wallet transactions…`;
  const fraction = progress.total === 0 ? 1 : progress.done / progress.total;
  const filled = Math.round(fraction * width);
  return `${coin}  [${"█".repeat(filled)}${"░".repeat(width - filled)}]  ${progress.done}/${progress.total} transactions`;
}

function summary(coin: string, result: ScanResult): string {
  const from = result.fromBlock === null ? "the first block (first scan)" : `block ${result.fromBlock}`;
  return (
    `${coin}: ${result.scanned} wallet transaction(s) since ${from}; ` +
    `${result.changed} changed, ${result.events} event(s) written; ` +
    `${result.advanced} open transaction(s) moved to tip ${result.tipHeight}`
  );
}

export function registerScanReceivedCommand(program: Command): void {
  program
    .command("scan-received")
    .description("catch up on wallet transactions since the last processed block (first run: all of them)")
    .argument("<config>", "configuration YAML file")
    .option("--coin <name>", "scan only this coin")
    .option("--json", "machine-readable output")
    .option("--verbose", "log progress details to stderr")
    .action(async (configPath: string, options: ScanOptions) => {
      await withDatabase(configPath, async ({ config, database }) => {
        const names = Object.keys(config.coins).filter(
          (name) => options.coin === undefined || name === options.coin,
        );
        if (names.length === 0) {
          throw new ConfigError(
            `coin ${JSON.stringify(options.coin)} is not configured; configured coins: ${Object.keys(config.coins).join(", ")}`,
          );
        }
        await initializeDatabase(database);
        // Logs go to stderr so stdout stays the summary (or the JSON) alone.
        const logger = options.verbose ? pino({ level: "info" }, pino.destination(2)) : silentLogger;
        const outbox = new Outbox(database, configuredRecipients(config.events));
        const tty = process.stderr.isTTY === true && !options.json;
        const results: Array<{ coin: string } & ScanResult> = [];
        for (const name of names) {
          const coin = config.coins[name];
          if (!coin) continue;
          let runtime: CoinRuntime | undefined;
          try {
            runtime = await CoinRuntime.open({
              name,
              coin,
              service: config.service,
              database,
              sink: outbox,
              logger,
            });
            const result = await runtime.scan((progress) => {
              if (tty) process.stderr.write(`\r\x1b[2K${progressLine(name, progress)}`);
            });
            if (tty) process.stderr.write("\n");
            results.push({ coin: name, ...result });
            if (!options.json) process.stdout.write(`${summary(name, result)}\n`);
          } finally {
            await runtime?.close();
          }
        }
        if (options.json) process.stdout.write(`${toJson(results)}\n`);
      });
    });
}
