/**
 * A backend with no daemon behind it, for tests of the ledger alone: it hands out
 * deterministic, valid regtest addresses, knows no transactions and cannot send. Same seed,
 * same address sequence — so a test can predict the addresses it will get; give two
 * backends sharing one database different seeds.
 */
import { createHash } from "node:crypto";
import { bitcoinAddressCodec, type CoinInfo, getCoin, isValidAddress } from "../coins/registry.js";
import { TransactionNotFoundError, UnsupportedOperationError } from "../errors.js";
import type {
  Backend,
  BlockHeaderRef,
  ChainTip,
  SinceBlockEntry,
  SinceBlockResult,
  WalletBalances,
  WalletTransaction,
} from "./backend.js";

/** Hash of the regtest genesis block: the tip of a chain where nothing happened. */
export const REGTEST_GENESIS_HASH = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

export interface NullBackendOptions {
  /** Lowercase coin acronym (default "btc"). */
  coin?: string;
  /** Varies the address sequence (default "null"). */
  seed?: string;
}

export class NullBackend implements Backend {
  readonly coin: string;
  private readonly info: CoinInfo;
  private readonly seed: string;
  private readonly issued: string[] = [];

  constructor(options: NullBackendOptions = {}) {
    this.info = getCoin(options.coin ?? "btc");
    this.coin = this.info.name;
    this.seed = options.seed ?? "null";
  }

  /** Addresses handed out so far, in order. */
  get issuedAddresses(): readonly string[] {
    return this.issued;
  }

  async getNewAddress(_label?: string): Promise<string> {
    const hash = createHash("sha256")
      .update(`${this.seed}:${this.coin}:${this.issued.length}`)
      .digest()
      .subarray(0, 20);
    const format = this.info.networks.regtest;
    // Segwit v0 key-hash where the coin has bech32, else a base58 pay-to-pubkey-hash address.
    const btcAddress = bitcoinAddressCodec();
    const address = format.bech32
      ? btcAddress.toBech32(hash, 0, format.bech32)
      : btcAddress.toBase58Check(hash, format.pubKeyHash);
    this.issued.push(address);
    return address;
  }

  async getTransaction(txid: string): Promise<WalletTransaction> {
    throw new TransactionNotFoundError(
      -5,
      `Invalid or non-wallet transaction id (the null backend knows no transactions; asked for ${txid})`,
      "gettransaction",
    );
  }

  async getTransactions(txids: readonly string[]): Promise<Map<string, WalletTransaction | null>> {
    return new Map(txids.map((txid) => [txid, null]));
  }

  async listSinceBlock(_blockhash?: string): Promise<SinceBlockResult> {
    return { transactions: [], removed: [], lastblock: REGTEST_GENESIS_HASH };
  }

  async listTransactions(_count: number, _skip: number): Promise<SinceBlockEntry[]> {
    return [];
  }

  async getTip(): Promise<ChainTip> {
    return { height: 0, hash: REGTEST_GENESIS_HASH, chain: "regtest" };
  }

  async getBlockHeader(hash: string): Promise<BlockHeaderRef | undefined> {
    return hash === REGTEST_GENESIS_HASH ? { height: 0, confirmations: 1 } : undefined;
  }

  async sendMany(outputs: ReadonlyMap<string, bigint>): Promise<string> {
    throw new UnsupportedOperationError(
      `the null backend cannot send (asked to pay ${outputs.size} output(s)); configure a bitcoind backend to broadcast`,
    );
  }

  async findSendsByComment(_comment: string, _since: number): Promise<string[]> {
    return [];
  }

  async getBalances(): Promise<WalletBalances> {
    return { trusted: 0n, untrustedPending: 0n, immature: 0n, lastProcessedBlock: undefined };
  }

  async validateAddress(address: string): Promise<boolean> {
    return isValidAddress(this.info, "regtest", address);
  }

  async close(): Promise<void> {}
}
