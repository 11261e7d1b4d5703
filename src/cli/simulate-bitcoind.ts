/**
 * `cryptoassets simulate-bitcoind`: a bitcoind-compatible regtest JSON-RPC server over an
 * in-memory chain, for tests, the demo and development without a node. Runs until
 * SIGINT/SIGTERM or the `stop` RPC.
 */
import { type Command, InvalidArgumentError } from "commander";
import { createLogger } from "../log.js";
import {
  DEFAULT_RPC_PASSWORD,
  DEFAULT_RPC_USER,
  type Simulator,
  startSimulator,
} from "../simulator/index.js";

export interface SimulateBitcoindHooks {
  /** Called once the server listens (embedding and tests). */
  onStarted?: (sim: Simulator) => void;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InvalidArgumentError("port must be an integer from 0 to 65535");
  return port;
}

function parseFeeRate(value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) < 1n)
    throw new InvalidArgumentError("fee rate must be a whole number of sat/vB ≥ 1");
  return BigInt(value);
}

export function registerSimulateBitcoindCommand(program: Command, hooks: SimulateBitcoindHooks = {}): void {
  program
    .command("simulate-bitcoind")
    .description("run a bitcoind-compatible regtest JSON-RPC simulator (in-memory chain, wallets, reorgs)")
    .option("--port <port>", "TCP port (0 picks a free one)", parsePort, 18443)
    .option("--bind <address>", "address to listen on", "127.0.0.1")
    .option("--rpcuser <user>", "RPC user name", DEFAULT_RPC_USER)
    .option(
      "--rpcpassword <password>",
      "RPC password (or set SIMULATE_BITCOIND_RPCPASSWORD, which keeps it out of `ps`)",
    )
    .option(
      "--walletnotify <command>",
      "run for wallet transactions: %s txid, %w wallet, %b block hash, %h height",
    )
    .option("--blocknotify <command>", "run for each new tip: %s or %b block hash, %h height")
    .option("--feerate <sat/vB>", "fee rate of wallet sends", parseFeeRate)
    .action(
      async (options: {
        port: number;
        bind: string;
        rpcuser: string;
        rpcpassword?: string;
        walletnotify?: string;
        blocknotify?: string;
        feerate?: bigint;
      }) => {
        const logger = createLogger();
        const sim = await startSimulator({
          port: options.port,
          bind: options.bind,
          rpcUser: options.rpcuser,
          rpcPassword:
            options.rpcpassword ?? process.env.SIMULATE_BITCOIND_RPCPASSWORD ?? DEFAULT_RPC_PASSWORD,
          walletNotify: options.walletnotify,
          blockNotify: options.blocknotify,
          feeRate: options.feerate,
          logger,
        });
        console.log(`simulate-bitcoind: regtest JSON-RPC at ${sim.maskedUrl}`);
        const shutdown = () => {
          void sim.close();
        };
        process.once("SIGINT", shutdown);
        process.once("SIGTERM", shutdown);
        hooks.onStarted?.(sim);
        try {
          await sim.stopped;
        } finally {
          process.off("SIGINT", shutdown);
          process.off("SIGTERM", shutdown);
        }
      },
    );
}
