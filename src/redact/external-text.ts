/**
 * Text that comes from outside — a webhook receiver's response, a script's stderr, a
 * daemon's error message — made safe to store and show. It ends up in the database, on the
 * dashboard and /status.json, in logs and in the operator's terminal (`events show`), so:
 *
 * - control characters go: C0 (ESC starts terminal escape sequences), DEL, C1 (U+0080–U+009F:
 *   U+009B is a one-character CSI for many terminals), and the Unicode bidirectional
 *   overrides that make text display in another order than it reads;
 * - secrets the caller names are masked, also where the text was cut through one;
 * - whitespace runs become one space (one line per record) and the length is bounded.
 */

const MASK = "***";
/** Secrets shorter than this are not searched for: masking "1" would mangle every number. */
const MIN_SECRET_CHARS = 4;

const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const WHITESPACE = /\s+/g;

export interface ExternalTextOptions {
  /** Longest result in characters (default 2000); longer text ends with "…". */
  maxChars?: number;
  /** Values to replace with *** wherever they appear (configured header values, passwords). */
  secrets?: readonly string[];
}

export function cleanExternalText(text: string, options: ExternalTextOptions = {}): string {
  const maxChars = options.maxChars ?? 2000;
  let clean = text.replace(INVISIBLE, "");
  // Masked before whitespace is collapsed: a secret may hold spaces ("Bearer abc").
  for (const secret of options.secrets ?? []) clean = maskSecret(clean, secret);
  clean = clean.replace(WHITESPACE, " ").trim();
  return clean.length > maxChars ? `${clean.slice(0, maxChars - 1)}…` : clean;
}

/** Every occurrence, and a piece of the secret at either end (where the caller cut the text). */
function maskSecret(text: string, secret: string): string {
  if (secret.length < MIN_SECRET_CHARS) return text;
  let masked = text.split(secret).join(MASK);
  for (let keep = secret.length - 1; keep >= MIN_SECRET_CHARS; keep--) {
    if (masked.endsWith(secret.slice(0, keep))) {
      masked = `${masked.slice(0, -keep)}${MASK}`;
      break;
    }
  }
  for (let keep = secret.length - 1; keep >= MIN_SECRET_CHARS; keep--) {
    if (masked.startsWith(secret.slice(-keep))) {
      masked = `${MASK}${masked.slice(keep)}`;
      break;
    }
  }
  return masked;
}
