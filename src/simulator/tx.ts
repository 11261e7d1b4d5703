/**
 * Real Bitcoin transaction serialization (bitcoinjs-lib), so `hex`, txid and wtxid are
 * consistent with each other and sizes are what bitcoind would report. Signatures are
 * random 72-byte DER-shaped strings: nothing in the simulator verifies them, and a fixed
 * length keeps fee estimation exact.
 */
import { randomBytes } from "node:crypto";
import { script as bscript, crypto, Transaction } from "bitcoinjs-lib";
import { fromHex, reverseHex, toHex } from "./keys.js";

export interface SimInput {
  txid: string;
  vout: number;
  sequence: number;
}

export interface SimOutput {
  value: bigint;
  scriptHex: string;
  address: string | null;
}

export interface SimTx {
  txid: string;
  wtxid: string;
  hex: string;
  coinbase: boolean;
  inputs: SimInput[];
  outputs: SimOutput[];
  size: number;
  strippedSize: number;
  vsize: number;
  weight: number;
  locktime: number;
  /** Unix seconds when the simulator first saw it (bitcoind's timereceived). */
  timeReceived: number;
  /** Blocks (on any branch) that contain it. */
  blocks: Set<string>;
}

/** nSequence of an input that signals BIP 125 replaceability. */
export const SEQUENCE_RBF = 0xfffffffd;
export const SEQUENCE_FINAL_NO_RBF = 0xfffffffe;

/** A 72-byte stand-in for a DER signature plus SIGHASH_ALL. */
function fakeSignature(): Uint8Array {
  return Uint8Array.from([
    0x30,
    0x45,
    0x02,
    0x21,
    0x00,
    ...randomBytes(32),
    0x02,
    0x20,
    ...randomBytes(32),
    0x01,
  ]);
}

function finish(
  tx: Transaction,
  coinbase: boolean,
  inputs: SimInput[],
  outputs: SimOutput[],
  now: number,
): SimTx {
  return {
    txid: tx.getId(),
    wtxid: toHex(Uint8Array.from(tx.getHash(true)).reverse()),
    hex: tx.toHex(),
    coinbase,
    inputs,
    outputs,
    size: tx.byteLength(true),
    strippedSize: tx.byteLength(false),
    vsize: tx.virtualSize(),
    weight: tx.weight(),
    locktime: tx.locktime,
    timeReceived: now,
    blocks: new Set(),
  };
}

export interface SpendInput extends SimInput {
  /** Public key of the P2WPKH output being spent (goes into the witness). */
  pubkeyHex: string;
}

/** A version 2 transaction spending P2WPKH outputs, as a descriptor wallet builds it. */
export function buildSpend(inputs: SpendInput[], outputs: SimOutput[], locktime: number, now: number): SimTx {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = locktime;
  for (const input of inputs) tx.addInput(fromHex(reverseHex(input.txid)), input.vout, input.sequence);
  for (const output of outputs) tx.addOutput(fromHex(output.scriptHex), output.value);
  inputs.forEach((input, index) => {
    tx.setWitness(index, [fakeSignature(), fromHex(input.pubkeyHex)]);
  });
  return finish(
    tx,
    false,
    inputs.map(({ txid, vout, sequence }) => ({ txid, vout, sequence })),
    outputs,
    now,
  );
}

function compactSizeLength(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/** Virtual size of a P2WPKH-only spend with these output scripts (equals buildSpend's). */
export function estimateVsize(inputCount: number, outputScriptHexes: string[]): number {
  let base =
    8 + compactSizeLength(inputCount) + compactSizeLength(outputScriptHexes.length) + 41 * inputCount;
  for (const scriptHex of outputScriptHexes) {
    const length = scriptHex.length / 2;
    base += 8 + compactSizeLength(length) + length;
  }
  // marker+flag, then per input: item count, 72-byte signature, 33-byte key (with lengths)
  const witness = 2 + inputCount * (1 + 1 + 72 + 1 + 33);
  return Math.ceil((base * 4 + witness) / 4);
}

/** Smallest output worth creating (bitcoind's dust threshold at the 3 sat/vB dust relay fee). */
export function dustThreshold(scriptHex: string): bigint {
  const length = scriptHex.length / 2;
  const outputSize = 8 + compactSizeLength(length) + length;
  const isWitness = /^(00|5[1-9a-f]|60)(0[2-9a-f]|[1-2][0-9a-f])/.test(scriptHex);
  return BigInt(3 * (outputSize + (isWitness ? 67 : 148)));
}

function hash256Pair(left: Uint8Array, right: Uint8Array): Uint8Array {
  return crypto.hash256(Uint8Array.from([...left, ...right]));
}

/** Merkle root of hashes given in display (reversed) hex; returns display hex. */
export function merkleRoot(displayHashes: string[]): string {
  let level = displayHashes.map((hash) => fromHex(reverseHex(hash)));
  if (level.length === 0) return "0".repeat(64);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      next.push(hash256Pair(left, level[i + 1] ?? left));
    }
    level = next;
  }
  return reverseHex(toHex(level[0] as Uint8Array));
}

/**
 * A coinbase as Bitcoin Core's miner builds it: BIP 34 height and an extra nonce in the
 * scriptSig (the nonce keeps txids unique when a height is mined twice after a reorg),
 * the payout, and the segwit witness commitment over the block's other transactions.
 */
export function buildCoinbase(
  height: number,
  payoutScriptHex: string,
  payoutAddress: string | null,
  value: bigint,
  otherWtxids: string[],
  now: number,
): SimTx {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = 0;
  const scriptSig = bscript.compile([bscript.number.encode(height), Uint8Array.from(randomBytes(4))]);
  tx.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, scriptSig);
  const reserved = new Uint8Array(32);
  tx.setWitness(0, [reserved]);
  const witnessRoot = fromHex(reverseHex(merkleRoot(["0".repeat(64), ...otherWtxids])));
  const commitment = hash256Pair(witnessRoot, reserved);
  const commitmentScript = Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed, ...commitment]);
  tx.addOutput(fromHex(payoutScriptHex), value);
  tx.addOutput(commitmentScript, 0n);
  return finish(
    tx,
    true,
    [],
    [
      { value, scriptHex: payoutScriptHex, address: payoutAddress },
      { value: 0n, scriptHex: toHex(commitmentScript), address: null },
    ],
    now,
  );
}

/** The 80-byte block header, and its hash in display hex. */
export function blockHeader(fields: {
  version: number;
  prevHash: string;
  merkleRoot: string;
  time: number;
  bits: number;
  nonce: number;
}): { hex: string; hash: string } {
  const header = Buffer.alloc(80);
  header.writeInt32LE(fields.version, 0);
  Buffer.from(reverseHex(fields.prevHash), "hex").copy(header, 4);
  Buffer.from(reverseHex(fields.merkleRoot), "hex").copy(header, 36);
  header.writeUInt32LE(fields.time, 68);
  header.writeUInt32LE(fields.bits, 72);
  header.writeUInt32LE(fields.nonce, 76);
  const hash = reverseHex(toHex(crypto.hash256(Uint8Array.from(header))));
  return { hex: header.toString("hex"), hash };
}

export function compactSizeHex(n: number): string {
  if (n < 0xfd) return n.toString(16).padStart(2, "0");
  const buf = Buffer.alloc(3);
  buf[0] = 0xfd;
  buf.writeUInt16LE(n, 1);
  return buf.toString("hex");
}
