/**
 * Key material that looks like a descriptor wallet's: compressed public keys, P2WPKH
 * scripts, bech32 `bcrt1q…` addresses, `wpkh([fingerprint/84h/1h/0h/0/i]pubkey)#checksum`
 * descriptors and a tpub. No private keys exist: the simulator never verifies signatures,
 * so the public keys are random 33-byte strings with a valid prefix.
 */
import { randomBytes } from "node:crypto";
import { address, crypto, networks } from "bitcoinjs-lib";

export const REGTEST = networks.regtest;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** Bytes reversed: bitcoind prints hashes (txids, block hashes) in reverse byte order. */
export function reverseHex(hex: string): string {
  return toHex(fromHex(hex).reverse());
}

export function randomPubkey(): Uint8Array {
  const key = randomBytes(33);
  key[0] = (key[0] ?? 0) & 1 ? 0x03 : 0x02;
  return Uint8Array.from(key);
}

/** OP_0 <20-byte hash160(pubkey)> */
export function p2wpkhScript(pubkey: Uint8Array): Uint8Array {
  const program = crypto.hash160(pubkey);
  return Uint8Array.from([0x00, 0x14, ...program]);
}

export function scriptAddress(script: Uint8Array): string | null {
  try {
    return address.fromOutputScript(script, REGTEST);
  } catch {
    return null;
  }
}

/** The output script an address pays to, or null when it is not a regtest address. */
export function addressScript(text: string): Uint8Array | null {
  try {
    return address.toOutputScript(text, REGTEST);
  } catch {
    return null;
  }
}

// Descriptor checksum (BIP 380), as Bitcoin Core's descriptor.cpp computes it.
const INPUT_CHARSET =
  "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
const CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0xf5dee51989n, 0xa9fdca3312n, 0x1bab10e32dn, 0x3706b1677an, 0x644d626ffdn];

function polymod(symbols: number[]): bigint {
  let chk = 1n;
  for (const value of symbols) {
    const top = chk >> 35n;
    chk = ((chk & 0x7ffffffffn) << 5n) ^ BigInt(value);
    for (let i = 0; i < 5; i++) {
      if ((top >> BigInt(i)) & 1n) chk ^= GENERATOR[i] ?? 0n;
    }
  }
  return chk;
}

export function descriptorWithChecksum(descriptor: string): string {
  const symbols: number[] = [];
  let groups: number[] = [];
  for (const char of descriptor) {
    const value = INPUT_CHARSET.indexOf(char);
    if (value < 0) throw new Error(`character ${JSON.stringify(char)} cannot appear in a descriptor`);
    symbols.push(value & 31);
    groups.push(value >> 5);
    if (groups.length === 3) {
      symbols.push((groups[0] ?? 0) * 9 + (groups[1] ?? 0) * 3 + (groups[2] ?? 0));
      groups = [];
    }
  }
  if (groups.length === 1) symbols.push(groups[0] ?? 0);
  if (groups.length === 2) symbols.push((groups[0] ?? 0) * 3 + (groups[1] ?? 0));
  const checksum = polymod([...symbols, 0, 0, 0, 0, 0, 0, 0, 0]) ^ 1n;
  let suffix = "";
  for (let i = 0; i < 8; i++) suffix += CHECKSUM_CHARSET[Number((checksum >> BigInt(5 * (7 - i))) & 31n)];
  return `${descriptor}#${suffix}`;
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58check(payload: Uint8Array): string {
  const bytes = Uint8Array.from([...payload, ...crypto.hash256(payload).subarray(0, 4)]);
  let n = BigInt(`0x${toHex(bytes)}`);
  let text = "";
  while (n > 0n) {
    text = BASE58[Number(n % 58n)] + text;
    n /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = `1${text}`;
  }
  return text;
}

/** An account-level extended public key (depth 3, m/84h/1h/0h) in testnet `tpub` encoding. */
export function randomTpub(): string {
  const payload = Uint8Array.from([
    0x04,
    0x35,
    0x87,
    0xcf,
    0x03,
    ...randomBytes(4),
    0x80,
    0x00,
    0x00,
    0x00,
    ...randomBytes(32),
    ...randomPubkey(),
  ]);
  return base58check(payload);
}
