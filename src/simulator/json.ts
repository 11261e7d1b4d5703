/**
 * JSON text exactly as bitcoind's UniValue writes it: no spaces, keys in insertion order,
 * amounts as numbers with exactly 8 decimals (`1.50000000`). Amounts are bigint satoshis
 * inside; they become raw JSON text here and never pass through a float.
 */
import { isLosslessNumber, stringify as losslessStringify } from "lossless-json";

/** A JSON fragment written verbatim (amounts, floats copied from real bitcoind output). */
export class RawJson {
  constructor(readonly text: string) {}
}

export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | RawJson
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

/** Satoshis as bitcoind prints a BTC amount: `-0.00002820`. */
export function btc(sats: bigint): RawJson {
  const negative = sats < 0n;
  const digits = (negative ? -sats : sats).toString().padStart(9, "0");
  return new RawJson(`${negative ? "-" : ""}${digits.slice(0, -8)}.${digits.slice(-8)}`);
}

/** Serialize; object keys whose value is `undefined` are left out (optional RPC fields). */
export function writeJson(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "null";
  if (value instanceof RawJson) return value.text;
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "number":
      if (!Number.isFinite(value)) return "null";
      return String(value);
    case "string":
      return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => writeJson(item)).join(",")}]`;
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${writeJson(item)}`);
  }
  return `{${parts.join(",")}}`;
}

/** Re-serialize a value parsed by lossless-json (a request id), keeping numbers as sent. */
export function writeParsed(value: unknown): string {
  if (value === undefined) return "null";
  if (isLosslessNumber(value)) return value.toString();
  return losslessStringify(value) ?? "null";
}
