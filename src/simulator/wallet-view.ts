/**
 * What bitcoind's wallet RPCs print about a transaction, ported from
 * src/wallet/rpc/transactions.cpp (ListTransactions, WalletTxToJSON) and receive.cpp /
 * coins.cpp (GetBalance): key order, which keys appear when, signs of amounts and fees.
 */
import type { Chain } from "./chain.js";
import { btc, type JsonValue } from "./json.js";
import type { SimTx } from "./tx.js";
import type { SimWallet } from "./wallet.js";

interface OutputEntry {
  address: string | null;
  amount: bigint;
  vout: number;
}

interface Amounts {
  debit: bigint;
  credit: bigint;
  /** Positive; only when the wallet paid (debit > 0). */
  fee: bigint;
  sent: OutputEntry[];
  received: OutputEntry[];
}

/** bitcoind's CachedTxGetAmounts plus the debit/credit totals gettransaction needs. */
function amounts(chain: Chain, wallet: SimWallet, tx: SimTx, includeChange: boolean): Amounts {
  let debit = 0n;
  for (const input of tx.inputs) {
    const output = chain.prevOutput(input.txid, input.vout);
    if (output && wallet.ownsScript(output.scriptHex)) debit += output.value;
  }
  let credit = 0n;
  let valueOut = 0n;
  const sent: OutputEntry[] = [];
  const received: OutputEntry[] = [];
  tx.outputs.forEach((output, vout) => {
    valueOut += output.value;
    const owner = wallet.ownsScript(output.scriptHex);
    if (owner) credit += output.value;
    if (debit > 0n) {
      if (!includeChange && owner && owner.label === null) return;
    } else if (!owner) {
      return;
    }
    const entry = { address: output.address, amount: output.value, vout };
    if (debit > 0n) sent.push(entry);
    if (owner) received.push(entry);
  });
  if (chain.isImmatureCoinbase(tx)) credit = 0n;
  return { debit, credit, fee: debit > 0n ? debit - valueOut : 0n, sent, received };
}

export function lastProcessedBlock(chain: Chain): JsonValue {
  return { hash: chain.tip.hash, height: chain.tipHeight };
}

/** WalletTxToJSON: the per-transaction fields shared by gettransaction and list entries. */
function walletTxFields(chain: Chain, wallet: SimWallet, tx: SimTx): Record<string, JsonValue> {
  const depth = chain.depth(tx);
  const block = chain.confirmedBlock(tx);
  const fields: Record<string, JsonValue> = { confirmations: depth };
  if (tx.coinbase) fields.generated = true;
  if (block) {
    fields.blockhash = block.hash;
    fields.blockheight = block.height;
    fields.blockindex = block.txids.indexOf(tx.txid);
    fields.blocktime = block.time;
  } else {
    fields.trusted = chain.isTrusted(wallet, tx);
  }
  fields.txid = tx.txid;
  fields.wtxid = tx.wtxid;
  fields.walletconflicts = chain.walletConflicts(wallet, tx);
  fields.mempoolconflicts = chain.mempoolConflicts(tx);
  fields.time = tx.timeReceived;
  fields.timereceived = tx.timeReceived;
  fields["bip125-replaceable"] = depth <= 0 ? chain.replaceableStatus(tx) : "no";
  for (const [key, value] of wallet.notesOf(tx.txid)) fields[key] = value;
  return fields;
}

function receiveCategory(chain: Chain, tx: SimTx): string {
  if (!tx.coinbase) return "receive";
  if (chain.depth(tx) < 1) return "orphan";
  return chain.isImmatureCoinbase(tx) ? "immature" : "generate";
}

export interface ListOptions {
  minDepth: number;
  long: boolean;
  includeChange: boolean;
  /** Only receive entries with this label (and no send entries), as bitcoind filters. */
  label?: string;
}

/** How many entries listEntries gives for `tx`, without building them (listtransactions' skip). */
export function listEntryCount(chain: Chain, wallet: SimWallet, tx: SimTx, options: ListOptions): number {
  const { sent, received } = amounts(chain, wallet, tx, options.includeChange);
  let count = options.label === undefined ? sent.length : 0;
  if (chain.depth(tx) >= options.minDepth) {
    for (const output of received) {
      const book = output.address === null ? undefined : wallet.addressInfo(output.address);
      const label = book && book.label !== null ? book.label : undefined;
      if (options.label === undefined || label === options.label) count++;
    }
  }
  return count;
}

/** ListTransactions: one entry per sent and per received output. */
export function listEntries(chain: Chain, wallet: SimWallet, tx: SimTx, options: ListOptions): JsonValue[] {
  const entries: JsonValue[] = [];
  const { sent, received, fee } = amounts(chain, wallet, tx, options.includeChange);
  const shared = options.long ? walletTxFields(chain, wallet, tx) : {};
  if (options.label === undefined) {
    for (const output of sent) {
      const book = output.address === null ? undefined : wallet.addressInfo(output.address);
      entries.push({
        address: output.address ?? undefined,
        category: "send",
        amount: btc(-output.amount),
        label: book && book.label !== null ? book.label : undefined,
        vout: output.vout,
        fee: btc(-fee),
        ...shared,
        abandoned: false,
      });
    }
  }
  if (chain.depth(tx) >= options.minDepth) {
    for (const output of received) {
      const book = output.address === null ? undefined : wallet.addressInfo(output.address);
      const label = book && book.label !== null ? book.label : undefined;
      if (options.label !== undefined && label !== options.label) continue;
      entries.push({
        address: output.address ?? undefined,
        parent_descs: book ? [wallet.parentDescriptor(book.branch)] : [],
        category: receiveCategory(chain, tx),
        amount: btc(output.amount),
        label,
        vout: output.vout,
        abandoned: false,
        ...shared,
      });
    }
  }
  return entries;
}

/** The gettransaction result (without the optional `decoded`). */
export function transactionResult(
  chain: Chain,
  wallet: SimWallet,
  tx: SimTx,
  includeChange = false,
): JsonValue {
  const { debit, credit, fee } = amounts(chain, wallet, tx, false);
  const fromMe = debit > 0n;
  const topFee = fromMe ? -fee : 0n;
  return {
    amount: btc(credit - debit - topFee),
    fee: fromMe ? btc(topFee) : undefined,
    ...walletTxFields(chain, wallet, tx),
    details: listEntries(chain, wallet, tx, { minDepth: 0, long: false, includeChange }),
    hex: tx.hex,
    lastprocessedblock: lastProcessedBlock(chain),
  };
}

export interface Balances {
  trusted: bigint;
  untrustedPending: bigint;
  immature: bigint;
}

/** GetBalance: trusted spendable, untrusted mempool, immature coinbase. */
export function walletBalances(chain: Chain, wallet: SimWallet, minDepth = 0): Balances {
  const result: Balances = { trusted: 0n, untrustedPending: 0n, immature: 0n };
  for (const txid of wallet.txOrder) {
    const tx = chain.txs.get(txid);
    if (!tx) continue;
    const depth = chain.depth(tx);
    let unspent = 0n;
    tx.outputs.forEach((output, vout) => {
      if (wallet.ownsScript(output.scriptHex) && !chain.isSpent(txid, vout)) unspent += output.value;
    });
    if (chain.isImmatureCoinbase(tx)) {
      if (depth > 0) result.immature += unspent;
      continue;
    }
    const trusted = chain.isTrusted(wallet, tx);
    if (trusted && depth >= minDepth) result.trusted += unspent;
    if (!trusted && depth === 0 && chain.mempool.has(txid)) result.untrustedPending += unspent;
  }
  return result;
}
