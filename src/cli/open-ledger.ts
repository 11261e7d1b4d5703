/** Opening one coin's ledger (and, when asked, its backend) from a CLI command's config. */

import { NetworkCheck } from "../chain/network.js";
import type { CryptoassetsConfig } from "../config/schema.js";
import { initializeDatabase } from "../db/initialize.js";
import type { Database } from "../db/open.js";
import { NetworkMismatchError } from "../errors.js";
import { Ledger } from "../ledger/ledger.js";
import { createBackend, describeDaemon } from "../service/coin-runtime.js";

/** A mistake in how the command was called: printed as is, exit code 1. */
export class UsageError extends Error {}

export function pickCoin(config: CryptoassetsConfig, wanted: string | undefined): string {
  const coins = Object.keys(config.coins);
  if (wanted) {
    if (!coins.includes(wanted.toLowerCase())) {
      throw new UsageError(`coin ${wanted} is not configured; configured: ${coins.join(", ")}`);
    }
    return wanted.toLowerCase();
  }
  if (coins.length > 1)
    throw new UsageError(`several coins are configured (${coins.join(", ")}): pick one with --coin`);
  return coins[0] as string;
}

/**
 * The coin's ledger; with `withBackend` (or `needNetwork` while the configuration leaves the
 * network unset) also its backend. `needNetwork`: validate addresses against the same
 * network the helper service uses — the configured one, else the daemon's chain.
 */
export async function openLedger(
  config: CryptoassetsConfig,
  database: Database,
  coinName: string,
  withBackend: boolean,
  needNetwork = false,
) {
  const coin = config.coins[coinName];
  if (!coin) throw new UsageError(`coin ${coinName} is not configured`);
  await initializeDatabase(database);
  const askDaemon = needNetwork && coin.network === undefined;
  const backend = withBackend || askDaemon ? createBackend(coinName, coin.backend) : undefined;
  const ledger = await Ledger.open({
    database,
    coin: coinName,
    network: coin.network ?? null,
    walletName: coin.wallet_name,
    creditThreshold: coin.credit_threshold,
    maxConfirmations: coin.max_confirmation_count,
    dustLimit: coin.dust_limit,
    backend,
  });
  if (askDaemon && backend) {
    try {
      await new NetworkCheck({
        ledger,
        backend,
        configured: undefined,
        daemon: describeDaemon(coin.backend),
      }).ensure();
    } catch (error) {
      await backend.close();
      if (error instanceof NetworkMismatchError) throw error;
      throw new UsageError(
        `coins.${coinName}.network is not set, so the daemon's chain decides which addresses are valid, but it could not be asked: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return { ledger, backend };
}
