/**
 * bitcoind result objects → the Backend interface's types. Amounts keep bitcoind's signs (a
 * `send` detail and its fee are negative); confirmations are not normalized (negative means
 * conflicted). Fields we do not use (hex, wtxid, parent_descs…) are dropped here so the rest
 * of the product never depends on them.
 */

import { UnexpectedResponseError } from "../../errors.js";
import type {
  ChainTip,
  DetailCategory,
  SinceBlockEntry,
  SinceBlockResult,
  TransactionDetail,
  WalletBalances,
  WalletTransaction,
} from "../backend.js";
import { RpcReader } from "./values.js";

const CATEGORIES: ReadonlySet<string> = new Set<DetailCategory>([
  "send",
  "receive",
  "generate",
  "immature",
  "orphan",
]);

function category(reader: RpcReader): DetailCategory {
  const value = reader.string("category");
  if (!CATEGORIES.has(value)) {
    throw new UnexpectedResponseError(`${reader.where}.category: unknown category ${JSON.stringify(value)}`);
  }
  return value as DetailCategory;
}

/** The per-output part shared by `gettransaction.details[]` and `listsinceblock` entries. */
function detailFields(reader: RpcReader): TransactionDetail {
  const detail: TransactionDetail = {
    category: category(reader),
    amount: reader.amount("amount"),
    vout: reader.integer("vout"),
  };
  return setDefined(detail, {
    address: reader.optionalString("address"),
    fee: reader.optionalAmount("fee"),
    label: reader.optionalString("label"),
    abandoned: reader.optionalBoolean("abandoned"),
  });
}

/** Sets the fields whose value bitcoind gave: an absent one stays absent (not `undefined`). */
function setDefined<T extends object>(target: T, values: { [K in keyof T]?: T[K] | undefined }): T {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
  return target;
}

function blockFields(reader: RpcReader, target: { blockhash?: string; blockheight?: number }): void {
  setDefined(target, {
    blockhash: reader.optionalString("blockhash"),
    blockheight: reader.optionalInteger("blockheight"),
  });
}

export function toWalletTransaction(result: unknown, decimals: number): WalletTransaction {
  const reader = RpcReader.of(result, "gettransaction", decimals);
  const tx: WalletTransaction = {
    txid: reader.string("txid"),
    confirmations: reader.integer("confirmations"),
    amount: reader.amount("amount"),
    details: reader
      .array("details")
      .map((item, index) => detailFields(RpcReader.of(item, `gettransaction.details[${index}]`, decimals))),
    walletconflicts: reader.strings("walletconflicts"),
    time: reader.integer("time"),
  };
  blockFields(reader, tx);
  return setDefined(tx, {
    replaced_by_txid: reader.optionalString("replaced_by_txid"),
    timereceived: reader.optionalInteger("timereceived"),
    fee: reader.optionalAmount("fee"),
  });
}

function toSinceBlockEntry(item: unknown, where: string, decimals: number): SinceBlockEntry {
  const reader = RpcReader.of(item, where, decimals);
  const entry: SinceBlockEntry = {
    ...detailFields(reader),
    txid: reader.string("txid"),
    confirmations: reader.integer("confirmations"),
  };
  blockFields(reader, entry);
  if (reader.has("walletconflicts")) entry.walletconflicts = reader.strings("walletconflicts");
  return setDefined(entry, { replaced_by_txid: reader.optionalString("replaced_by_txid") });
}

export function toSinceBlockResult(result: unknown, decimals: number): SinceBlockResult {
  const reader = RpcReader.of(result, "listsinceblock", decimals);
  // `removed` is only present when include_removed was requested; absent means none.
  const removed = reader.has("removed") ? reader.array("removed") : [];
  return {
    transactions: reader
      .array("transactions")
      .map((item, index) => toSinceBlockEntry(item, `listsinceblock.transactions[${index}]`, decimals)),
    removed: removed.map((item, index) =>
      toSinceBlockEntry(item, `listsinceblock.removed[${index}]`, decimals),
    ),
    lastblock: reader.string("lastblock"),
  };
}

/** `listtransactions` entries: the same fields as listsinceblock's, oldest first. */
export function toTransactionEntries(result: unknown, decimals: number): SinceBlockEntry[] {
  if (!Array.isArray(result)) {
    throw new UnexpectedResponseError(`listtransactions: expected an array, got ${typeof result}`);
  }
  return result.map((item: unknown, index) =>
    toSinceBlockEntry(item, `listtransactions[${index}]`, decimals),
  );
}

export function toChainTip(result: unknown): ChainTip {
  const reader = RpcReader.of(result, "getblockchaininfo", 0);
  return {
    height: reader.integer("blocks"),
    hash: reader.string("bestblockhash"),
    chain: reader.string("chain"),
  };
}

/** `getbalances` (Core ≥ 0.19): the `mine` balances and, from Core 0.21 on, `lastprocessedblock`. */
export function toWalletBalances(result: unknown, decimals: number): WalletBalances {
  const reader = RpcReader.of(result, "getbalances", decimals);
  const mine = RpcReader.of(reader.value.mine, "getbalances.mine", decimals);
  const last = reader.has("lastprocessedblock")
    ? RpcReader.of(reader.value.lastprocessedblock, "getbalances.lastprocessedblock", decimals)
    : undefined;
  return {
    trusted: mine.amount("trusted"),
    untrustedPending: mine.amount("untrusted_pending"),
    immature: mine.amount("immature"),
    lastProcessedBlock: last && { hash: last.string("hash"), height: last.integer("height") },
  };
}

/** What findSendsByComment needs of a `listtransactions` entry. */
export interface CommentedEntry {
  txid: string;
  category: string;
  timereceived: number;
  comment?: string;
}

export function toCommentedEntries(result: unknown): CommentedEntry[] {
  if (!Array.isArray(result)) {
    throw new UnexpectedResponseError(`listtransactions: expected an array, got ${typeof result}`);
  }
  return result.map((item: unknown, index) => {
    const entry = RpcReader.of(item, `listtransactions[${index}]`, 0);
    const commented: CommentedEntry = {
      txid: entry.string("txid"),
      category: entry.string("category"),
      timereceived: entry.integer("timereceived"),
    };
    return setDefined(commented, { comment: entry.optionalString("comment") });
  });
}
