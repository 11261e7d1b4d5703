/**
 * Standard Webhooks signing (https://www.standardwebhooks.com), shared by the sender
 * (HttpEventHandler) and the receiver helper (verifyWebhook):
 *
 *   webhook-id:        the event_id (stable across retries, so receivers can deduplicate)
 *   webhook-timestamp: unix seconds of this attempt (bounds replay)
 *   webhook-signature: "v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>"
 *                      — several space-separated when more than one secret is active (rotation)
 *
 * Secrets and their keys:
 * - `whsec_<base64>` (the Standard Webhooks form): the key is the base64-decoded bytes. Any
 *   Standard Webhooks library verifies these unchanged, e.g. `new Webhook("whsec_…")`.
 * - any other string is a plain secret: the key is its UTF-8 bytes, used as is. (For an
 *   ASCII secret this equals the reference library's `new Webhook(secret, { format: "raw" })`.)
 *   Unlike that library we do not base64-decode an unprefixed secret: a hand-written
 *   password would silently become different key bytes.
 *
 * node:crypto is used rather than the `standardwebhooks` package: it signs raw bytes (no
 * string round trip of the body), compares with crypto.timingSafeEqual and lets the caller
 * choose the clock and tolerance. The tests check both agree byte for byte.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { errorMessage, InvalidWebhookSecretError } from "../errors.js";

export const WEBHOOK_SECRET_PREFIX = "whsec_";
export const WEBHOOK_ID_HEADER = "webhook-id";
export const WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp";
export const WEBHOOK_SIGNATURE_HEADER = "webhook-signature";
export const SIGNATURE_VERSION = "v1";

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The HMAC key bytes of a secret (see the module comment for the two forms). */
export function webhookSecretKey(secret: string): Buffer {
  if (secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
    // Buffer.from(…, "base64") skips invalid characters silently; a typo must not change the key.
    if (!BASE64.test(encoded) || encoded.length % 4 === 1) {
      throw new InvalidWebhookSecretError(
        `a webhook secret starting with "${WEBHOOK_SECRET_PREFIX}" must be followed by base64 text`,
      );
    }
    const key = Buffer.from(encoded, "base64");
    if (key.length === 0) throw new InvalidWebhookSecretError("the webhook secret decodes to an empty key");
    return key;
  }
  if (secret.length === 0) throw new InvalidWebhookSecretError("the webhook secret is empty");
  return Buffer.from(secret, "utf8");
}

/** Fewer key bytes than this are refused for sending: a short password can be brute-forced offline from one signed request. */
export const MIN_WEBHOOK_SECRET_BYTES = 24;

/**
 * What is wrong with a secret for signing, or undefined: it must be usable and carry at least
 * MIN_WEBHOOK_SECRET_BYTES key bytes (a `whsec_` secret counts its decoded bytes). The
 * message never quotes the secret.
 */
export function webhookSecretProblem(secret: string): string | undefined {
  let key: Buffer;
  try {
    key = webhookSecretKey(secret);
  } catch (error) {
    return `expected a usable webhook secret: ${errorMessage(error)}`;
  }
  if (key.length >= MIN_WEBHOOK_SECRET_BYTES) return undefined;
  return (
    `expected a webhook secret of at least ${MIN_WEBHOOK_SECRET_BYTES} bytes, this one has ${key.length}` +
    ` (make one with \`openssl rand -base64 32\`, or \`whsec_\` followed by that output)`
  );
}

/** A fresh random secret in the `whsec_` form (24 random bytes, like the reference tooling). */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(24).toString("base64")}`;
}

export type WebhookBody = string | Uint8Array;

function bodyBytes(body: WebhookBody): Uint8Array {
  return typeof body === "string" ? Buffer.from(body, "utf8") : body;
}

/** The base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`, without the version prefix. */
function computeSignature(key: Uint8Array, id: string, timestampSeconds: number, body: WebhookBody): string {
  return createHmac("sha256", key)
    .update(`${id}.${timestampSeconds}.`, "utf8")
    .update(bodyBytes(body))
    .digest("base64");
}

export interface SignWebhookInput {
  id: string;
  /** Unix seconds. */
  timestampSeconds: number;
  /** The exact bytes sent as the request body. */
  body: WebhookBody;
  /** One secret, or several during a rotation (one signature each). */
  secret: string | readonly string[];
}

/** The `webhook-signature` header value: `v1,<base64>` per secret, space-separated. */
export function signWebhook(input: SignWebhookInput): string {
  const secrets = typeof input.secret === "string" ? [input.secret] : input.secret;
  if (secrets.length === 0) throw new InvalidWebhookSecretError("no webhook secret given");
  return secrets
    .map(
      (secret) =>
        `${SIGNATURE_VERSION},${computeSignature(webhookSecretKey(secret), input.id, input.timestampSeconds, input.body)}`,
    )
    .join(" ");
}

/** The three Standard Webhooks headers for one request. */
export function webhookSignatureHeaders(input: SignWebhookInput): Record<string, string> {
  return {
    [WEBHOOK_ID_HEADER]: input.id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(input.timestampSeconds),
    [WEBHOOK_SIGNATURE_HEADER]: signWebhook(input),
  };
}

/**
 * Whether any `v1` signature in the header matches any of the secrets. Each comparison is
 * constant-time (crypto.timingSafeEqual); unknown versions are skipped, as the spec asks.
 */
export function webhookSignatureMatches(
  signatureHeader: string,
  input: Omit<SignWebhookInput, "secret"> & { secret: string | readonly string[] },
): boolean {
  const secrets = typeof input.secret === "string" ? [input.secret] : input.secret;
  const expected = secrets.map((secret) =>
    Buffer.from(computeSignature(webhookSecretKey(secret), input.id, input.timestampSeconds, input.body)),
  );
  let matched = false;
  // Signatures are space-separated; a Fetch `Headers` joins repeated lines with ", ", so a
  // trailing comma belongs to the separator (base64 never contains one).
  for (const token of signatureHeader.split(/\s+/)) {
    const versioned = token.replace(/,+$/, "");
    const comma = versioned.indexOf(",");
    if (comma < 0 || versioned.slice(0, comma) !== SIGNATURE_VERSION) continue;
    const passed = Buffer.from(versioned.slice(comma + 1));
    for (const candidate of expected) {
      // The length of an HMAC-SHA256 is public, so checking it first leaks nothing.
      if (passed.length === candidate.length && timingSafeEqual(passed, candidate)) matched = true;
    }
  }
  return matched;
}
