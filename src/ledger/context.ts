/** What every ledger operation needs to know about its wallet and coin. */
import type { CoinInfo, NetworkName } from "../coins/registry.js";
import type { Engine } from "../db/url.js";

export interface LedgerContext {
  engine: Engine;
  walletId: number;
  /** This database's random identity (ca_ledger): every broadcast's sendmany comment carries it. */
  ledgerId: string;
  coin: CoinInfo;
  /** Null until taken from the daemon (the configuration left it unset): sends wait for it. */
  network: NetworkName | null;
  /** Confirmations at which a deposit is credited (default 3). */
  creditThreshold: number;
  /** Confirmations after which a network transaction is final and no longer tracked (default 15). */
  maxConfirmations: number;
  /** Smallest external send, in base units (the daemon refuses dust outputs). */
  dustLimit: bigint;
}
