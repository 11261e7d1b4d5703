/**
 * JSON with every number kept as its exact text (a LosslessNumber, as lossless-json's
 * `parse` gives), at the speed of the engine's JSON.parse: one scan quotes each number
 * outside strings with a marker, JSON.parse builds the tree, and a walk turns the marked
 * strings back into LosslessNumbers. lossless-json's own parser, in JavaScript, took ~55 µs
 * per gettransaction reply against ~10 µs for this (issue 14: a share of every deposit's CPU).
 *
 * The marker is U+0000, which a JSON text can only carry inside a string as the escape
 * `\u0000`: a number becomes "\u0000<digits>", and a string that itself starts with U+0000
 * gets a second one in front ("\u0000\u0000…"), removed by the walk (keys too) — so no
 * string is ever taken for a number.
 */
import { LosslessNumber } from "lossless-json";

const ESCAPED_MARK = "\\u0000";

const QUOTE = 34;
const BACKSLASH = 92;
const MINUS = 45;

function isNumberStart(code: number): boolean {
  return code === MINUS || (code >= 48 && code <= 57);
}

/** Characters a JSON number token can contain after its first: digits . e E + - */
function isNumberPart(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || code === 46 || code === 101 || code === 69 || code === 43 || code === MINUS
  );
}

/** Index of the quote that closes the string opened at `open`; -1 when it is not closed. */
function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1);
  while (at !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = text.indexOf('"', at + 1);
  }
  return -1;
}

/** The text with numbers outside strings quoted behind the marker (see above). */
function markNumbers(text: string): string {
  const parts: string[] = [];
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      if (text.startsWith(ESCAPED_MARK, i + 1)) {
        parts.push(text.slice(copied, i + 1), ESCAPED_MARK);
        copied = i + 1;
      }
      const close = closingQuote(text, i);
      if (close === -1) break; // unterminated: JSON.parse reports it
      i = close;
    } else if (isNumberStart(code)) {
      let end = i + 1;
      while (end < text.length && isNumberPart(text.charCodeAt(end))) end++;
      parts.push(text.slice(copied, i), `"${ESCAPED_MARK}`, text.slice(i, end), '"');
      copied = end;
      i = end - 1;
    }
  }
  if (copied === 0) return text;
  parts.push(text.slice(copied));
  return parts.join("");
}

function restore(value: unknown): unknown {
  if (typeof value === "string") {
    if (value.charCodeAt(0) !== 0) return value;
    if (value.charCodeAt(1) === 0) return value.slice(1);
    const digits = value.slice(1);
    try {
      // It checks the JSON number grammar (RFC 8259 §6): the scan took any run of number characters.
      return new LosslessNumber(digits);
    } catch (err) {
      throw new SyntaxError(`invalid number ${JSON.stringify(digits)} in JSON`, { cause: err });
    }
  }
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = restore(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  let markedKey = false;
  for (const key in record) {
    record[key] = restore(record[key]);
    if (key.charCodeAt(0) === 0) markedKey = true;
  }
  if (!markedKey) return record;
  // A key that starts with U+0000 was marked like any string: unmark it, keeping the order.
  return Object.fromEntries(
    Object.entries(record).map(([key, item]) => [key.charCodeAt(0) === 0 ? key.slice(1) : key, item]),
  );
}

/** JSON.parse, with every number as a LosslessNumber of its exact text; throws SyntaxError. */
export function parseExactJson(text: string): unknown {
  return restore(JSON.parse(markNumbers(text)));
}
