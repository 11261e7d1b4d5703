/**
 * `cryptoassets helper-service <config.yaml>`: runs the helper service until SIGTERM/SIGINT.
 *
 * Exit codes: 0 after a graceful stop; 1 when it cannot start (bad configuration, database
 * unreachable); 2 when a subsystem died while running (the log says which and why).
 */
import type { Command } from "commander";
import { loadConfigFile } from "../config/load.js";
import { ConfigError } from "../errors.js";
import { createLogger } from "../log.js";
import { startHelperService } from "../service/helper-service.js";

/** Extra time past the grace period before the process exits regardless. */
const HARD_EXIT_MARGIN_MS = 2000;

export function registerHelperServiceCommand(program: Command): void {
  program
    .command("helper-service")
    .description("run the helper service: chain following, broadcasting, event delivery, status server")
    .argument("<config>", "YAML configuration file")
    .action(async (configPath: string) => {
      let config: ReturnType<typeof loadConfigFile>;
      // Logged once the logger exists: its level comes from this very file.
      const warnings: string[] = [];
      try {
        config = loadConfigFile(configPath, { onWarning: (message) => warnings.push(message) });
      } catch (error) {
        console.error(error instanceof ConfigError ? error.message : String(error));
        process.exit(1);
      }
      const logger = createLogger({ level: config.service.logging?.level });
      for (const message of warnings) logger.warn(message);
      let service: Awaited<ReturnType<typeof startHelperService>>;
      try {
        service = await startHelperService(config, { logger });
      } catch (error) {
        logger.fatal({ err: error }, "helper service could not start");
        process.exit(1);
      }
      if (service.statusUrl) logger.info({ url: service.statusUrl }, "status server and dashboard");
      const graceMs = config.service.shutdown_grace_period * 1000;
      const onSignal = (signal: NodeJS.Signals) => {
        logger.info({ signal }, "signal received; stopping gracefully");
        // A second signal, or a shutdown that overruns the grace period, ends the process anyway.
        process.once(signal, () => process.exit(1));
        setTimeout(() => {
          logger.warn("shutdown overran the grace period; exiting");
          process.exit(0);
        }, graceMs + HARD_EXIT_MARGIN_MS).unref();
        void service.stop(signal);
      };
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
      const exit = await service.done;
      logger.flush();
      // One plain line for whoever started it (systemd, a terminal): why the service stopped.
      if (exit.code !== 0) console.error(exit.reason);
      process.exit(exit.code);
    });
}
