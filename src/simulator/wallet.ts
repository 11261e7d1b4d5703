/**
 * A descriptor wallet as the simulator keeps it: its addresses (receiving ones are in the
 * address book with a label, change ones are not — that is how bitcoind tells change
 * apart), the order in which it first saw each transaction, and per-transaction notes
 * (`comment`, `replaced_by_txid`…) that bitcoind stores in `mapValue`.
 */
import { randomBytes } from "node:crypto";
import {
  descriptorWithChecksum,
  p2wpkhScript,
  randomPubkey,
  randomTpub,
  scriptAddress,
  toHex,
} from "./keys.js";

export interface WalletAddress {
  address: string;
  scriptHex: string;
  pubkeyHex: string;
  /** 0 receiving, 1 change (the descriptor branch). */
  branch: 0 | 1;
  index: number;
  /** `null` when the address is not in the address book (change). */
  label: string | null;
  timestamp: number;
}

export class SimWallet {
  readonly fingerprint = toHex(randomBytes(4));
  readonly birthTime: number;
  private readonly tpub = randomTpub();
  private readonly byScript = new Map<string, WalletAddress>();
  private readonly byAddress = new Map<string, WalletAddress>();
  private readonly nextIndex: [number, number] = [0, 0];
  /** Txids in the order the wallet first saw them (bitcoind's nOrderPos). */
  readonly txOrder: string[] = [];
  private readonly known = new Set<string>();
  /** bitcoind's per-transaction `mapValue`, printed by gettransaction in key order. */
  private readonly notes = new Map<string, Map<string, string>>();

  constructor(
    readonly name: string,
    readonly privateKeysEnabled: boolean,
    now: number,
  ) {
    this.birthTime = now;
  }

  newAddress(branch: 0 | 1, label: string | null, now: number): WalletAddress {
    const index = this.nextIndex[branch];
    this.nextIndex[branch] = index + 1;
    const pubkey = randomPubkey();
    const script = p2wpkhScript(pubkey);
    const address = scriptAddress(script);
    if (address === null) throw new Error("could not encode a P2WPKH address");
    const entry: WalletAddress = {
      address,
      scriptHex: toHex(script),
      pubkeyHex: toHex(pubkey),
      branch,
      index,
      label,
      timestamp: now,
    };
    this.byScript.set(entry.scriptHex, entry);
    this.byAddress.set(address, entry);
    return entry;
  }

  ownsScript(scriptHex: string): WalletAddress | undefined {
    return this.byScript.get(scriptHex);
  }

  addressInfo(address: string): WalletAddress | undefined {
    return this.byAddress.get(address);
  }

  /** Number of addresses handed out (getwalletinfo's keypool bookkeeping). */
  addressCount(): number {
    return this.byAddress.size;
  }

  /** The descriptor of one key: `wpkh([fp/84h/1h/0h/branch/index]pubkey)#checksum`. */
  keyDescriptor(entry: WalletAddress): string {
    return descriptorWithChecksum(
      `wpkh([${this.fingerprint}/84h/1h/0h/${entry.branch}/${entry.index}]${entry.pubkeyHex})`,
    );
  }

  /** The ranged descriptor an address comes from (`parent_descs`). */
  parentDescriptor(branch: 0 | 1): string {
    // Fixed per branch; the checksum is costly and every listed entry prints it.
    let descriptor = this.#parentDescriptors[branch];
    if (descriptor === undefined) {
      descriptor = descriptorWithChecksum(`wpkh([${this.fingerprint}/84h/1h/0h]${this.tpub}/${branch}/*)`);
      this.#parentDescriptors[branch] = descriptor;
    }
    return descriptor;
  }
  readonly #parentDescriptors: [string | undefined, string | undefined] = [undefined, undefined];

  /** Record a transaction the first time the wallet sees it; returns whether it was new. */
  remember(txid: string): boolean {
    if (this.known.has(txid)) return false;
    this.known.add(txid);
    this.txOrder.push(txid);
    return true;
  }

  knows(txid: string): boolean {
    return this.known.has(txid);
  }

  setNote(txid: string, key: string, value: string): void {
    let notes = this.notes.get(txid);
    if (!notes) {
      notes = new Map();
      this.notes.set(txid, notes);
    }
    notes.set(key, value);
  }

  note(txid: string, key: string): string | undefined {
    return this.notes.get(txid)?.get(key);
  }

  /** Notes sorted by key, as bitcoind's std::map iterates them. */
  notesOf(txid: string): [string, string][] {
    return [...(this.notes.get(txid) ?? new Map<string, string>()).entries()].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
  }
}
