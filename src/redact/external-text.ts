/**
 * Text that comes from outside — a webhook receiver's response, a script's stderr, a
 * daemon's error message — made safe to store and show. It ends up in the database, on the
 * dashboard and /status.json, in logs and in the operator's terminal (`events show`), so:
 *
 * - terminal escape sequences go whole (CSI `ESC [ … m`, OSC `ESC ] … BEL` that sets titles
 *   or the clipboard, DCS and the like, in their 7- and 8-bit forms), then every remaining
 *   control character: C0 (ESC starts terminal escape sequences), DEL, C1 (U+0080–U+009F:
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
/** CSI: ESC [ or U+009B, parameters, intermediates, one final byte. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what it removes
const CSI = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]?/g;
/** OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \ or U+009C), or the end of the text. */
const STRING_SEQUENCE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what it removes
  /(?:\u001b[\]PX^_]|[\u0090\u0098\u009d-\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?/g;
const WHITESPACE = /\s+/g;

export interface ExternalTextOptions {
  /** Longest result in characters (default 2000); longer text ends with "…". */
  maxChars?: number;
  /** Values to replace with *** wherever they appear (configured header values, passwords). */
  secrets?: readonly string[];
}

export function cleanExternalText(text: string, options: ExternalTextOptions = {}): string {
  const maxChars = options.maxChars ?? 2000;
  let clean = text.replace(STRING_SEQUENCE, "").replace(CSI, "").replace(INVISIBLE, "");
  // Masked before whitespace is collapsed: a secret may hold spaces. Longest first: a secret
  // that contains another is masked whole.
  const secrets = [...(options.secrets ?? [])].sort((a, b) => b.length - a.length);
  for (const secret of secrets) clean = maskSecret(clean, secret);
  clean = clean.replace(WHITESPACE, " ").trim();
  return clean.length > maxChars ? `${clean.slice(0, maxChars - 1)}…` : clean;
}

/**
 * What a receiver could echo of request headers we send: each value (of Authorization only
 * the credential after the scheme: "Bearer abc" is shown as "Bearer ***"), and its
 * percent-encoding.
 */
export function headerSecrets(headers: Readonly<Record<string, string>>): string[] {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const credential = /^(proxy-)?authorization$/i.test(name)
      ? /^[A-Za-z][\w.+-]*\s+(\S.*)$/.exec(value.trim())?.[1]
      : undefined;
    const secret = credential ?? value;
    secrets.add(secret);
    secrets.add(encodeURIComponent(secret));
  }
  return [...secrets];
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

/**
 * An error from outside (a broker client's, carrying the server's words) as it may be logged:
 * its message cleaned as above, name and code kept, the stack's frames kept under the new
 * first line.
 */
export function cleanExternalError(error: unknown, options: ExternalTextOptions = {}): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const clean = new Error(cleanExternalText(original.message, options));
  clean.name = cleanExternalText(original.name, { maxChars: 100 });
  const code = (original as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") Object.assign(clean, { code });
  const frames = (original.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  clean.stack = [`${clean.name}: ${clean.message}`, ...frames.map((line) => cleanExternalText(line))].join(
    "\n    ",
  );
  return clean;
}
