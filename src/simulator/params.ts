/**
 * Reading RPC arguments the way bitcoind's RPCHelpMan does: positional or named, JSON null
 * meaning "not given", type mismatches reported as RPC_TYPE_ERROR, amounts parsed from the
 * exact decimal text of the request (lossless-json keeps `0.1` as the string "0.1").
 */
import { isLosslessNumber } from "lossless-json";
import { COIN } from "./chain.js";
import { RpcCode, RpcError } from "./errors.js";

export type JsonTypeName = "null" | "bool" | "number" | "string" | "array" | "object";

export function typeName(value: unknown): JsonTypeName {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "string") return "string";
  if (isLosslessNumber(value) || typeof value === "number") return "number";
  if (Array.isArray(value)) return "array";
  return "object";
}

/** Arguments of one call, in declaration order, with helpers that validate as they read. */
export class Args {
  constructor(
    readonly method: string,
    private readonly names: readonly string[],
    private readonly values: unknown[],
  ) {}

  /** Convert named or positional params, rejecting unknown names and surplus arguments. */
  static from(method: string, names: readonly string[], required: number, params: unknown): Args {
    let values: unknown[];
    if (Array.isArray(params)) {
      values = [...params];
    } else {
      const named = params as Record<string, unknown>;
      values = [];
      for (const [key, value] of Object.entries(named)) {
        const index = names.indexOf(key);
        if (index < 0) throw new RpcError(RpcCode.INVALID_PARAMETER, `Unknown named parameter ${key}`);
        values[index] = value;
      }
    }
    while (
      values.length > 0 &&
      (values[values.length - 1] === null || values[values.length - 1] === undefined)
    ) {
      values.pop();
    }
    const given = values.length;
    const missingRequired = names
      .slice(0, required)
      .some((_, i) => values[i] === undefined || values[i] === null);
    if (given > names.length || missingRequired) {
      // bitcoind answers a wrong argument count with the method's help text (RPC_MISC_ERROR).
      const usage = names.map((name, i) => (i < required ? `"${name}"` : `( "${name}" )`)).join(" ");
      throw new RpcError(RpcCode.MISC_ERROR, `${method} ${usage}`.trim());
    }
    return new Args(method, names, values);
  }

  has(index: number): boolean {
    const value = this.values[index];
    return value !== undefined && value !== null;
  }

  raw(index: number): unknown {
    return this.values[index];
  }

  private typeError(index: number, expected: string): never {
    throw new RpcError(
      RpcCode.TYPE_ERROR,
      `Wrong type passed:\n{\n    "Position ${index + 1} (${this.names[index]})": "JSON value of type ${typeName(
        this.values[index],
      )} is not of expected type ${expected}"\n}`,
    );
  }

  string(index: number): string;
  string(index: number, fallback: string): string;
  string(index: number, fallback?: string): string {
    if (!this.has(index)) return fallback ?? "";
    const value = this.values[index];
    if (typeof value !== "string") this.typeError(index, "string");
    return value;
  }

  optionalString(index: number): string | undefined {
    return this.has(index) ? this.string(index) : undefined;
  }

  int(index: number, fallback: number): number {
    if (!this.has(index)) return fallback;
    const value = this.values[index];
    if (!isLosslessNumber(value)) this.typeError(index, "number");
    const text = value.toString();
    if (!/^-?\d+$/.test(text)) throw new RpcError(RpcCode.TYPE_ERROR, "JSON integer out of range");
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new RpcError(RpcCode.TYPE_ERROR, "JSON integer out of range");
    return n;
  }

  bool(index: number, fallback: boolean): boolean {
    if (!this.has(index)) return fallback;
    const value = this.values[index];
    if (typeof value !== "boolean") this.typeError(index, "bool");
    return value;
  }

  object(index: number): Record<string, unknown> {
    if (!this.has(index)) return {};
    const value = this.values[index];
    if (typeName(value) !== "object") this.typeError(index, "object");
    return value as Record<string, unknown>;
  }

  array(index: number): unknown[] {
    if (!this.has(index)) return [];
    const value = this.values[index];
    if (!Array.isArray(value)) this.typeError(index, "array");
    return value;
  }

  /** Satoshis from a BTC amount argument (number or string). */
  amount(index: number): bigint {
    return amountFromValue(this.values[index]);
  }
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/;

/** bitcoind's AmountFromValue: exact decimal (exponent allowed), ≤ 8 places, within MAX_MONEY. */
export function amountFromValue(value: unknown): bigint {
  if (!isLosslessNumber(value) && typeof value !== "string") {
    throw new RpcError(RpcCode.TYPE_ERROR, "Amount is not a number or string");
  }
  const match = DECIMAL.exec(value.toString());
  if (!match) throw new RpcError(RpcCode.TYPE_ERROR, "Invalid amount");
  const [, sign, whole = "0", fraction = "", exponentText = "0"] = match;
  const exponent = Number(exponentText);
  let digits = (whole + fraction).replace(/^0+(?=\d)/, "");
  let scale = fraction.length - exponent - 8; // decimal places beyond satoshis
  while (scale > 0 && digits.endsWith("0")) {
    digits = digits.slice(0, -1) || "0";
    scale--;
  }
  if (scale > 0 || Math.abs(exponent) > 30) throw new RpcError(RpcCode.TYPE_ERROR, "Invalid amount");
  const sats = BigInt(digits) * 10n ** BigInt(-scale);
  const signed = sign ? -sats : sats;
  if (signed < 0n || signed > 21_000_000n * COIN)
    throw new RpcError(RpcCode.TYPE_ERROR, "Amount out of range");
  return signed;
}

/** bitcoind's ParseHashV: 64 hex digits. */
export function parseHash(value: string, name: string): string {
  if (value.length !== 64) {
    throw new RpcError(
      RpcCode.INVALID_PARAMETER,
      `${name} must be of length 64 (not ${value.length}, for '${value}')`,
    );
  }
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new RpcError(RpcCode.INVALID_PARAMETER, `${name} must be hexadecimal string (not '${value}')`);
  }
  return value.toLowerCase();
}
