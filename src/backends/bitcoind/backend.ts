/**
 * The Backend for Bitcoin Core and bitcoind-compatible daemons (Litecoin, Dogecoin, the
 * bundled simulator), over JSON-RPC. Every method is one HTTP round trip, so the cost of
 * following the chain is countable: `rpcStats()` exposes the counters the chain follower's
 * tests use to prove that a new block costs a constant number of calls.
 */
import { formatAmount } from "../../coins/amount.js";
import { getCoin } from "../../coins/registry.js";
import {
  InvalidAddressOrKeyError,
  InvalidAmountError,
  TransactionNotFoundError,
  UnexpectedResponseError,
} from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import type {
  Backend,
  BlockHeaderRef,
  ChainTip,
  SinceBlockEntry,
  SinceBlockResult,
  WalletBalances,
  WalletTransaction,
} from "../backend.js";
import {
  toChainTip,
  toCommentedEntries,
  toSinceBlockResult,
  toTransactionEntries,
  toWalletBalances,
  toWalletTransaction,
} from "./convert.js";
import { BitcoindRpcClient, type RpcStats } from "./rpc-client.js";
import { amountParam, RpcReader, toStringValue } from "./values.js";

export interface BitcoindBackendOptions {
  /** `http://user:password@host:port/`, optionally ending in `/wallet/<name>`. */
  url: string;
  /** Lowercase coin acronym (default "btc"); decides the amount precision. */
  coin?: string;
  /** Wallet name on a multiwallet daemon; replaces any `/wallet/<name>` of the URL. */
  wallet?: string;
  /** Per-call timeout in milliseconds (default 15 000). */
  timeoutMs?: number;
  /** Largest reply read, in bytes (default 16 MiB); see BitcoindRpcClientOptions. */
  maxReplyBytes?: number;
  /** The config key named when a reply is too large. */
  maxReplyConfigKey?: string;
  logger?: Logger;
  /** Use this client instead of creating one (its URL, wallet and timeout then apply). */
  client?: BitcoindRpcClient;
}

/** listtransactions entries per request when looking for a comment. */
const COMMENT_SEARCH_PAGE = 500;

export class BitcoindBackend implements Backend {
  readonly coin: string;
  readonly decimals: number;
  readonly client: BitcoindRpcClient;
  private readonly logger: Logger;

  constructor(options: BitcoindBackendOptions) {
    const coin = getCoin(options.coin ?? "btc");
    this.coin = coin.name;
    this.decimals = coin.decimals;
    this.logger = (options.logger ?? silentLogger).child({ module: "backends.bitcoind", coin: this.coin });
    this.client =
      options.client ??
      new BitcoindRpcClient({
        url: options.url,
        wallet: options.wallet,
        timeoutMs: options.timeoutMs,
        maxReplyBytes: options.maxReplyBytes,
        maxReplyConfigKey: options.maxReplyConfigKey,
        logger: options.logger,
      });
  }

  /** The daemon's URL with the password masked. */
  get url(): string {
    return this.client.url;
  }

  async getNewAddress(label?: string): Promise<string> {
    const result = await this.client.call("getnewaddress", label === undefined ? [] : [label]);
    return this.#read(() => toStringValue(result, "getnewaddress"));
  }

  async getTransaction(txid: string): Promise<WalletTransaction> {
    const result = await this.client.call("gettransaction", [txid]);
    return this.#read(() => toWalletTransaction(result, this.decimals));
  }

  async getTransactions(txids: readonly string[]): Promise<Map<string, WalletTransaction | null>> {
    const unique = [...new Set(txids)];
    const found = new Map<string, WalletTransaction | null>();
    const outcomes = await this.client.batch(
      unique.map((txid) => ({ method: "gettransaction", params: [txid] })),
    );
    outcomes.forEach((outcome, index) => {
      const txid = unique[index] as string;
      if (outcome.ok)
        found.set(
          txid,
          this.#read(() => toWalletTransaction(outcome.result, this.decimals)),
        );
      else if (outcome.error instanceof TransactionNotFoundError) found.set(txid, null);
      else throw outcome.error;
    });
    return found;
  }

  async listSinceBlock(blockhash?: string): Promise<SinceBlockResult> {
    // Positional: blockhash ("" = from genesis), target_confirmations, include_watchonly, include_removed.
    const result = await this.client.call("listsinceblock", [blockhash ?? "", 1, true, true]);
    return this.#read(() => toSinceBlockResult(result, this.decimals));
  }

  async listTransactions(count: number, skip: number): Promise<SinceBlockEntry[]> {
    // Positional: label "*" (all), count, skip, include_watchonly.
    const result = await this.client.call("listtransactions", ["*", count, skip, true]);
    return this.#read(() => toTransactionEntries(result, this.decimals));
  }

  async getTip(): Promise<ChainTip> {
    // One call gives height and hash of the same tip; two calls could straddle a new block.
    const result = await this.client.call("getblockchaininfo");
    return this.#read(() => toChainTip(result));
  }

  async getBlockHeader(hash: string): Promise<BlockHeaderRef | undefined> {
    let result: unknown;
    try {
      result = await this.client.call("getblockheader", [hash, true]);
    } catch (err) {
      // -5 "Block not found": the node has never had this block (or lost it in a crash).
      if (err instanceof InvalidAddressOrKeyError) return undefined;
      throw err;
    }
    return this.#read(() => {
      const reader = RpcReader.of(result, "getblockheader", this.decimals);
      return { height: reader.integer("height"), confirmations: reader.integer("confirmations") };
    });
  }

  async sendMany(outputs: ReadonlyMap<string, bigint>, comment?: string): Promise<string> {
    if (outputs.size === 0) throw new InvalidAmountError("sendMany: no outputs to pay");
    const amounts: Record<string, ReturnType<typeof amountParam>> = {};
    for (const [address, units] of outputs) {
      if (units <= 0n) {
        throw new InvalidAmountError(
          `sendMany: amount for ${address} must be positive, got ${units} base units`,
        );
      }
      amounts[address] = amountParam(formatAmount(units, this.decimals));
    }
    this.logger.info({ outputs: outputs.size }, "sendmany");
    // Positional: dummy "", amounts, minconf (1, Core's default), comment.
    const params = comment === undefined ? ["", amounts] : ["", amounts, 1, comment];
    const result = await this.client.call("sendmany", params);
    return this.#read(() => toStringValue(result, "sendmany"));
  }

  async findSendsByComment(comment: string, since: number): Promise<string[]> {
    // listtransactions pages back from the newest; stop once a page reaches transactions
    // received well before `since` (an hour of margin for clock skew with the daemon).
    const oldestWanted = Math.floor(since / 1000) - 3600;
    const found = new Set<string>();
    for (let skip = 0; ; skip += COMMENT_SEARCH_PAGE) {
      const result = await this.client.call("listtransactions", ["*", COMMENT_SEARCH_PAGE, skip, true]);
      const page = this.#read(() => toCommentedEntries(result));
      // Oldest first within a page: reversed, the txids come newest first.
      for (const entry of [...page].reverse()) {
        if (entry.category === "send" && entry.comment === comment) found.add(entry.txid);
      }
      if (page.length < COMMENT_SEARCH_PAGE) break;
      if (Math.min(...page.map((entry) => entry.timereceived)) < oldestWanted) break;
    }
    return [...found];
  }

  async getBalances(): Promise<WalletBalances> {
    const result = await this.client.call("getbalances");
    return this.#read(() => toWalletBalances(result, this.decimals));
  }

  async validateAddress(address: string): Promise<boolean> {
    const result = await this.client.call("validateaddress", [address]);
    return this.#read(() => RpcReader.of(result, "validateaddress", this.decimals).boolean("isvalid"));
  }

  /**
   * Converts a reply; a reply of the wrong shape names the daemon too (with several coins or
   * daemons, "gettransaction.txid: expected a string" alone does not say which one).
   */
  #read<T>(convert: () => T): T {
    try {
      return convert();
    } catch (err) {
      if (err instanceof UnexpectedResponseError) {
        throw new UnexpectedResponseError(
          `bitcoind at ${this.client.url} answered unexpectedly: ${err.message}`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** RPC counters: HTTP requests and calls per method since creation or the last reset. */
  rpcStats(): RpcStats {
    return this.client.stats();
  }

  resetRpcStats(): void {
    this.client.resetStats();
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
