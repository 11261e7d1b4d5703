import { InvalidNotifyValueError } from "../errors.js";

/**
 * What a notification carries: a txid (walletnotify `%s`) or a block hash (blocknotify `%s`).
 * Both are 32-byte hashes printed as 64 hex characters; we normalize to lowercase so the
 * same transaction notified by different transports coalesces to one key.
 */

const HASH_HEX = /^[0-9a-f]{64}$/;

/** Longest raw input echoed back in an error message, so garbage never floods a log line. */
const PREVIEW_CHARS = 80;

function preview(raw: string): string {
  const shown = raw.length > PREVIEW_CHARS ? `${raw.slice(0, PREVIEW_CHARS)}…` : raw;
  return JSON.stringify(shown);
}

/** Trims whitespace, lowercases, and checks for exactly 64 hex characters. */
export function normalizeNotifyValue(raw: string): string {
  const value = raw.trim().toLowerCase();
  if (value.length === 0) {
    throw new InvalidNotifyValueError(
      "notification is empty: expected a txid or block hash (64 hex characters)",
    );
  }
  if (!HASH_HEX.test(value)) {
    throw new InvalidNotifyValueError(
      `notification value ${preview(raw)} is not a txid or block hash: expected 64 hex characters, got ${value.length} characters`,
    );
  }
  return value;
}

/** True when `raw` would pass {@link normalizeNotifyValue}. */
export function isNotifyValue(raw: string): boolean {
  return HASH_HEX.test(raw.trim().toLowerCase());
}
