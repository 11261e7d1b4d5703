/**
 * Typed reads of RPC results parsed by lossless-json. Numbers arrive as LosslessNumber
 * holding the daemon's exact text; amounts become bigint base units through parseAmount
 * (exact), counts become safe integers. A missing or mistyped field is an
 * UnexpectedResponseError naming the method and the field, never a silent `undefined`.
 */
import { isLosslessNumber, LosslessNumber } from "lossless-json";
import { parseAmount } from "../../coins/amount.js";
import { InvalidAmountError, UnexpectedResponseError } from "../../errors.js";

export type RpcObject = Record<string, unknown>;

/** The decimal text of an amount as a JSON number the daemon reads exactly: `0.50000000`. */
export function amountParam(decimalText: string): LosslessNumber {
  return new LosslessNumber(decimalText);
}

/** Reads fields of one result object; `where` prefixes every error ("gettransaction.details[0]"). */
export class RpcReader {
  constructor(
    readonly value: RpcObject,
    readonly where: string,
    private readonly decimals: number,
  ) {}

  static of(value: unknown, where: string, decimals: number): RpcReader {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new UnexpectedResponseError(`${where}: expected an object, got ${describe(value)}`);
    }
    return new RpcReader(value as RpcObject, where, decimals);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  string(key: string): string {
    const value = this.value[key];
    if (typeof value !== "string") throw this.wrong(key, "a string", value);
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  boolean(key: string): boolean {
    const value = this.value[key];
    if (typeof value !== "boolean") throw this.wrong(key, "a boolean", value);
    return value;
  }

  optionalBoolean(key: string): boolean | undefined {
    return this.has(key) ? this.boolean(key) : undefined;
  }

  integer(key: string): number {
    return toInteger(this.value[key], `${this.where}.${key}`);
  }

  optionalInteger(key: string): number | undefined {
    return this.has(key) ? this.integer(key) : undefined;
  }

  amount(key: string): bigint {
    return toAmount(this.value[key], `${this.where}.${key}`, this.decimals);
  }

  optionalAmount(key: string): bigint | undefined {
    return this.has(key) ? this.amount(key) : undefined;
  }

  array(key: string): unknown[] {
    const value = this.value[key];
    if (!Array.isArray(value)) throw this.wrong(key, "an array", value);
    return value;
  }

  strings(key: string): string[] {
    return this.array(key).map((item, index) => {
      if (typeof item !== "string") throw this.wrong(`${key}[${index}]`, "a string", item);
      return item;
    });
  }

  private wrong(key: string, expected: string, value: unknown): UnexpectedResponseError {
    return new UnexpectedResponseError(`${this.where}.${key}: expected ${expected}, got ${describe(value)}`);
  }
}

export function toInteger(value: unknown, where: string): number {
  const text = isLosslessNumber(value)
    ? value.toString()
    : typeof value === "number"
      ? String(value)
      : undefined;
  if (text === undefined || !/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UnexpectedResponseError(`${where}: expected an integer, got ${describe(value)}`);
  }
  return Number(text);
}

export function toAmount(value: unknown, where: string, decimals: number): bigint {
  if (!isLosslessNumber(value)) {
    throw new UnexpectedResponseError(`${where}: expected an amount, got ${describe(value)}`);
  }
  try {
    return parseAmount(value.toString(), decimals, where);
  } catch (err) {
    if (err instanceof InvalidAmountError) throw new UnexpectedResponseError(err.message, { cause: err });
    throw err;
  }
}

export function toStringValue(value: unknown, where: string): string {
  if (typeof value !== "string")
    throw new UnexpectedResponseError(`${where}: expected a string, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (isLosslessNumber(value)) return `number ${value.toString()}`;
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}
