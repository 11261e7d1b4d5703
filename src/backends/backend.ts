/**
 * The interface between the product and a cryptocurrency daemon. Everything that talks to
 * the chain (ledger address creation, transaction updater, confirmation tracker,
 * broadcaster, scans) goes through it, so a real bitcoind, the bundled regtest simulator
 * (reached through the same JSON-RPC client) and the null backend are interchangeable.
 *
 * Amounts are signed base units (`bigint`), exactly as the daemon reports them but without
 * float: a `send` detail has a negative amount and a negative fee, as bitcoind prints them.
 */

export type DetailCategory = "send" | "receive" | "generate" | "immature" | "orphan";

/** One entry of `gettransaction.details`: money moving to or from one address. */
export interface TransactionDetail {
  /** Absent for some outputs bitcoind cannot attribute to an address. */
  address?: string;
  category: DetailCategory;
  amount: bigint;
  vout: number;
  /** Only on `send` details; negative. */
  fee?: bigint;
  label?: string;
  abandoned?: boolean;
}

/** `gettransaction` of a wallet transaction. */
export interface WalletTransaction {
  txid: string;
  /** 0 in mempool, n once mined, negative when conflicted (bitcoind semantics, not normalized). */
  confirmations: number;
  blockhash?: string;
  blockheight?: number;
  /** Net effect on the wallet. */
  amount: bigint;
  /** Only when the wallet paid the fee; negative. */
  fee?: bigint;
  details: TransactionDetail[];
  walletconflicts: string[];
  /** The transaction that replaced this one (bumpfee/RBF by this wallet), when the daemon knows it. */
  replaced_by_txid?: string;
  /** Unix seconds. */
  time: number;
  /** Unix seconds when the wallet first saw it (bitcoind always tells; optional for others). */
  timereceived?: number;
}

/** One entry of `listsinceblock.transactions` / `removed`: a detail plus its transaction's state. */
export interface SinceBlockEntry extends TransactionDetail {
  txid: string;
  confirmations: number;
  /** As in gettransaction (listsinceblock lists them too). */
  walletconflicts?: string[];
  replaced_by_txid?: string;
  blockhash?: string;
  blockheight?: number;
}

export interface SinceBlockResult {
  transactions: SinceBlockEntry[];
  /** Transactions whose blocks were disconnected by a reorg since the given block. */
  removed: SinceBlockEntry[];
  /** Hash of the block to pass next time. */
  lastblock: string;
}

export interface ChainTip {
  height: number;
  hash: string;
  /** The daemon's chain (`getblockchaininfo.chain`: main, test, regtest…), when it tells. */
  chain?: string;
}

/** `getbalances.mine`: what the daemon's wallet holds, in base units. */
export interface WalletBalances {
  /** Confirmed, and unconfirmed change of our own sends: spendable. */
  trusted: bigint;
  /** Unconfirmed payments from others. */
  untrustedPending: bigint;
  /** Coinbase outputs not yet 100 blocks deep. */
  immature: bigint;
  /** The block the balances reflect (the wallet's last processed block). */
  lastProcessedBlock: ChainTipRef | undefined;
}

export interface ChainTipRef {
  hash: string;
  height: number;
}

/** `getblockheader` reduced to where the block stands for the node. */
export interface BlockHeaderRef {
  height: number;
  /** ≥ 1 on the active chain; −1 when the node knows the block but it is off its active chain. */
  confirmations: number;
}

export interface Backend {
  /** Lowercase coin acronym this backend serves, e.g. "btc". */
  readonly coin: string;
  /** A fresh receiving address from the daemon's wallet. */
  getNewAddress(label?: string): Promise<string>;
  /** Throws TransactionNotFoundError when the txid is not a transaction of this wallet. */
  getTransaction(txid: string): Promise<WalletTransaction>;
  /** Batched `gettransaction` (one HTTP round trip); `null` for txids not in the wallet. */
  getTransactions(txids: readonly string[]): Promise<Map<string, WalletTransaction | null>>;
  /** Every wallet transaction touched since `blockhash` (all of them when undefined). */
  listSinceBlock(blockhash?: string): Promise<SinceBlockResult>;
  /**
   * One page of the wallet's history (`listtransactions "*" count skip`): the `count` entries
   * after skipping the `skip` newest, returned oldest first. New transactions shift the
   * pages towards older ones (an entry may come twice, none is missed).
   */
  listTransactions(count: number, skip: number): Promise<SinceBlockEntry[]>;
  getTip(): Promise<ChainTip>;
  /** Where the node has block `hash`; undefined when it does not know the block at all. */
  getBlockHeader(hash: string): Promise<BlockHeaderRef | undefined>;
  /**
   * Pays every address its amount in one transaction; returns the txid. `comment` is stored
   * with the transaction in the daemon's wallet (bitcoind's `sendmany` comment), so a send
   * whose answer was lost can be found again with findSendsByComment.
   */
  sendMany(outputs: ReadonlyMap<string, bigint>, comment?: string): Promise<string>;
  /**
   * The txids of the wallet's sends that carry `comment`, newest first, looking back to
   * transactions the wallet received at or after `since` (milliseconds). Several are possible:
   * a comment is only text, and other ledgers on the same wallet may have written it too.
   */
  findSendsByComment(comment: string, since: number): Promise<string[]>;
  /** The wallet's balances (`getbalances.mine`) and the block they reflect. */
  getBalances(): Promise<WalletBalances>;
  /** Whether the daemon considers `address` valid for its chain. */
  validateAddress(address: string): Promise<boolean>;
  /** Releases connections; the backend is unusable afterwards. */
  close(): Promise<void>;
}
