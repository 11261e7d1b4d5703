/**
 * The coins we know: precision and address formats per network. bitcoind-compatible
 * coins differ only in these parameters, so one table describes them all.
 */
import { createRequire } from "node:module";
import { errorMessage, InvalidAddressError, UnknownCoinError } from "../errors.js";

type AddressCodec = typeof import("bitcoinjs-lib").address;
let addressCodec: AddressCodec | undefined;

/**
 * bitcoinjs-lib's address encoding, loaded by the first address checked or made: the helper
 * service following deposits never needs it, and the library costs ~13 MiB and ~0.2 s of CPU
 * to load. Synchronous (require) so validateAddress stays synchronous.
 */
export function bitcoinAddressCodec(): AddressCodec {
  addressCodec ??= (createRequire(import.meta.url)("bitcoinjs-lib") as typeof import("bitcoinjs-lib"))
    .address;
  return addressCodec;
}

export type NetworkName = "mainnet" | "testnet" | "regtest";

export interface AddressFormat {
  /** Base58Check version bytes of pay-to-pubkey-hash and pay-to-script-hash addresses. */
  pubKeyHash: number;
  scriptHash: number;
  /** Human-readable part of segwit (bech32/bech32m) addresses; undefined where the coin has none. */
  bech32?: string;
}

export interface CoinInfo {
  /** Lowercase acronym used as coin_name in events and as the config key. */
  name: string;
  displayName: string;
  decimals: number;
  /**
   * Smallest amount `send` accepts, in base units (`coins.<name>.dust_limit` overrides it).
   * A node refuses to create an output worth less than it costs to spend ("dust"), and the
   * threshold depends on the output type; the default is the one of the largest standard
   * output (P2PKH) at the node's default dust relay fee, so no address type is refused:
   * BTC 546 sat (182 vbytes × 3 sat/vB; P2WPKH 294, P2TR 330), LTC 5,460 (10× Bitcoin's
   * dust relay fee), DOGE 0.01 (Dogecoin Core's soft dust limit).
   */
  dustLimit: bigint;
  networks: Record<NetworkName, AddressFormat>;
}

const COINS: Record<string, CoinInfo> = {
  btc: {
    name: "btc",
    displayName: "Bitcoin",
    decimals: 8,
    dustLimit: 546n,
    networks: {
      mainnet: { pubKeyHash: 0x00, scriptHash: 0x05, bech32: "bc" },
      testnet: { pubKeyHash: 0x6f, scriptHash: 0xc4, bech32: "tb" },
      regtest: { pubKeyHash: 0x6f, scriptHash: 0xc4, bech32: "bcrt" },
    },
  },
  ltc: {
    name: "ltc",
    displayName: "Litecoin",
    decimals: 8,
    dustLimit: 5_460n,
    networks: {
      mainnet: { pubKeyHash: 0x30, scriptHash: 0x32, bech32: "ltc" },
      testnet: { pubKeyHash: 0x6f, scriptHash: 0x3a, bech32: "tltc" },
      regtest: { pubKeyHash: 0x6f, scriptHash: 0x3a, bech32: "rltc" },
    },
  },
  doge: {
    name: "doge",
    displayName: "Dogecoin",
    decimals: 8,
    dustLimit: 1_000_000n,
    networks: {
      mainnet: { pubKeyHash: 0x1e, scriptHash: 0x16 },
      testnet: { pubKeyHash: 0x71, scriptHash: 0xc4 },
      regtest: { pubKeyHash: 0x6f, scriptHash: 0xc4 },
    },
  },
};

/**
 * The network of a daemon's `getblockchaininfo.chain`: Bitcoin Core says main, test,
 * testnet4, signet or regtest (Litecoin and Dogecoin the same first three). Signet and
 * testnet4 use testnet's address formats. Undefined for a chain we do not know.
 */
export function networkOfChain(chain: string): NetworkName | undefined {
  switch (chain) {
    case "main":
      return "mainnet";
    case "test":
    case "testnet4":
    case "signet":
      return "testnet";
    case "regtest":
      return "regtest";
    default:
      return undefined;
  }
}

export function knownCoins(): string[] {
  return Object.keys(COINS);
}

export function getCoin(name: string): CoinInfo {
  const coin = COINS[name.toLowerCase()];
  if (!coin)
    throw new UnknownCoinError(
      `unknown coin ${JSON.stringify(name)}; known coins: ${knownCoins().join(", ")}`,
    );
  return coin;
}

/**
 * The one spelling of an address the ledger stores and looks up: a bech32 address written in
 * upper case (as QR codes do; BIP 173 allows all-upper or all-lower) in lower case, which is
 * how the daemon reports it. Otherwise the same address under two spellings would be two
 * ledger rows, and two outputs of one sendmany that the daemon refuses as duplicates.
 * Mixed case is left alone: it is not a valid bech32 address and validation says so.
 */
export function canonicalAddress(coin: CoinInfo, text: string): string {
  const lower = text.toLowerCase();
  if (text !== text.toUpperCase() || lower === text) return text;
  const bech32 = Object.values(coin.networks).some(
    (format) => format.bech32 !== undefined && lower.startsWith(`${format.bech32}1`),
  );
  return bech32 ? lower : text;
}

/** canonicalAddress for text that may belong to any known coin (searches across coins). */
export function canonicalAddressOfAnyCoin(text: string): string {
  for (const coin of Object.values(COINS)) {
    const canonical = canonicalAddress(coin, text);
    if (canonical !== text) return canonical;
  }
  return text;
}

/**
 * Throws InvalidAddressError unless `text` is a well-formed address of `coin` on `network`
 * (checksum, version byte or bech32 prefix, witness program length).
 */
export function validateAddress(coin: CoinInfo, network: NetworkName, text: string): void {
  const format = coin.networks[network];
  const btcAddress = bitcoinAddressCodec();
  const fail = (why: string): never => {
    throw new InvalidAddressError(`${JSON.stringify(text)} is not a ${coin.name} ${network} address: ${why}`);
  };
  if (format.bech32 && text.toLowerCase().startsWith(`${format.bech32}1`)) {
    let decoded: ReturnType<typeof btcAddress.fromBech32>;
    try {
      decoded = btcAddress.fromBech32(text);
    } catch (err) {
      fail(errorMessage(err));
      return;
    }
    if (decoded.prefix !== format.bech32) fail(`wrong prefix ${decoded.prefix}`);
    if (decoded.version === 0 && decoded.data.length !== 20 && decoded.data.length !== 32) {
      fail("witness v0 program must be 20 or 32 bytes");
    }
    if (decoded.version === 1 && decoded.data.length !== 32) fail("taproot program must be 32 bytes");
    if (decoded.version > 16 || decoded.data.length < 2 || decoded.data.length > 40)
      fail("bad witness program");
    return;
  }
  let decoded: ReturnType<typeof btcAddress.fromBase58Check>;
  try {
    decoded = btcAddress.fromBase58Check(text);
  } catch (err) {
    fail(errorMessage(err));
    return;
  }
  if (decoded.hash.length !== 20) fail("hash must be 20 bytes");
  if (decoded.version !== format.pubKeyHash && decoded.version !== format.scriptHash) {
    fail(`version byte ${decoded.version} belongs to another network or coin`);
  }
}

export function isValidAddress(coin: CoinInfo, network: NetworkName, text: string): boolean {
  try {
    validateAddress(coin, network, text);
    return true;
  } catch {
    return false;
  }
}
