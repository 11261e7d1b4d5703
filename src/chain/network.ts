/**
 * Which network a coin's ledger is on, checked against the daemon. A configuration saying
 * `testnet: true` (the original's regtest configs do) against a regtest daemon used to start
 * fine, take deposits and then refuse every send: now the daemon's `getblockchaininfo.chain`
 * is compared with the configured network at the first answer, a mismatch is fatal, and an
 * unset network is taken from the daemon.
 */
import type { Backend, ChainTip } from "../backends/backend.js";
import { type NetworkName, networkOfChain } from "../coins/registry.js";
import { NetworkMismatchError } from "../errors.js";
import type { Ledger } from "../ledger/ledger.js";
import { type Logger, silentLogger } from "../log.js";

export interface NetworkCheckOptions {
  ledger: Ledger;
  backend: Backend;
  /** What the configuration says; undefined: take the daemon's. */
  configured: NetworkName | undefined;
  /** How error messages name the daemon (its masked URL). */
  daemon: string;
  logger?: Logger;
}

export class NetworkCheck {
  readonly #options: NetworkCheckOptions;
  readonly #logger: Logger;
  #verified: NetworkName | undefined;

  constructor(options: NetworkCheckOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({
      module: "chain.network",
      coin: options.ledger.coin.name,
    });
  }

  /** The network once the daemon confirmed (or provided) it. */
  get verified(): NetworkName | undefined {
    return this.#verified;
  }

  /** Asks the daemon unless already checked; throws NetworkMismatchError on a mismatch. */
  async ensure(): Promise<NetworkName> {
    if (this.#verified) return this.#verified;
    return this.observe(await this.#options.backend.getTip());
  }

  /** Checks a tip the daemon reported (its `chain`); throws NetworkMismatchError on a mismatch. */
  observe(tip: ChainTip): NetworkName {
    const { ledger, configured, daemon } = this.#options;
    const coin = ledger.coin.name;
    // A backend that cannot tell its chain (none today) leaves the configured network standing.
    if (tip.chain === undefined) return this.#accept(configured ?? "mainnet", "assumed");
    const network = networkOfChain(tip.chain);
    if (network === undefined) {
      throw new NetworkMismatchError(
        `${coin}: the daemon at ${daemon} runs chain "${tip.chain}" (getblockchaininfo.chain), which is none of mainnet, testnet, regtest`,
      );
    }
    if (configured !== undefined && configured !== network) {
      throw new NetworkMismatchError(
        `${coin}: configured network ${configured} but the daemon at ${daemon} runs ${network} (getblockchaininfo.chain "${tip.chain}"); set coins.${coin}.network to ${network}, or remove it (and testnet) to take the daemon's`,
      );
    }
    return this.#accept(network, configured === undefined ? "taken from the daemon" : "checked");
  }

  #accept(network: NetworkName, how: string): NetworkName {
    if (this.#verified === network) return network;
    this.#options.ledger.setNetwork(network);
    this.#verified = network;
    this.#logger.info({ network, daemon: this.#options.daemon }, `network ${how}`);
    return network;
  }
}
