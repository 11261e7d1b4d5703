/**
 * For applications receiving our webhooks: check the Standard Webhooks signature and turn
 * the request body back into a typed event.
 *
 *   const event = verifyWebhook({ headers: req.headers, body: rawBody, secret });
 *   if (await alreadyProcessed(event.event_id)) return; // deliveries are at-least-once
 *
 * The signature covers the exact bytes sent, so verify the *raw* body, before any body
 * parser touches it: in Express use `express.raw({ type: "application/*" })` on the webhook route
 * (req.body is then a Buffer); in Fastify add a content-type parser with
 * `{ parseAs: "buffer" }` (or the fastify-raw-body plugin); with Fetch-style handlers
 * (Hono, Next.js route handlers) pass `request.headers` and `await request.text()`.
 */
import type { IncomingHttpHeaders } from "node:http";
import { WebhookVerificationError } from "../errors.js";
import {
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookBody,
  webhookSignatureMatches,
} from "./signing.js";
import type { CryptoassetsEvent, EventName } from "./types.js";

/** Node's req.headers, a Fetch `Headers`, or a plain record (names matched case-insensitively). */
export type WebhookHeaders =
  | IncomingHttpHeaders
  | { get(name: string): string | null }
  | Record<string, string | readonly string[] | undefined>;

export interface VerifyWebhookOptions {
  headers: WebhookHeaders;
  /** The raw request body, exactly as received. */
  body: WebhookBody;
  /** The handler's secret (`whsec_…` or a plain string); several while rotating. */
  secret: string | readonly string[];
  /** How far webhook-timestamp may be from now, either way (default 300 s, the spec's). */
  toleranceSeconds?: number;
  /** The receiver's clock (default: now). */
  now?: Date | number;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Verifies a signed delivery and returns its event. Throws WebhookVerificationError with a
 * `reason` when a header is missing, the timestamp is malformed or outside the tolerance
 * (a replay), no signature matches, or the body is not an event.
 */
export function verifyWebhook(options: VerifyWebhookOptions): CryptoassetsEvent {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  // NaN compares false with everything: a NaN (or infinite, or negative) window accepted any replay.
  if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError(
      `verifyWebhook: toleranceSeconds must be a finite number of seconds ≥ 0, got ${String(tolerance)}`,
    );
  }
  if (options.now !== undefined && !Number.isFinite(Number(options.now))) {
    throw new RangeError(
      `verifyWebhook: now must be a time (a Date or unix milliseconds), got ${String(options.now)}`,
    );
  }
  const id = headerValue(options.headers, WEBHOOK_ID_HEADER);
  const timestamp = headerValue(options.headers, WEBHOOK_TIMESTAMP_HEADER);
  const signature = headerValue(options.headers, WEBHOOK_SIGNATURE_HEADER);
  for (const [name, value] of [
    [WEBHOOK_ID_HEADER, id],
    [WEBHOOK_TIMESTAMP_HEADER, timestamp],
    [WEBHOOK_SIGNATURE_HEADER, signature],
  ] as const) {
    if (!value) throw new WebhookVerificationError("missing_header", `the ${name} header is missing`);
  }
  if (!/^\d{1,15}$/.test(timestamp as string)) {
    throw new WebhookVerificationError(
      "invalid_timestamp",
      `webhook-timestamp "${timestamp}" is not unix seconds`,
    );
  }
  const timestampSeconds = Number(timestamp);
  const nowMs = options.now === undefined ? Date.now() : Number(options.now);
  const nowSeconds = Math.floor(nowMs / 1000);
  if (nowSeconds - timestampSeconds > tolerance) {
    throw new WebhookVerificationError(
      "timestamp_too_old",
      `webhook-timestamp is ${nowSeconds - timestampSeconds} s old, more than the ${tolerance} s tolerance`,
    );
  }
  if (timestampSeconds - nowSeconds > tolerance) {
    throw new WebhookVerificationError(
      "timestamp_too_new",
      `webhook-timestamp is ${timestampSeconds - nowSeconds} s in the future, more than the ${tolerance} s tolerance`,
    );
  }
  const matches = webhookSignatureMatches(signature as string, {
    id: id as string,
    timestampSeconds,
    body: options.body,
    secret: options.secret,
  });
  if (!matches) {
    throw new WebhookVerificationError(
      "bad_signature",
      "no webhook-signature matches the body and the secret",
    );
  }
  const event = parseWebhookBody(options.body, headerValue(options.headers, "content-type"));
  if (event.event_id !== id) {
    throw new WebhookVerificationError("invalid_body", `webhook-id "${id}" differs from the body's event_id`);
  }
  return event;
}

/**
 * Reads an event from a request body, form-encoded (the default) or JSON, without checking
 * any signature (for handlers configured without a secret). The content type picks the
 * format; without one, a body starting with "{" is read as JSON.
 */
export function parseWebhookBody(body: WebhookBody, contentType?: string): CryptoassetsEvent {
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  const type = contentType?.toLowerCase() ?? "";
  const isJson =
    type.includes("json") || (!type.includes("x-www-form-urlencoded") && text.trimStart().startsWith("{"));
  let fields: Record<string, unknown>;
  if (isJson) {
    fields = asObject(parseJson(text, "the body"), "the body");
  } else {
    const form = new URLSearchParams(text);
    const data = form.get("data");
    fields = {
      event_name: form.get("event_name") ?? undefined,
      event_id: form.get("event_id") ?? undefined,
      created_at: form.get("created_at") ?? undefined,
      data: data === null ? undefined : parseJson(data, "the data field"),
    };
  }
  return {
    event_name: requireString(fields, "event_name") as EventName,
    event_id: requireString(fields, "event_id"),
    created_at: requireString(fields, "created_at"),
    data: asObject(fields.data, "the data field") as unknown as CryptoassetsEvent["data"],
  } as CryptoassetsEvent;
}

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== name) continue;
    if (typeof value === "string") return value;
    // Repeated headers: signatures may arrive as separate lines; they are space-separated anyway.
    if (Array.isArray(value)) return value.join(" ");
  }
  return undefined;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WebhookVerificationError("invalid_body", `${what} is not valid JSON`);
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WebhookVerificationError("invalid_body", `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function requireString(fields: Record<string, unknown>, field: string): string {
  const value = fields[field];
  if (typeof value !== "string" || value === "") {
    throw new WebhookVerificationError("invalid_body", `the body has no ${field}`);
  }
  return value;
}
