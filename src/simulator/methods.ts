/**
 * The RPC methods: argument lists (for named parameters and argument-count errors), then
 * the result shapes of Bitcoin Core v29 as recorded in the project's regtest samples.
 */
import { type Chain, COIN, type Recipient, type SimBlock } from "./chain.js";
import { RpcCode, RpcError } from "./errors.js";
import { btc, type JsonValue, RawJson } from "./json.js";
import { addressScript, scriptAddress } from "./keys.js";
import { Args, amountFromValue, parseHash, typeName } from "./params.js";
import { compactSizeHex, type SimTx } from "./tx.js";
import type { SimWallet } from "./wallet.js";
import {
  lastProcessedBlock,
  listEntries,
  listEntryCount,
  transactionResult,
  walletBalances,
} from "./wallet-view.js";

export interface CallContext {
  chain: Chain;
  /** Wallet named by the `/wallet/<name>` URL path, if any. */
  pathWallet: string | undefined;
  startedAt: number;
  requestStop(): void;
}

interface MethodSpec {
  args: readonly string[];
  required: number;
  run(args: Args, ctx: CallContext): JsonValue;
}

const DIFFICULTY = new RawJson("4.656542373906925e-10");
const TARGET = `7fffff${"0".repeat(58)}`;

/** bitcoind's GetWalletForJSONRPCRequest. */
export function requestWallet(ctx: CallContext): SimWallet {
  const { chain } = ctx;
  if (ctx.pathWallet !== undefined) {
    const wallet = chain.loadedWallet(ctx.pathWallet);
    if (!wallet)
      throw new RpcError(RpcCode.WALLET_NOT_FOUND, "Requested wallet does not exist or is not loaded");
    return wallet;
  }
  const loaded = chain.loadedWallets();
  if (loaded.length === 1) return loaded[0] as SimWallet;
  if (loaded.length === 0) {
    throw new RpcError(
      RpcCode.WALLET_NOT_FOUND,
      "No wallet is loaded. Load a wallet using loadwallet or create a new one with createwallet. (Note: A default wallet is no longer automatically created)",
    );
  }
  throw new RpcError(
    RpcCode.WALLET_NOT_SPECIFIED,
    "Multiple wallets are loaded. Please select which wallet to use by requesting the RPC through the /wallet/<walletname> URI path.",
  );
}

function chainwork(height: number): string {
  return ((height + 1) * 2).toString(16).padStart(64, "0");
}

function blockHeaderJson(chain: Chain, block: SimBlock): Record<string, JsonValue | undefined> {
  const next = chain.isActive(block) ? chain.activeHashAt(block.height + 1) : undefined;
  return {
    hash: block.hash,
    confirmations: chain.blockConfirmations(block),
    height: block.height,
    version: block.version,
    versionHex: block.version.toString(16).padStart(8, "0"),
    merkleroot: block.merkleRoot,
    time: block.time,
    mediantime: chain.medianTimePast(block),
    nonce: block.nonce,
    bits: block.bits.toString(16).padStart(8, "0"),
    target: TARGET,
    difficulty: DIFFICULTY,
    chainwork: chainwork(block.height),
    nTx: block.txids.length,
    previousblockhash: block.prevHash ?? undefined,
    nextblockhash: next,
  };
}

function blockHex(chain: Chain, block: SimBlock): string {
  const txs = block.txids.map((txid) => chain.txs.get(txid)?.hex ?? "");
  return block.headerHex + compactSizeHex(txs.length) + txs.join("");
}

function scriptDetails(scriptHex: string): Record<string, JsonValue | undefined> {
  const version = Number.parseInt(scriptHex.slice(0, 2), 16);
  const pushLength = Number.parseInt(scriptHex.slice(2, 4), 16);
  const isWitness =
    (version === 0 || (version >= 0x51 && version <= 0x60)) &&
    pushLength >= 2 &&
    pushLength <= 40 &&
    scriptHex.length === 4 + pushLength * 2;
  const isP2sh = /^a914[0-9a-f]{40}87$/.test(scriptHex);
  return {
    isscript: isP2sh || (isWitness && version === 0 && pushLength === 32),
    iswitness: isWitness,
    witness_version: isWitness ? (version === 0 ? 0 : version - 0x50) : undefined,
    witness_program: isWitness ? scriptHex.slice(4) : undefined,
  };
}

function recipientScript(address: string): string {
  const script = addressScript(address);
  if (!script) throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, `Invalid Bitcoin address: ${address}`);
  return Buffer.from(script).toString("hex");
}

/** The option keys bitcoind's bumpfee accepts; any other is refused ("Unexpected key"). */
const BUMPFEE_OPTIONS = new Set([
  "conf_target",
  "fee_rate",
  "replaceable",
  "estimate_mode",
  "outputs",
  "original_change_index",
]);

/**
 * bumpfee's `outputs` (bitcoind's ParseOutputs): `{"address": amount, …}` or
 * `[{"address": amount}, …]`; they replace the original payments (change is made anew).
 */
function bumpfeeOutputs(value: unknown): Recipient[] {
  const entries: [string, unknown][] = [];
  if (Array.isArray(value)) {
    if (value.length === 0) {
      throw new RpcError(
        RpcCode.INVALID_PARAMETER,
        "Invalid parameter, output argument cannot be an empty array",
      );
    }
    for (const item of value) {
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new RpcError(
          RpcCode.INVALID_PARAMETER,
          "Invalid parameter, key-value pair not an object as expected",
        );
      }
      const pairs = Object.entries(item);
      if (pairs.length !== 1) {
        throw new RpcError(
          RpcCode.INVALID_PARAMETER,
          "Invalid parameter, key-value pair must contain exactly one key",
        );
      }
      entries.push(pairs[0] as [string, unknown]);
    }
  } else if (typeof value === "object" && value !== null) {
    entries.push(...Object.entries(value));
  } else {
    throw new RpcError(
      RpcCode.TYPE_ERROR,
      `JSON value of type ${typeName(value)} is not of expected type array`,
    );
  }
  const seen = new Set<string>();
  return entries.map(([address, amount]) => {
    const scriptHex = recipientScript(address);
    if (seen.has(address)) {
      throw new RpcError(RpcCode.INVALID_PARAMETER, `Invalid parameter, duplicated address: ${address}`);
    }
    seen.add(address);
    return { address, scriptHex, amount: amountFromValue(amount), subtractFee: false };
  });
}

/** fee_rate arguments are sat/vB; fractions round up so the rate is never undercut. */
function feeRateArg(value: unknown): bigint {
  const scaled = amountFromValue(value);
  return (scaled + COIN - 1n) / COIN;
}

function sendResult(tx: SimTx, verbose: boolean): JsonValue {
  return verbose ? { txid: tx.txid, fee_reason: "Fallback fee" } : tx.txid;
}

function lookupWalletTx(ctx: CallContext, wallet: SimWallet, txidText: string): SimTx {
  const txid = parseHash(txidText, "txid");
  const tx = ctx.chain.txs.get(txid);
  if (!tx || !wallet.knows(txid)) {
    throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Invalid or non-wallet transaction id");
  }
  return tx;
}

function mempoolRelatives(chain: Chain, tx: SimTx, direction: "up" | "down"): Set<SimTx> {
  const found = new Set<SimTx>();
  const visit = (current: SimTx) => {
    const next: SimTx[] = [];
    if (direction === "up") {
      for (const input of current.inputs) {
        const parent = chain.mempool.get(input.txid);
        if (parent) next.push(parent);
      }
    } else {
      for (const other of chain.mempool.values()) {
        if (other.inputs.some((input) => input.txid === current.txid)) next.push(other);
      }
    }
    for (const relative of next) {
      if (found.has(relative)) continue;
      found.add(relative);
      visit(relative);
    }
  };
  visit(tx);
  return found;
}

function mempoolEntry(chain: Chain, tx: SimTx): JsonValue {
  const ancestors = mempoolRelatives(chain, tx, "up");
  const descendants = mempoolRelatives(chain, tx, "down");
  const sum = (txs: Iterable<SimTx>, pick: (tx: SimTx) => bigint) => {
    let total = 0n;
    for (const item of txs) total += pick(item);
    return total;
  };
  const fee = chain.fee(tx);
  return {
    vsize: tx.vsize,
    weight: tx.weight,
    time: tx.timeReceived,
    height: chain.tipHeight,
    descendantcount: descendants.size + 1,
    descendantsize: Number(sum(descendants, (item) => BigInt(item.vsize))) + tx.vsize,
    ancestorcount: ancestors.size + 1,
    ancestorsize: Number(sum(ancestors, (item) => BigInt(item.vsize))) + tx.vsize,
    wtxid: tx.wtxid,
    fees: {
      base: btc(fee),
      modified: btc(fee),
      ancestor: btc(fee + sum(ancestors, (item) => chain.fee(item))),
      descendant: btc(fee + sum(descendants, (item) => chain.fee(item))),
    },
    depends: [...new Set(tx.inputs.map((input) => input.txid).filter((txid) => chain.mempool.has(txid)))],
    spentby: [...chain.mempool.values()]
      .filter((other) => other.inputs.some((input) => input.txid === tx.txid))
      .map((other) => other.txid),
    "bip125-replaceable": chain.replaceableStatus(tx) === "yes",
    unbroadcast: false,
  };
}

const NETWORK_INFO: JsonValue = {
  version: 299900,
  subversion: "/Satoshi:29.99.0(simulate-bitcoind)/",
  protocolversion: 70016,
  localservices: "0000000000000c09",
  localservicesnames: ["NETWORK", "WITNESS", "NETWORK_LIMITED", "P2P_V2"],
  localrelay: true,
  timeoffset: 0,
  networkactive: true,
  connections: 0,
  connections_in: 0,
  connections_out: 0,
  networks: ["ipv4", "ipv6", "onion", "i2p", "cjdns"].map((name) => ({
    name,
    limited: name !== "ipv4" && name !== "ipv6",
    reachable: name === "ipv4" || name === "ipv6",
    proxy: "",
    proxy_randomize_credentials: false,
  })),
  relayfee: btc(1000n),
  incrementalfee: btc(1000n),
  localaddresses: [],
  warnings: [],
};

export const METHODS: Record<string, MethodSpec> = {
  // ---- wallets ----
  createwallet: {
    args: [
      "wallet_name",
      "disable_private_keys",
      "blank",
      "passphrase",
      "avoid_reuse",
      "descriptors",
      "load_on_startup",
      "external_signer",
    ],
    required: 1,
    run(args, { chain }) {
      const name = args.string(0);
      const disablePrivateKeys = args.bool(1, false);
      args.bool(2, false);
      if (!args.bool(5, true)) {
        throw new RpcError(
          RpcCode.WALLET_ERROR,
          'descriptors argument must be set to "true"; it is no longer possible to create a legacy wallet.',
        );
      }
      if (chain.walletExists(name)) {
        throw new RpcError(
          RpcCode.WALLET_ERROR,
          `Wallet file verification failed. Failed to create database path '${name}'. Database already exists.`,
        );
      }
      chain.createWallet(name, !disablePrivateKeys);
      return { name };
    },
  },
  loadwallet: {
    args: ["filename", "load_on_startup"],
    required: 1,
    run(args, { chain }) {
      const name = args.string(0);
      if (chain.loadedWallet(name)) {
        throw new RpcError(RpcCode.WALLET_ALREADY_LOADED, `Wallet "${name}" is already loaded.`);
      }
      if (!chain.walletExists(name)) {
        throw new RpcError(
          RpcCode.WALLET_NOT_FOUND,
          `Wallet file verification failed. Failed to load database path '${name}'. Path does not exist.`,
        );
      }
      chain.loadWallet(name);
      return { name };
    },
  },
  unloadwallet: {
    args: ["wallet_name", "load_on_startup"],
    required: 0,
    run(args, ctx) {
      const named = args.optionalString(0);
      if (named !== undefined && ctx.pathWallet !== undefined && named !== ctx.pathWallet) {
        throw new RpcError(
          RpcCode.INVALID_PARAMETER,
          "RPC endpoint wallet and wallet_name parameter specify different wallets",
        );
      }
      const name = named ?? ctx.pathWallet;
      if (name === undefined) {
        throw new RpcError(
          RpcCode.INVALID_PARAMETER,
          "Either the RPC endpoint wallet or the wallet name parameter must be provided",
        );
      }
      if (!ctx.chain.loadedWallet(name)) {
        throw new RpcError(RpcCode.WALLET_NOT_FOUND, "Requested wallet does not exist or is not loaded");
      }
      ctx.chain.unloadWallet(name);
      return {};
    },
  },
  listwallets: {
    args: [],
    required: 0,
    run(_args, { chain }) {
      return chain.loadedWallets().map((wallet) => wallet.name);
    },
  },
  listwalletdir: {
    args: [],
    required: 0,
    run(_args, { chain }) {
      return { wallets: chain.allWalletNames().map((name) => ({ name })) };
    },
  },
  getwalletinfo: {
    args: [],
    required: 0,
    run(_args, ctx) {
      const wallet = requestWallet(ctx);
      return {
        walletname: wallet.name,
        walletversion: 169900,
        format: "sqlite",
        txcount: wallet.txOrder.length,
        keypoolsize: 1000,
        keypoolsize_hd_internal: 1000,
        paytxfee: btc(0n),
        private_keys_enabled: wallet.privateKeysEnabled,
        avoid_reuse: false,
        scanning: false,
        descriptors: true,
        external_signer: false,
        blank: false,
        birthtime: wallet.birthTime,
        lastprocessedblock: lastProcessedBlock(ctx.chain),
      };
    },
  },
  getnewaddress: {
    args: ["label", "address_type"],
    required: 0,
    run(args, ctx) {
      const label = args.string(0, "");
      const type = args.string(1, "bech32");
      if (label === "*") throw new RpcError(RpcCode.WALLET_ERROR, "Invalid label name");
      const wallet = requestWallet(ctx);
      checkAddressType(type);
      return wallet.newAddress(0, label, ctx.chain.now()).address;
    },
  },
  getrawchangeaddress: {
    args: ["address_type"],
    required: 0,
    run(args, ctx) {
      const type = args.string(0, "bech32");
      const wallet = requestWallet(ctx);
      checkAddressType(type);
      return wallet.newAddress(1, null, ctx.chain.now()).address;
    },
  },
  getaddressinfo: {
    args: ["address"],
    required: 1,
    run(args, ctx) {
      const address = args.string(0);
      const wallet = requestWallet(ctx);
      const script = addressScript(address);
      if (!script) throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Invalid address");
      const scriptHex = Buffer.from(script).toString("hex");
      const mine = wallet.ownsScript(scriptHex);
      const details = scriptDetails(scriptHex);
      if (!mine) {
        return {
          address,
          scriptPubKey: scriptHex,
          ismine: false,
          solvable: false,
          iswatchonly: false,
          ...details,
          ischange: false,
          labels: [],
        };
      }
      return {
        address,
        scriptPubKey: scriptHex,
        ismine: true,
        solvable: true,
        desc: wallet.keyDescriptor(mine),
        parent_desc: wallet.parentDescriptor(mine.branch),
        iswatchonly: false,
        ...details,
        pubkey: mine.pubkeyHex,
        ischange: mine.label === null,
        timestamp: mine.timestamp,
        hdkeypath: `m/84h/1h/0h/${mine.branch}/${mine.index}`,
        hdseedid: "0".repeat(40),
        hdmasterfingerprint: wallet.fingerprint,
        labels: mine.label === null ? [] : [mine.label],
      };
    },
  },
  validateaddress: {
    args: ["address"],
    required: 1,
    run(args) {
      const address = args.string(0);
      const script = addressScript(address);
      if (!script) {
        return {
          isvalid: false,
          error_locations: [],
          error: "Invalid or unsupported Segwit (Bech32) or Base58 encoding.",
        };
      }
      const scriptHex = Buffer.from(script).toString("hex");
      // bitcoind answers with the canonical encoding (bech32 in lower case), not the input.
      return {
        isvalid: true,
        address: scriptAddress(script) ?? address,
        scriptPubKey: scriptHex,
        ...scriptDetails(scriptHex),
      };
    },
  },
  getbalance: {
    args: ["dummy", "minconf", "include_watchonly", "avoid_reuse"],
    required: 0,
    run(args, ctx) {
      const dummy = args.optionalString(0);
      const minconf = args.int(1, 0);
      args.bool(2, false);
      args.bool(3, true);
      const wallet = requestWallet(ctx);
      if (dummy !== undefined && dummy !== "*") {
        throw new RpcError(-32, 'dummy first argument must be excluded or set to "*".');
      }
      return btc(walletBalances(ctx.chain, wallet, minconf).trusted);
    },
  },
  getbalances: {
    args: [],
    required: 0,
    run(_args, ctx) {
      const wallet = requestWallet(ctx);
      const balances = walletBalances(ctx.chain, wallet);
      return {
        mine: {
          trusted: btc(balances.trusted),
          untrusted_pending: btc(balances.untrustedPending),
          immature: btc(balances.immature),
        },
        lastprocessedblock: lastProcessedBlock(ctx.chain),
      };
    },
  },
  listunspent: {
    args: ["minconf", "maxconf", "addresses", "include_unsafe", "query_options"],
    required: 0,
    run(args, ctx) {
      const minconf = args.int(0, 1);
      const maxconf = args.int(1, 9999999);
      const only = new Set(args.array(2).map(String));
      const includeUnsafe = args.bool(3, true);
      const wallet = requestWallet(ctx);
      const { chain } = ctx;
      const result: JsonValue[] = [];
      for (const txid of wallet.txOrder) {
        const tx = chain.txs.get(txid);
        if (!tx || chain.isImmatureCoinbase(tx)) continue;
        const depth = chain.depth(tx);
        if (depth < minconf || depth > maxconf || depth < 0) continue;
        if (depth === 0 && !chain.mempool.has(txid)) continue;
        const safe = chain.isTrusted(wallet, tx);
        if (!safe && !includeUnsafe) continue;
        tx.outputs.forEach((output, vout) => {
          const owner = wallet.ownsScript(output.scriptHex);
          if (!owner || chain.isSpent(txid, vout)) return;
          if (only.size > 0 && !only.has(owner.address)) return;
          result.push({
            txid,
            vout,
            address: owner.address,
            label: owner.label ?? undefined,
            scriptPubKey: output.scriptHex,
            amount: btc(output.value),
            confirmations: depth,
            spendable: true,
            solvable: true,
            desc: wallet.keyDescriptor(owner),
            parent_descs: [wallet.parentDescriptor(owner.branch)],
            safe,
          });
        });
      }
      return result;
    },
  },
  sendtoaddress: {
    args: [
      "address",
      "amount",
      "comment",
      "comment_to",
      "subtractfeefromamount",
      "replaceable",
      "conf_target",
      "estimate_mode",
      "avoid_reuse",
      "fee_rate",
      "verbose",
    ],
    required: 2,
    run(args, ctx) {
      const address = args.string(0);
      const amount = args.amount(1);
      const comment = args.optionalString(2);
      const commentTo = args.optionalString(3);
      const subtractFee = args.bool(4, false);
      const replaceable = args.bool(5, true);
      const feeRate = args.has(9) ? feeRateArg(args.raw(9)) : undefined;
      const verbose = args.bool(10, false);
      const wallet = requestWallet(ctx);
      const scriptHex = recipientScript(address);
      if (amount <= 0n) throw new RpcError(RpcCode.TYPE_ERROR, "Invalid amount for send");
      const notes: [string, string][] = [];
      if (comment) notes.push(["comment", comment]);
      if (commentTo) notes.push(["to", commentTo]);
      const tx = ctx.chain.send(wallet, [{ address, scriptHex, amount, subtractFee }], {
        feeRate,
        replaceable,
        notes,
      });
      return sendResult(tx, verbose);
    },
  },
  sendmany: {
    args: [
      "dummy",
      "amounts",
      "minconf",
      "comment",
      "subtractfeefrom",
      "replaceable",
      "conf_target",
      "estimate_mode",
      "fee_rate",
      "verbose",
    ],
    required: 2,
    run(args, ctx) {
      const dummy = args.optionalString(0);
      if (dummy !== undefined && dummy !== "") {
        throw new RpcError(RpcCode.INVALID_PARAMETER, 'Dummy value must be set to ""');
      }
      const amounts = args.object(1);
      const comment = args.optionalString(3);
      const subtractFrom = new Set(args.array(4).map(String));
      const replaceable = args.bool(5, true);
      const feeRate = args.has(8) ? feeRateArg(args.raw(8)) : undefined;
      const verbose = args.bool(9, false);
      const wallet = requestWallet(ctx);
      const recipients: Recipient[] = [];
      for (const [address, value] of Object.entries(amounts)) {
        const scriptHex = recipientScript(address);
        // One destination spelled twice (upper- and lower-case bech32) is refused, as Core does.
        if (recipients.some((r) => r.scriptHex === scriptHex)) {
          throw new RpcError(RpcCode.INVALID_PARAMETER, `Invalid parameter, duplicated address: ${address}`);
        }
        const amount = amountFromValue(value);
        if (amount <= 0n) throw new RpcError(RpcCode.TYPE_ERROR, "Invalid amount for send");
        recipients.push({ address, scriptHex, amount, subtractFee: subtractFrom.has(address) });
      }
      if (recipients.length === 0) {
        throw new RpcError(RpcCode.INVALID_PARAMETER, "Transaction must have at least one recipient");
      }
      const notes: [string, string][] = comment ? [["comment", comment]] : [];
      const tx = ctx.chain.send(wallet, recipients, { feeRate, replaceable, notes });
      return sendResult(tx, verbose);
    },
  },
  bumpfee: {
    args: ["txid", "options"],
    required: 1,
    run(args, ctx) {
      const txidText = args.string(0);
      const options = args.object(1);
      for (const key of Object.keys(options)) {
        if (!BUMPFEE_OPTIONS.has(key)) throw new RpcError(RpcCode.TYPE_ERROR, `Unexpected key ${key}`);
      }
      const wallet = requestWallet(ctx);
      const txid = parseHash(txidText, "txid");
      const feeRate = options.fee_rate !== undefined ? feeRateArg(options.fee_rate) : undefined;
      const outputs = options.outputs !== undefined ? bumpfeeOutputs(options.outputs) : undefined;
      const bumped = ctx.chain.bumpFee(wallet, txid, feeRate, outputs);
      return { txid: bumped.tx.txid, origfee: btc(bumped.origFee), fee: btc(bumped.fee), errors: [] };
    },
  },
  gettransaction: {
    args: ["txid", "include_watchonly", "verbose"],
    required: 1,
    run(args, ctx) {
      const txid = args.string(0);
      args.bool(1, true);
      args.bool(2, false);
      const wallet = requestWallet(ctx);
      return transactionResult(ctx.chain, wallet, lookupWalletTx(ctx, wallet, txid));
    },
  },
  listtransactions: {
    args: ["label", "count", "skip", "include_watchonly"],
    required: 0,
    run(args, ctx) {
      const label = args.string(0, "*");
      const count = args.int(1, 10);
      const skip = args.int(2, 0);
      args.bool(3, true);
      const wallet = requestWallet(ctx);
      if (count < 0) throw new RpcError(RpcCode.INVALID_PARAMETER, "Negative count");
      if (skip < 0) throw new RpcError(RpcCode.INVALID_PARAMETER, "Negative from");
      const { chain } = ctx;
      const options = {
        minDepth: 0,
        long: true,
        includeChange: false,
        label: label === "*" ? undefined : label,
      };
      // Newest first until count+skip entries, then the window, returned oldest first. The
      // entries of transactions wholly inside the skipped part are only counted, not built:
      // paging through a large wallet stays linear in the page, not in the skip.
      const newestFirst: JsonValue[] = [];
      let skipped = 0;
      for (let i = wallet.txOrder.length - 1; i >= 0 && skipped + newestFirst.length < count + skip; i--) {
        const tx = chain.txs.get(wallet.txOrder[i] as string);
        if (!tx) continue;
        if (newestFirst.length === 0) {
          const n = listEntryCount(chain, wallet, tx, options);
          if (skipped + n <= skip) {
            skipped += n;
            continue;
          }
        }
        newestFirst.push(...listEntries(chain, wallet, tx, options));
      }
      return newestFirst.slice(skip - skipped, skip - skipped + count).reverse();
    },
  },
  listsinceblock: {
    args: [
      "blockhash",
      "target_confirmations",
      "include_watchonly",
      "include_removed",
      "include_change",
      "label",
    ],
    required: 0,
    run(args, ctx) {
      const hashText = args.string(0, "");
      const targetConfirmations = args.int(1, 1);
      args.bool(2, true);
      const includeRemoved = args.bool(3, true);
      const includeChange = args.bool(4, false);
      const label = args.optionalString(5);
      const wallet = requestWallet(ctx);
      const { chain } = ctx;
      let since: SimBlock | undefined;
      let forkHeight = 0;
      if (hashText !== "") {
        since = chain.block(parseHash(hashText, "blockhash"));
        let cursor = since;
        while (!chain.isActive(cursor)) cursor = chain.block(cursor.prevHash as string);
        forkHeight = cursor.height;
      }
      if (targetConfirmations < 1) throw new RpcError(RpcCode.INVALID_PARAMETER, "Invalid parameter");
      const depth = since ? chain.tipHeight + 1 - forkHeight : -1;
      const transactions: JsonValue[] = [];
      for (const txid of wallet.txOrder) {
        const tx = chain.txs.get(txid);
        if (!tx) continue;
        if (depth === -1 || Math.abs(chain.depth(tx)) < depth) {
          transactions.push(
            ...listEntries(chain, wallet, tx, { minDepth: 0, long: true, includeChange, label }),
          );
        }
      }
      const removed: JsonValue[] = [];
      if (includeRemoved && since) {
        for (
          let cursor = since;
          cursor.height > forkHeight;
          cursor = chain.block(cursor.prevHash as string)
        ) {
          for (const txid of cursor.txids) {
            const tx = chain.txs.get(txid);
            if (tx && wallet.knows(txid)) {
              removed.push(
                ...listEntries(chain, wallet, tx, {
                  minDepth: -100_000_000,
                  long: true,
                  includeChange,
                  label,
                }),
              );
            }
          }
        }
      }
      const target = Math.min(targetConfirmations, chain.tipHeight + 1);
      return {
        transactions,
        removed: includeRemoved ? removed : undefined,
        lastblock: chain.activeHashAt(chain.tipHeight + 1 - target) as string,
      };
    },
  },

  // ---- chain ----
  getblockcount: {
    args: [],
    required: 0,
    run: (_args, { chain }) => chain.tipHeight,
  },
  getbestblockhash: {
    args: [],
    required: 0,
    run: (_args, { chain }) => chain.tip.hash,
  },
  getblockhash: {
    args: ["height"],
    required: 1,
    run(args, { chain }) {
      const height = args.int(0, 0);
      const hash = height >= 0 ? chain.activeHashAt(height) : undefined;
      if (hash === undefined) throw new RpcError(RpcCode.INVALID_PARAMETER, "Block height out of range");
      return hash;
    },
  },
  getblockheader: {
    args: ["blockhash", "verbose"],
    required: 1,
    run(args, { chain }) {
      const block = chain.block(parseHash(args.string(0), "hash"));
      return args.bool(1, true) ? blockHeaderJson(chain, block) : block.headerHex;
    },
  },
  getblock: {
    args: ["blockhash", "verbosity"],
    required: 1,
    run(args, { chain }) {
      const hashText = args.string(0);
      const raw = args.raw(1);
      const verbosity = typeof raw === "boolean" ? (raw ? 1 : 0) : args.int(1, 1);
      const block = chain.block(parseHash(hashText, "blockhash"));
      if (verbosity <= 0) return blockHex(chain, block);
      if (verbosity > 1) {
        throw new RpcError(
          RpcCode.INVALID_PARAMETER,
          "simulate-bitcoind supports getblock verbosity 0 and 1 only",
        );
      }
      return {
        ...blockHeaderJson(chain, block),
        strippedsize: block.strippedSize,
        size: block.size,
        weight: block.weight,
        tx: block.txids,
      };
    },
  },
  getblockchaininfo: {
    args: [],
    required: 0,
    run(_args, { chain }) {
      const tip = chain.tip;
      let sizeOnDisk = 0;
      for (const block of chain.blocks.values()) sizeOnDisk += block.size + 8;
      return {
        chain: "regtest",
        blocks: chain.tipHeight,
        headers: chain.tipHeight,
        bestblockhash: tip.hash,
        bits: tip.bits.toString(16).padStart(8, "0"),
        target: TARGET,
        difficulty: DIFFICULTY,
        time: tip.time,
        mediantime: chain.medianTimePast(tip),
        verificationprogress: 1,
        initialblockdownload: chain.inInitialBlockDownload(),
        chainwork: chainwork(tip.height),
        size_on_disk: sizeOnDisk,
        pruned: false,
        warnings: [],
      };
    },
  },
  getchaintips: {
    args: [],
    required: 0,
    run(_args, { chain }) {
      const hasChild = new Set<string>();
      for (const block of chain.blocks.values()) if (block.prevHash) hasChild.add(block.prevHash);
      const tips: JsonValue[] = [];
      for (const block of chain.blocks.values()) {
        if (hasChild.has(block.hash) && !(block === chain.tip)) continue;
        let fork = block;
        while (!chain.isActive(fork)) fork = chain.block(fork.prevHash as string);
        let invalid = false;
        for (let cursor = block; !chain.isActive(cursor); cursor = chain.block(cursor.prevHash as string)) {
          if (cursor.invalid) invalid = true;
        }
        tips.push({
          height: block.height,
          hash: block.hash,
          branchlen: block.height - fork.height,
          status: chain.isActive(block) ? "active" : invalid ? "invalid" : "valid-fork",
        });
      }
      return tips;
    },
  },
  generatetoaddress: {
    args: ["nblocks", "address", "maxtries"],
    required: 2,
    run(args, { chain }) {
      const count = args.int(0, 0);
      const address = args.string(1);
      args.int(2, 1_000_000);
      return chain.mine(Math.max(0, count), address);
    },
  },
  invalidateblock: {
    args: ["blockhash"],
    required: 1,
    run(args, { chain }) {
      chain.invalidateBlock(parseHash(args.string(0), "blockhash"));
      return null;
    },
  },
  reconsiderblock: {
    args: ["blockhash"],
    required: 1,
    run(args, { chain }) {
      chain.reconsiderBlock(parseHash(args.string(0), "blockhash"));
      return null;
    },
  },
  getrawmempool: {
    args: ["verbose", "mempool_sequence"],
    required: 0,
    run(args, { chain }) {
      if (!args.bool(0, false)) return [...chain.mempool.keys()];
      const result: Record<string, JsonValue> = {};
      for (const tx of chain.mempool.values()) result[tx.txid] = mempoolEntry(chain, tx);
      return result;
    },
  },
  getmempoolentry: {
    args: ["txid"],
    required: 1,
    run(args, { chain }) {
      const tx = chain.mempool.get(parseHash(args.string(0), "txid"));
      if (!tx) throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Transaction not in mempool");
      return mempoolEntry(chain, tx);
    },
  },
  getrawtransaction: {
    args: ["txid", "verbose", "blockhash"],
    required: 1,
    run(args, { chain }) {
      const txid = parseHash(args.string(0), "parameter 1");
      const raw = args.raw(1);
      const verbose = typeof raw === "boolean" ? raw : args.int(1, 0) > 0;
      const blockHash = args.has(2) ? parseHash(args.string(2), "parameter 3") : undefined;
      const tx = chain.txs.get(txid);
      const found = blockHash
        ? tx && chain.block(blockHash).txids.includes(txid)
        : tx && chain.mempool.has(txid);
      if (!tx || !found) {
        throw new RpcError(
          RpcCode.INVALID_ADDRESS_OR_KEY,
          blockHash
            ? "No such transaction found in the provided block. Use gettransaction for wallet transactions."
            : "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries. Use gettransaction for wallet transactions.",
        );
      }
      if (verbose) {
        throw new RpcError(
          RpcCode.INVALID_PARAMETER,
          "simulate-bitcoind supports getrawtransaction verbose=0 only",
        );
      }
      return tx.hex;
    },
  },

  // ---- node ----
  getnetworkinfo: {
    args: [],
    required: 0,
    run: () => NETWORK_INFO,
  },
  uptime: {
    args: [],
    required: 0,
    run: (_args, ctx) => Math.floor((Date.now() - ctx.startedAt) / 1000),
  },
  ping: {
    args: [],
    required: 0,
    run: () => null,
  },
  stop: {
    args: ["wait"],
    required: 0,
    run(_args, ctx) {
      ctx.requestStop();
      return "Bitcoin Core stopping";
    },
  },
};

function checkAddressType(type: string): void {
  if (type === "bech32") return;
  if (["legacy", "p2sh-segwit", "bech32m"].includes(type)) {
    throw new RpcError(
      RpcCode.WALLET_ERROR,
      `simulate-bitcoind hands out bech32 addresses only, not ${type}`,
    );
  }
  throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, `Unknown address type '${type}'`);
}

/** Run one call: argument checks first (as RPCHelpMan does), then the method. */
export function callMethod(method: string, params: unknown, ctx: CallContext): JsonValue {
  const spec = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
  if (!spec) throw new RpcError(RpcCode.METHOD_NOT_FOUND, "Method not found");
  const args = Args.from(method, spec.args, spec.required, params);
  return spec.run(args, ctx);
}
