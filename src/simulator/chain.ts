/**
 * The in-memory regtest chain: blocks (every branch is kept, so `invalidateblock` and
 * `reconsiderblock` can move between them), the active chain, a UTXO set, a mempool and
 * the loaded wallets. Wallet-level state (confirmations, conflicts, trust) is derived from
 * the chain each time it is asked for, the way bitcoind's wallet reports it, rather than
 * kept in a second state machine that could drift.
 *
 * Notifications go to a ChainListener in the order bitcoind emits them: per connected or
 * disconnected block, wallet by wallet (in load order) and transaction by transaction;
 * per transaction entering the mempool, wallet by wallet.
 */
import { randomInt } from "node:crypto";
import { RpcCode, RpcError } from "./errors.js";
import { addressScript, reverseHex, scriptAddress, toHex } from "./keys.js";
import {
  blockHeader,
  buildCoinbase,
  buildSpend,
  dustThreshold,
  estimateVsize,
  merkleRoot,
  SEQUENCE_FINAL_NO_RBF,
  SEQUENCE_RBF,
  type SimOutput,
  type SimTx,
  type SpendInput,
} from "./tx.js";
import { SimWallet, type WalletAddress } from "./wallet.js";

export const COIN = 100_000_000n;
/** Blocks a coinbase output must wait before bitcoind's wallet may spend it (depth ≥ 101). */
export const COINBASE_MATURITY = 100;
export const REGTEST_HALVING_INTERVAL = 150;
export const REGTEST_BITS = 0x207fffff;
/** bitcoind's -fallbackfee default on regtest: 0.0002 BTC/kvB. */
export const DEFAULT_FEE_RATE = 20n;
/** bitcoind's DEFAULT_MAX_TIP_AGE: a tip older than this means initial block download. */
const MAX_TIP_AGE_S = 24 * 60 * 60;
/** bitcoind's WALLET_INCREMENTAL_RELAY_FEE, added by bumpfee (sat/kvB; above the node's 1000). */
export const BUMP_INCREMENT_PER_KVB = 5000n;

export interface SimBlock {
  hash: string;
  height: number;
  prevHash: string | null;
  version: number;
  merkleRoot: string;
  time: number;
  nonce: number;
  bits: number;
  headerHex: string;
  txids: string[];
  size: number;
  strippedSize: number;
  weight: number;
  /** Order of arrival, bitcoind's nSequenceId: breaks ties between equal-work tips. */
  sequence: number;
  /** Marked by invalidateblock; descendants are invalid through their ancestry. */
  invalid: boolean;
}

export interface BlockRef {
  hash: string;
  height: number;
}

export interface ChainListener {
  /** bitcoind runs -walletnotify here. `block` is null unless the transaction is confirmed. */
  walletTransaction(wallet: string, txid: string, block: BlockRef | null): void;
  /** bitcoind runs -blocknotify here. */
  blockTip(block: BlockRef): void;
}

export interface Recipient {
  address: string;
  scriptHex: string;
  amount: bigint;
  subtractFee: boolean;
}

export interface SendOptions {
  /** sat/vB. */
  feeRate?: bigint;
  /** sat/kvB, when finer than whole sat/vB (bumpfee's computed rate); wins over feeRate. */
  feeRatePerKvb?: bigint;
  replaceable?: boolean;
  notes?: [string, string][];
}

export interface ChainOptions {
  listener?: ChainListener;
  feeRate?: bigint;
  /** Unix seconds; injectable so tests can control block times. */
  now?: () => number;
}

interface UtxoEntry {
  height: number;
  coinbase: boolean;
}

export interface WalletCoin {
  txid: string;
  vout: number;
  value: bigint;
  depth: number;
  address: WalletAddress;
}

const GENESIS = {
  hash: "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
  merkleRoot: "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
  time: 1296688602,
  nonce: 2,
  coinbaseHex:
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000",
};

export function outpoint(txid: string, vout: number): string {
  return `${txid}:${vout}`;
}

function isUnspendable(output: SimOutput): boolean {
  return output.scriptHex.startsWith("6a");
}

export class Chain {
  readonly blocks = new Map<string, SimBlock>();
  readonly txs = new Map<string, SimTx>();
  /** Insertion order is a valid topological order (parents before children). */
  readonly mempool = new Map<string, SimTx>();
  private active: string[] = [];
  private readonly utxo = new Map<string, UtxoEntry>();
  private readonly mempoolSpends = new Map<string, string>();
  private readonly chainSpends = new Map<string, string>();
  private readonly allSpends = new Map<string, Set<string>>();
  private readonly wallets = new Map<string, SimWallet>();
  private loaded: string[] = [];
  private blockSequence = 0;
  private leftInitialBlockDownload = false;
  readonly feeRate: bigint;
  readonly now: () => number;
  listener: ChainListener | undefined;

  constructor(options: ChainOptions = {}) {
    this.listener = options.listener;
    this.feeRate = options.feeRate ?? DEFAULT_FEE_RATE;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.addGenesis();
  }

  private addGenesis(): void {
    const header = blockHeader({
      version: 1,
      prevHash: "0".repeat(64),
      merkleRoot: GENESIS.merkleRoot,
      time: GENESIS.time,
      bits: REGTEST_BITS,
      nonce: GENESIS.nonce,
    });
    const size = 80 + 1 + GENESIS.coinbaseHex.length / 2;
    this.blocks.set(header.hash, {
      hash: header.hash,
      height: 0,
      prevHash: null,
      version: 1,
      merkleRoot: GENESIS.merkleRoot,
      time: GENESIS.time,
      nonce: GENESIS.nonce,
      bits: REGTEST_BITS,
      headerHex: header.hex,
      txids: [GENESIS.merkleRoot],
      size,
      strippedSize: size,
      weight: size * 4,
      sequence: this.blockSequence++,
      invalid: false,
    });
    // The genesis output is unspendable by consensus, so it never enters the UTXO set.
    this.txs.set(GENESIS.merkleRoot, {
      txid: GENESIS.merkleRoot,
      wtxid: GENESIS.merkleRoot,
      hex: GENESIS.coinbaseHex,
      coinbase: true,
      inputs: [],
      outputs: [{ value: 50n * COIN, scriptHex: "", address: null }],
      size: GENESIS.coinbaseHex.length / 2,
      strippedSize: GENESIS.coinbaseHex.length / 2,
      vsize: GENESIS.coinbaseHex.length / 2,
      weight: (GENESIS.coinbaseHex.length / 2) * 4,
      locktime: 0,
      timeReceived: GENESIS.time,
      blocks: new Set([header.hash]),
    });
    this.active = [header.hash];
  }

  // ---- chain queries -------------------------------------------------------------------

  get tipHeight(): number {
    return this.active.length - 1;
  }

  get tip(): SimBlock {
    return this.block(this.active[this.active.length - 1] as string);
  }

  get genesisHash(): string {
    return this.active[0] as string;
  }

  block(hash: string): SimBlock {
    const block = this.blocks.get(hash);
    if (!block) throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Block not found");
    return block;
  }

  activeHashAt(height: number): string | undefined {
    return this.active[height];
  }

  isActive(block: SimBlock): boolean {
    return this.active[block.height] === block.hash;
  }

  /** Confirmations of a block: −1 when it is not on the active chain, as getblockheader says. */
  blockConfirmations(block: SimBlock): number {
    return this.isActive(block) ? this.tipHeight - block.height + 1 : -1;
  }

  /**
   * bitcoind's IsInitialBlockDownload on regtest: true until the tip is less than a day old
   * (-maxtipage), then false for good (it latches). A fresh chain's genesis is from 2011.
   */
  inInitialBlockDownload(): boolean {
    if (this.leftInitialBlockDownload) return false;
    if (this.now() - this.tip.time < MAX_TIP_AGE_S) this.leftInitialBlockDownload = true;
    return !this.leftInitialBlockDownload;
  }

  medianTimePast(block: SimBlock): number {
    const times: number[] = [];
    let cursor: SimBlock | undefined = block;
    while (cursor && times.length < 11) {
      times.push(cursor.time);
      cursor = cursor.prevHash ? this.blocks.get(cursor.prevHash) : undefined;
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] ?? block.time;
  }

  /** The active-chain block holding a transaction, if any. */
  confirmedBlock(tx: SimTx): SimBlock | undefined {
    for (const hash of tx.blocks) {
      const block = this.blocks.get(hash);
      if (block && this.isActive(block)) return block;
    }
    return undefined;
  }

  prevOutput(txid: string, vout: number): SimOutput | undefined {
    return this.txs.get(txid)?.outputs[vout];
  }

  /** Sum of inputs minus outputs; 0 for a coinbase. */
  fee(tx: SimTx): bigint {
    if (tx.coinbase) return 0n;
    let value = 0n;
    for (const input of tx.inputs) value += this.prevOutput(input.txid, input.vout)?.value ?? 0n;
    for (const output of tx.outputs) value -= output.value;
    return value;
  }

  /**
   * Height of the active-chain block that conflicts with `tx` (spends one of its inputs,
   * or conflicts with one of its ancestors), or undefined when nothing mined conflicts.
   */
  conflictHeight(tx: SimTx, seen = new Set<string>()): number | undefined {
    if (seen.has(tx.txid)) return undefined;
    seen.add(tx.txid);
    for (const input of tx.inputs) {
      const spender = this.chainSpends.get(outpoint(input.txid, input.vout));
      if (spender !== undefined && spender !== tx.txid) {
        const spenderTx = this.txs.get(spender);
        const block = spenderTx && this.confirmedBlock(spenderTx);
        if (block) return block.height;
      }
    }
    for (const input of tx.inputs) {
      const parent = this.txs.get(input.txid);
      if (!parent || this.confirmedBlock(parent) || this.mempool.has(parent.txid)) continue;
      const height = this.conflictHeight(parent, seen);
      if (height !== undefined) return height;
    }
    return undefined;
  }

  /** bitcoind's GetTxDepthInMainChain: n when mined, 0 unconfirmed, −depth of the conflict. */
  depth(tx: SimTx): number {
    const block = this.confirmedBlock(tx);
    if (block) return this.tipHeight - block.height + 1;
    if (this.mempool.has(tx.txid)) return 0;
    const conflict = this.conflictHeight(tx);
    if (conflict !== undefined) return -(this.tipHeight - conflict + 1);
    return 0;
  }

  isImmatureCoinbase(tx: SimTx): boolean {
    return tx.coinbase && this.depth(tx) < COINBASE_MATURITY + 1;
  }

  /** Other mempool transactions spending the same outputs (bitcoind's mempool_conflicts). */
  mempoolConflicts(tx: SimTx): string[] {
    if (this.mempool.has(tx.txid)) return [];
    const conflicts = new Set<string>();
    for (const input of tx.inputs) {
      const spender = this.mempoolSpends.get(outpoint(input.txid, input.vout));
      if (spender !== undefined && spender !== tx.txid) conflicts.add(spender);
    }
    return [...conflicts];
  }

  /** Other transactions the wallet knows that spend the same outputs (walletconflicts). */
  walletConflicts(wallet: SimWallet, tx: SimTx): string[] {
    const conflicts = new Set<string>();
    for (const input of tx.inputs) {
      for (const other of this.allSpends.get(outpoint(input.txid, input.vout)) ?? []) {
        if (other !== tx.txid && wallet.knows(other)) conflicts.add(other);
      }
    }
    return [...conflicts];
  }

  /** Whether a still-valid transaction spends this output (bitcoind's CWallet::IsSpent). */
  isSpent(txid: string, vout: number): boolean {
    for (const spender of this.allSpends.get(outpoint(txid, vout)) ?? []) {
      const tx = this.txs.get(spender);
      if (!tx) continue;
      if (this.depth(tx) < 0) continue;
      if (!this.mempool.has(spender) && !this.confirmedBlock(tx) && this.mempoolConflicts(tx).length > 0)
        continue;
      return true;
    }
    return false;
  }

  /** BIP 125 status as gettransaction prints it for an unconfirmed transaction. */
  replaceableStatus(tx: SimTx): "yes" | "no" | "unknown" {
    if (tx.inputs.some((input) => input.sequence < SEQUENCE_FINAL_NO_RBF)) return "yes";
    if (!this.mempool.has(tx.txid)) return "unknown";
    for (const input of tx.inputs) {
      const parent = this.mempool.get(input.txid);
      if (parent && this.replaceableStatus(parent) === "yes") return "yes";
    }
    return "no";
  }

  // ---- wallets ---------------------------------------------------------------------------

  walletExists(name: string): boolean {
    return this.wallets.has(name);
  }

  loadedWallets(): SimWallet[] {
    return this.loaded.map((name) => this.wallets.get(name) as SimWallet);
  }

  loadedWallet(name: string): SimWallet | undefined {
    return this.loaded.includes(name) ? this.wallets.get(name) : undefined;
  }

  createWallet(name: string, privateKeysEnabled = true): SimWallet {
    const wallet = new SimWallet(name, privateKeysEnabled, this.now());
    this.wallets.set(name, wallet);
    this.loaded.push(name);
    return wallet;
  }

  loadWallet(name: string): SimWallet {
    const wallet = this.wallets.get(name);
    if (!wallet) throw new Error(`no wallet ${name}`);
    if (!this.loaded.includes(name)) this.loaded.push(name);
    return wallet;
  }

  unloadWallet(name: string): void {
    this.loaded = this.loaded.filter((loaded) => loaded !== name);
  }

  /** Every wallet, loaded or not (listwalletdir). */
  allWalletNames(): string[] {
    return [...this.wallets.keys()];
  }

  ownerOf(wallet: SimWallet, output: SimOutput | undefined): WalletAddress | undefined {
    return output ? wallet.ownsScript(output.scriptHex) : undefined;
  }

  isRelevant(wallet: SimWallet, tx: SimTx): boolean {
    if (tx.outputs.some((output) => wallet.ownsScript(output.scriptHex))) return true;
    return tx.inputs.some((input) => this.ownerOf(wallet, this.prevOutput(input.txid, input.vout)));
  }

  private notifyWallet(wallet: SimWallet, tx: SimTx, block: SimBlock | null): void {
    wallet.remember(tx.txid);
    this.listener?.walletTransaction(
      wallet.name,
      tx.txid,
      block ? { hash: block.hash, height: block.height } : null,
    );
  }

  /** bitcoind's blockConnected / blockDisconnected: wallet by wallet, then in block order. */
  private notifyBlockTransactions(block: SimBlock, connected: boolean): void {
    const txs = block.txids.map((txid) => this.txs.get(txid)).filter((tx): tx is SimTx => tx !== undefined);
    for (const wallet of this.loadedWallets()) {
      for (const tx of txs) {
        if (this.isRelevant(wallet, tx)) this.notifyWallet(wallet, tx, connected ? block : null);
      }
    }
  }

  /** transactionAddedToMempool: every loaded wallet the transaction concerns. */
  private notifyMempoolEntry(tx: SimTx): void {
    for (const wallet of this.loadedWallets()) {
      if (this.isRelevant(wallet, tx)) this.notifyWallet(wallet, tx, null);
    }
  }

  // ---- mempool ---------------------------------------------------------------------------

  private registerTx(tx: SimTx): void {
    this.txs.set(tx.txid, tx);
    for (const input of tx.inputs) {
      const key = outpoint(input.txid, input.vout);
      let spenders = this.allSpends.get(key);
      if (!spenders) {
        spenders = new Set();
        this.allSpends.set(key, spenders);
      }
      spenders.add(tx.txid);
    }
  }

  private canEnterMempool(tx: SimTx): boolean {
    if (tx.coinbase || this.mempool.has(tx.txid) || this.confirmedBlock(tx)) return false;
    for (const input of tx.inputs) {
      const key = outpoint(input.txid, input.vout);
      if (this.mempoolSpends.has(key)) return false;
      const coin = this.utxo.get(key);
      if (coin) {
        if (coin.coinbase && this.tipHeight + 1 - coin.height < COINBASE_MATURITY) return false;
        continue;
      }
      const parent = this.mempool.get(input.txid);
      const output = parent?.outputs[input.vout];
      if (!output || isUnspendable(output)) return false;
    }
    return true;
  }

  private addToMempool(tx: SimTx): void {
    this.mempool.set(tx.txid, tx);
    for (const input of tx.inputs) this.mempoolSpends.set(outpoint(input.txid, input.vout), tx.txid);
  }

  private removeFromMempool(txid: string): void {
    const tx = this.mempool.get(txid);
    if (!tx) return;
    this.mempool.delete(txid);
    for (const input of tx.inputs) {
      const key = outpoint(input.txid, input.vout);
      if (this.mempoolSpends.get(key) === txid) this.mempoolSpends.delete(key);
    }
  }

  /** Remove a mempool transaction and everything in the mempool spending its outputs. */
  private removeWithDescendants(txid: string, removed: SimTx[] = []): SimTx[] {
    const tx = this.mempool.get(txid);
    if (!tx) return removed;
    this.removeFromMempool(txid);
    removed.push(tx);
    tx.outputs.forEach((_, vout) => {
      const child = this.mempoolSpends.get(outpoint(txid, vout));
      if (child !== undefined) this.removeWithDescendants(child, removed);
    });
    return removed;
  }

  /**
   * Rebuild the mempool after the tip moved back: keep what is still valid, take back the
   * disconnected transactions, drop the rest. Returns the transactions taken back.
   */
  private refillMempool(returning: SimTx[]): SimTx[] {
    const candidates = [...this.mempool.values(), ...returning.filter((tx) => !this.mempool.has(tx.txid))];
    const returningIds = new Set(returning.map((tx) => tx.txid));
    this.mempool.clear();
    this.mempoolSpends.clear();
    const added: SimTx[] = [];
    let pending = candidates;
    let progress = true;
    while (progress && pending.length > 0) {
      progress = false;
      const next: SimTx[] = [];
      for (const tx of pending) {
        if (this.canEnterMempool(tx)) {
          this.addToMempool(tx);
          if (returningIds.has(tx.txid)) added.push(tx);
          progress = true;
        } else {
          next.push(tx);
        }
      }
      pending = next;
    }
    // Notify in block order, as bitcoind re-adds disconnected transactions.
    return returning.filter((tx) => added.includes(tx));
  }

  // ---- blocks ----------------------------------------------------------------------------

  private connectBlock(block: SimBlock): void {
    const conflicts: SimTx[] = [];
    for (const txid of block.txids) {
      const tx = this.txs.get(txid) as SimTx;
      this.removeFromMempool(txid);
      for (const input of tx.inputs) {
        const key = outpoint(input.txid, input.vout);
        const rival = this.mempoolSpends.get(key);
        if (rival !== undefined && rival !== txid) this.removeWithDescendants(rival, conflicts);
        this.utxo.delete(key);
        this.chainSpends.set(key, txid);
      }
      tx.outputs.forEach((output, vout) => {
        if (!isUnspendable(output))
          this.utxo.set(outpoint(txid, vout), { height: block.height, coinbase: tx.coinbase });
      });
    }
    this.active.push(block.hash);
    // bitcoind re-notifies wallet transactions evicted by a conflicting block, as unconfirmed.
    for (const tx of conflicts) {
      for (const wallet of this.loadedWallets()) {
        if (wallet.knows(tx.txid)) this.notifyWallet(wallet, tx, null);
      }
    }
    this.notifyBlockTransactions(block, true);
  }

  private disconnectTip(): void {
    const block = this.tip;
    const txs = block.txids.map((txid) => this.txs.get(txid) as SimTx);
    for (const tx of [...txs].reverse()) {
      tx.outputs.forEach((_, vout) => {
        this.utxo.delete(outpoint(tx.txid, vout));
      });
      for (const input of tx.inputs) {
        const key = outpoint(input.txid, input.vout);
        this.chainSpends.delete(key);
        const parent = this.txs.get(input.txid) as SimTx;
        const parentBlock = this.confirmedBlock(parent) as SimBlock;
        this.utxo.set(key, { height: parentBlock.height, coinbase: parent.coinbase });
      }
    }
    this.active.pop();
    this.notifyBlockTransactions(block, false);
    const returned = this.refillMempool(txs.filter((tx) => !tx.coinbase));
    for (const tx of returned) this.notifyMempoolEntry(tx);
  }

  private isValidBranch(block: SimBlock): boolean {
    let cursor: SimBlock | undefined = block;
    while (cursor && !this.isActive(cursor)) {
      if (cursor.invalid) return false;
      cursor = cursor.prevHash ? this.blocks.get(cursor.prevHash) : undefined;
    }
    return true;
  }

  /**
   * Move to the valid tip with the most work (every regtest block has the same work, so:
   * the highest); on a tie keep the current tip, else the block that arrived first.
   * -blocknotify fires for each connected block above `notifyAbove`.
   */
  private activateBestChain(notifyAbove: number): void {
    let best = this.tip;
    for (const block of this.blocks.values()) {
      if (block.height < best.height) continue;
      if (block.height === best.height && (best === this.tip || block.sequence >= best.sequence)) continue;
      if (block.invalid || !this.isValidBranch(block)) continue;
      best = block;
    }
    if (best === this.tip) return;
    const path: SimBlock[] = [];
    let cursor: SimBlock = best;
    while (!this.isActive(cursor)) {
      path.unshift(cursor);
      cursor = this.block(cursor.prevHash as string);
    }
    while (this.tipHeight > cursor.height) this.disconnectTip();
    for (const block of path) {
      this.connectBlock(block);
      if (block.height > notifyAbove) this.listener?.blockTip({ hash: block.hash, height: block.height });
    }
  }

  invalidateBlock(hash: string): void {
    const block = this.block(hash);
    if (block.height === 0) throw new RpcError(-20, "genesis block cannot be invalidated");
    block.invalid = true;
    if (this.isActive(block)) {
      while (this.tipHeight >= block.height) this.disconnectTip();
      this.listener?.blockTip({ hash: this.tip.hash, height: this.tipHeight });
    }
    this.activateBestChain(this.tipHeight);
  }

  reconsiderBlock(hash: string): void {
    const target = this.block(hash);
    for (const block of this.blocks.values()) {
      if (!block.invalid) continue;
      if (this.descendsFrom(block, target) || this.descendsFrom(target, block)) block.invalid = false;
    }
    this.activateBestChain(this.tipHeight);
  }

  private descendsFrom(block: SimBlock, ancestor: SimBlock): boolean {
    let cursor: SimBlock | undefined = block;
    while (cursor && cursor.height > ancestor.height) {
      cursor = cursor.prevHash ? this.blocks.get(cursor.prevHash) : undefined;
    }
    return cursor?.hash === ancestor.hash;
  }

  subsidy(height: number): bigint {
    const halvings = Math.floor(height / REGTEST_HALVING_INTERVAL);
    return halvings >= 64 ? 0n : (50n * COIN) >> BigInt(halvings);
  }

  /** generatetoaddress: mine `count` blocks with every mempool transaction, paying `address`. */
  mine(count: number, address: string): string[] {
    const script = addressScript(address);
    if (!script) throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Error: Invalid address");
    const hashes: string[] = [];
    // The coinbase's address, decoded once: bitcoinjs tries each payment type by throwing.
    const payTo = scriptAddress(script) ?? address;
    const scriptHex = toHex(script);
    for (let i = 0; i < count; i++) hashes.push(this.mineOne(scriptHex, payTo));
    return hashes;
  }

  /**
   * The order bitcoind's block assembler gives the mempool: by ancestor fee rate (the
   * transaction with its unconfirmed ancestors), highest first, equal rates by txid (as
   * uint256: compared from the last byte of the hex), each after its ancestors.
   */
  private blockOrder(txs: SimTx[]): SimTx[] {
    const inPool = new Map(txs.map((tx) => [tx.txid, tx]));
    const ancestors = new Map<string, SimTx[]>();
    const ancestorsOf = (tx: SimTx): SimTx[] => {
      const known = ancestors.get(tx.txid);
      if (known) return known;
      const found = new Map<string, SimTx>();
      for (const input of tx.inputs) {
        const parent = inPool.get(input.txid);
        if (!parent) continue;
        found.set(parent.txid, parent);
        for (const grand of ancestorsOf(parent)) found.set(grand.txid, grand);
      }
      const list = [...found.values()];
      ancestors.set(tx.txid, list);
      return list;
    };
    const score = new Map<string, { fee: bigint; vsize: bigint }>();
    for (const tx of txs) {
      const pack = [tx, ...ancestorsOf(tx)];
      score.set(tx.txid, {
        fee: pack.reduce((sum, t) => sum + this.fee(t), 0n),
        vsize: BigInt(pack.reduce((sum, t) => sum + t.vsize, 0)),
      });
    }
    const byRate = [...txs].sort((a, b) => {
      const sa = score.get(a.txid) as { fee: bigint; vsize: bigint };
      const sb = score.get(b.txid) as { fee: bigint; vsize: bigint };
      const left = sa.fee * sb.vsize;
      const right = sb.fee * sa.vsize;
      if (left !== right) return left > right ? -1 : 1;
      const ra = reverseHex(a.txid);
      const rb = reverseHex(b.txid);
      return ra < rb ? -1 : ra > rb ? 1 : 0;
    });
    const ordered: SimTx[] = [];
    const placed = new Set<string>();
    for (const tx of byRate) {
      const pending = [...ancestorsOf(tx), tx].filter((t) => !placed.has(t.txid));
      pending.sort((a, b) => ancestorsOf(a).length - ancestorsOf(b).length);
      for (const t of pending) {
        placed.add(t.txid);
        ordered.push(t);
      }
    }
    return ordered;
  }

  private mineOne(scriptHex: string, address: string): string {
    const parent = this.tip;
    const height = parent.height + 1;
    const now = this.now();
    const included = this.blockOrder([...this.mempool.values()]);
    const fees = included.reduce((sum, tx) => sum + this.fee(tx), 0n);
    const coinbase = buildCoinbase(
      height,
      scriptHex,
      address,
      this.subsidy(height) + fees,
      included.map((tx) => tx.wtxid),
      now,
    );
    this.registerTx(coinbase);
    const txs = [coinbase, ...included];
    const root = merkleRoot(txs.map((tx) => tx.txid));
    const time = Math.max(now, this.medianTimePast(parent) + 1);
    const header = blockHeader({
      version: 0x20000000,
      prevHash: parent.hash,
      merkleRoot: root,
      time,
      bits: REGTEST_BITS,
      nonce: 0,
    });
    const countBytes = txs.length < 0xfd ? 1 : 3;
    const size = 80 + countBytes + txs.reduce((sum, tx) => sum + tx.size, 0);
    const strippedSize = 80 + countBytes + txs.reduce((sum, tx) => sum + tx.strippedSize, 0);
    const block: SimBlock = {
      hash: header.hash,
      height,
      prevHash: parent.hash,
      version: 0x20000000,
      merkleRoot: root,
      time,
      nonce: 0,
      bits: REGTEST_BITS,
      headerHex: header.hex,
      txids: txs.map((tx) => tx.txid),
      size,
      strippedSize,
      weight: strippedSize * 3 + size,
      sequence: this.blockSequence++,
      invalid: false,
    };
    this.blocks.set(block.hash, block);
    for (const tx of txs) tx.blocks.add(block.hash);
    this.connectBlock(block);
    this.listener?.blockTip({ hash: block.hash, height });
    return block.hash;
  }

  // ---- wallet spending -------------------------------------------------------------------

  /**
   * bitcoind's CachedTxIsTrusted: mined, or an unconfirmed transaction the wallet sent
   * itself, in the mempool, whose inputs all come from trusted wallet transactions.
   */
  isTrusted(wallet: SimWallet, tx: SimTx, seen = new Set<string>()): boolean {
    const depth = this.depth(tx);
    if (depth >= 1) return true;
    if (depth < 0 || !this.mempool.has(tx.txid)) return false;
    if (seen.has(tx.txid)) return true;
    seen.add(tx.txid);
    if (tx.inputs.length === 0) return false;
    for (const input of tx.inputs) {
      const parent = this.txs.get(input.txid);
      if (!parent || !wallet.knows(parent.txid)) return false;
      if (!this.ownerOf(wallet, parent.outputs[input.vout])) return false;
      if (!this.isTrusted(wallet, parent, seen)) return false;
    }
    return true;
  }

  /** Outputs the wallet may spend: trusted, mature, unspent (bitcoind's AvailableCoins). */
  spendableCoins(wallet: SimWallet, exclude: ReadonlySet<string> = new Set()): WalletCoin[] {
    const coins: WalletCoin[] = [];
    for (const txid of wallet.txOrder) {
      if (exclude.has(txid)) continue;
      const tx = this.txs.get(txid);
      if (!tx || this.isImmatureCoinbase(tx)) continue;
      const depth = this.depth(tx);
      if (depth < 0 || (depth === 0 && !this.mempool.has(txid))) continue;
      if (!this.isTrusted(wallet, tx)) continue;
      tx.outputs.forEach((output, vout) => {
        const owner = wallet.ownsScript(output.scriptHex);
        if (!owner || this.isSpent(txid, vout)) return;
        coins.push({ txid, vout, value: output.value, depth, address: owner });
      });
    }
    // Confirmed coins first, then the largest: few inputs, and no long unconfirmed chains.
    return coins.sort((a, b) => {
      if (a.depth > 0 !== b.depth > 0) return a.depth > 0 ? -1 : 1;
      return a.value > b.value ? -1 : a.value < b.value ? 1 : 0;
    });
  }

  /**
   * Choose inputs and change for `recipients` and put the transaction in the mempool, with
   * walletnotify as bitcoind does it: the sender at commit, then every wallet concerned
   * when it enters the mempool.
   */
  send(wallet: SimWallet, recipients: Recipient[], options: SendOptions = {}): SimTx {
    const tx = this.fund(wallet, recipients, options, [], new Set());
    this.commit(wallet, tx, options.notes ?? []);
    return tx;
  }

  private commit(wallet: SimWallet, tx: SimTx, notes: [string, string][]): void {
    this.registerTx(tx);
    for (const [key, value] of notes) wallet.setNote(tx.txid, key, value);
    this.notifyWallet(wallet, tx, null);
    this.addToMempool(tx);
    this.notifyMempoolEntry(tx);
  }

  private fund(
    wallet: SimWallet,
    recipients: Recipient[],
    options: SendOptions,
    preselected: WalletCoin[],
    exclude: ReadonlySet<string>,
  ): SimTx {
    if (!wallet.privateKeysEnabled) {
      throw new RpcError(RpcCode.WALLET_ERROR, "Error: Private keys are disabled for this wallet");
    }
    const perKvb = options.feeRatePerKvb ?? (options.feeRate ?? this.feeRate) * 1000n;
    const sequence = options.replaceable === false ? SEQUENCE_FINAL_NO_RBF : SEQUENCE_RBF;
    // Core refuses a dust recipient before it selects coins: dust wins over "Insufficient funds".
    if (recipients.some((r) => r.amount < dustThreshold(r.scriptHex))) {
      throw new RpcError(RpcCode.WALLET_INSUFFICIENT_FUNDS, "Transaction amount too small");
    }
    const preselectedIds = new Set(preselected.map((coin) => outpoint(coin.txid, coin.vout)));
    const pool = this.spendableCoins(wallet, exclude).filter(
      (coin) => !preselectedIds.has(outpoint(coin.txid, coin.vout)),
    );
    const { chosen, fee, change } = selectCoins(recipients, perKvb, preselected, pool);
    const outputs = paymentOutputs(recipients, fee);
    if (change > 0n) {
      const address = wallet.newAddress(1, null, this.now());
      outputs.push({ value: change, scriptHex: address.scriptHex, address: address.address });
    }
    // bitcoind shuffles every output, the recipients too: vout order is not the request's.
    for (let i = outputs.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [outputs[i], outputs[j]] = [outputs[j] as SimOutput, outputs[i] as SimOutput];
    }
    const inputs: SpendInput[] = chosen.map((coin) => ({
      txid: coin.txid,
      vout: coin.vout,
      sequence,
      pubkeyHex: coin.address.pubkeyHex,
    }));
    return buildSpend(inputs, outputs, this.tipHeight, this.now());
  }

  /**
   * bumpfee: replace an unconfirmed send at a higher fee rate, with the same payments or, given
   * `outputs`, with those instead (a conflicting spend: Core's bumpfee `outputs` option).
   */
  bumpFee(
    wallet: SimWallet,
    txid: string,
    feeRate?: bigint,
    outputs?: readonly Recipient[],
  ): { tx: SimTx; origFee: bigint; fee: bigint } {
    const original = this.bumpable(wallet, txid);
    const preselected = original.inputs.map((input) => {
      const output = this.prevOutput(input.txid, input.vout);
      const owner = this.ownerOf(wallet, output);
      if (!owner || !output) {
        throw new RpcError(
          RpcCode.WALLET_ERROR,
          "Transaction contains inputs that don't belong to this wallet",
        );
      }
      return { txid: input.txid, vout: input.vout, value: output.value, depth: 0, address: owner };
    });
    const origFee = this.fee(original);
    const perKvb = bumpedFeeRate(origFee, original.vsize, this.feeRate, feeRate);
    const recipients: Recipient[] = [];
    const paying = outputs ?? original.outputs.map((output) => ({ ...output, amount: output.value }));
    for (const output of paying) {
      const owner = wallet.ownsScript(output.scriptHex);
      if (owner && owner.label === null) continue; // change is re-made by funding
      recipients.push({
        address: output.address ?? "",
        scriptHex: output.scriptHex,
        amount: output.amount,
        subtractFee: false,
      });
    }
    const replacement = this.fund(
      wallet,
      recipients,
      { feeRatePerKvb: perKvb },
      preselected,
      new Set([txid]),
    );
    this.removeWithDescendants(txid);
    wallet.setNote(txid, "replaced_by_txid", replacement.txid);
    this.commit(wallet, replacement, [["replaces_txid", txid]]);
    return { tx: replacement, origFee, fee: this.fee(replacement) };
  }

  /** The wallet's transaction `txid` if bumpfee may replace it, or bitcoind's refusal. */
  private bumpable(wallet: SimWallet, txid: string): SimTx {
    const original = this.txs.get(txid);
    if (!original || !wallet.knows(txid)) {
      throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Invalid or non-wallet transaction id");
    }
    const hasWalletChild = original.outputs.some((_, vout) =>
      [...(this.allSpends.get(outpoint(txid, vout)) ?? [])].some((child) => wallet.knows(child)),
    );
    if (hasWalletChild)
      throw new RpcError(RpcCode.INVALID_PARAMETER, "Transaction has descendants in the wallet");
    if (this.depth(original) !== 0) {
      throw new RpcError(
        RpcCode.WALLET_ERROR,
        "Transaction has been mined, or is conflicted with a mined transaction",
      );
    }
    if (!original.inputs.some((input) => input.sequence < SEQUENCE_FINAL_NO_RBF)) {
      throw new RpcError(RpcCode.WALLET_ERROR, "Transaction is not BIP 125 replaceable");
    }
    const replacedBy = wallet.note(txid, "replaced_by_txid");
    if (replacedBy !== undefined) {
      throw new RpcError(
        RpcCode.WALLET_ERROR,
        `Cannot bump transaction ${txid} which was already bumped by transaction ${replacedBy}`,
      );
    }
    return original;
  }
}

/**
 * Coins for `recipients` at `perKvb`: the preselected ones, then from `pool` in order until they
 * pay the target and the fee, with change when it is not dust. The fee is what is left without change.
 */
function selectCoins(
  recipients: readonly Recipient[],
  perKvb: bigint,
  preselected: readonly WalletCoin[],
  pool: readonly WalletCoin[],
): { chosen: WalletCoin[]; fee: bigint; change: bigint } {
  // CFeeRate::GetFee: rounded up to the satoshi.
  const feeFor = (vsize: number) => (perKvb * BigInt(vsize) + 999n) / 1000n;
  const target = recipients.reduce((sum, r) => sum + r.amount, 0n);
  const subtracting = recipients.some((r) => r.subtractFee);
  const recipientScripts = recipients.map((r) => r.scriptHex);
  const changeScriptLength = "0014".padEnd(44, "0");
  const chosen = [...preselected];
  let total = chosen.reduce((sum, coin) => sum + coin.value, 0n);
  for (let next = 0; ; next++) {
    if (chosen.length > 0) {
      const feeWithChange = feeFor(estimateVsize(chosen.length, [...recipientScripts, changeScriptLength]));
      const feeNoChange = feeFor(estimateVsize(chosen.length, recipientScripts));
      const need = subtracting ? target : target + feeWithChange;
      if (total >= need && total - need >= dustThreshold(changeScriptLength)) {
        return { chosen, fee: feeWithChange, change: total - need };
      }
      const needNoChange = subtracting ? target : target + feeNoChange;
      if (total >= needNoChange) {
        return { chosen, fee: subtracting ? feeNoChange : total - target, change: 0n };
      }
    }
    const coin = pool[next];
    if (!coin) throw new RpcError(RpcCode.WALLET_INSUFFICIENT_FUNDS, "Insufficient funds");
    chosen.push(coin);
    total += coin.value;
  }
}

/**
 * The recipients' outputs, the fee taken from those flagged subtractFee (bitcoind splits it
 * evenly, the first pays the rest); refused when one of them ends up dust.
 */
function paymentOutputs(recipients: readonly Recipient[], fee: bigint): SimOutput[] {
  const subtracting = recipients.filter((r) => r.subtractFee).length;
  const outputs: SimOutput[] = recipients.map((r) => ({
    value: r.amount,
    scriptHex: r.scriptHex,
    address: r.address,
  }));
  if (subtracting > 0) {
    const share = fee / BigInt(subtracting);
    let remainder = fee - share * BigInt(subtracting);
    recipients.forEach((r, index) => {
      const output = outputs[index] as SimOutput;
      if (!r.subtractFee) return;
      output.value -= share + remainder;
      remainder = 0n;
    });
  }
  for (const output of outputs) {
    if (output.value < dustThreshold(output.scriptHex)) {
      throw new RpcError(
        RpcCode.WALLET_INSUFFICIENT_FUNDS,
        subtracting > 0
          ? "The transaction amount is too small to pay the fee"
          : "Transaction amount too small",
      );
    }
  }
  return outputs;
}

/**
 * bumpfee's rate in sat/kvB: the one asked for (at least the old rate + 1 sat/vB), else
 * bitcoind's EstimateFeeRate: the old rate in sat/kvB (rounded down) + 1 + the wallet's
 * incremental relay fee, at least the wallet's own rate.
 */
function bumpedFeeRate(origFee: bigint, vsize: number, walletFeeRate: bigint, asked?: bigint): bigint {
  const oldRate = (origFee + BigInt(vsize) - 1n) / BigInt(vsize);
  const minRate = oldRate + 1n;
  if (asked !== undefined && asked < minRate) {
    throw new RpcError(
      RpcCode.INVALID_PARAMETER,
      `Insufficient total fee rate ${asked} sat/vB, must be at least ${minRate} sat/vB`,
    );
  }
  if (asked !== undefined) return asked * 1000n;
  const bumped = (origFee * 1000n) / BigInt(vsize) + 1n + BUMP_INCREMENT_PER_KVB;
  const walletRate = walletFeeRate * 1000n;
  return bumped > walletRate ? bumped : walletRate;
}
