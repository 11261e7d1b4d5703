import { InvalidAmountError } from "../errors.js";

/**
 * Money conversions. Amounts live as integer base units (`bigint`) everywhere inside the
 * product; decimal strings with the coin's full precision appear only at the edges
 * (events, CLI, HTTP, RPC). No `number` is ever on this path: a float cannot hold
 * 20999999.99999999 exactly.
 */

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Parse a decimal string ("1.5", "0.00000001") into base units; rejects excess precision. */
export function parseAmount(text: string, decimals: number, what = "amount"): bigint {
  const trimmed = text.trim();
  const match = DECIMAL.exec(trimmed);
  if (!match) throw new InvalidAmountError(`${what}: expected a decimal number, got ${JSON.stringify(text)}`);
  const [, sign, whole = "0", fraction = ""] = match;
  if (fraction.length > decimals) {
    // Trailing zeros beyond the precision are harmless ("1.500000000" from some RPC printers).
    if (/[^0]/.test(fraction.slice(decimals))) {
      throw new InvalidAmountError(
        `${what}: ${JSON.stringify(text)} has more than ${decimals} decimal places`,
      );
    }
  }
  const units = BigInt(whole + fraction.slice(0, decimals).padEnd(decimals, "0"));
  return checkAmountRange(sign ? -units : units, what);
}

/** The ledger stores base units in signed 64-bit columns (BIGINT on every engine). */
export const MAX_AMOUNT_UNITS = 2n ** 63n - 1n;

/**
 * Refuses base units the ledger's 64-bit columns cannot hold, here at the edge: past it the
 * drivers fail deep inside a query ("bound … bigint is too big"), or compare wrongly.
 */
export function checkAmountRange(units: bigint, what = "amount"): bigint {
  if (units > MAX_AMOUNT_UNITS || units < -MAX_AMOUNT_UNITS) {
    throw new InvalidAmountError(
      `${what}: ${units} base units is beyond the 64-bit range the ledger stores (at most ${MAX_AMOUNT_UNITS})`,
    );
  }
  return units;
}

/** Parse a positive amount as a user would send it: must be > 0. */
export function parsePositiveAmount(text: string, decimals: number, what = "amount"): bigint {
  const units = parseAmount(text, decimals, what);
  if (units <= 0n)
    throw new InvalidAmountError(`${what}: must be greater than zero, got ${JSON.stringify(text)}`);
  return units;
}

/** Format base units as a decimal string with exactly `decimals` places ("0.50000000"). */
export function formatAmount(units: bigint, decimals: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  return `${negative ? "-" : ""}${whole}${decimals > 0 ? `.${fraction}` : ""}`;
}
