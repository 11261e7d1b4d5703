/** Opening one coin's ledger (and, when asked, its backend) from a CLI command's config. */
import type { CryptoassetsConfig } from "../config/schema.js";
import { initializeDatabase } from "../db/initialize.js";
import type { Database } from "../db/open.js";
import { Ledger } from "../ledger/ledger.js";
import { createBackend } from "../service/coin-runtime.js";

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

export async function openLedger(
  config: CryptoassetsConfig,
  database: Database,
  coinName: string,
  withBackend: boolean,
) {
  const coin = config.coins[coinName];
  if (!coin) throw new UsageError(`coin ${coinName} is not configured`);
  await initializeDatabase(database);
  const backend = withBackend ? createBackend(coinName, coin.backend) : undefined;
  const ledger = await Ledger.open({
    database,
    coin: coinName,
    network: coin.network,
    walletName: coin.wallet_name,
    creditThreshold: coin.credit_threshold,
    maxConfirmations: coin.max_confirmation_count,
    backend,
  });
  return { ledger, backend };
}
