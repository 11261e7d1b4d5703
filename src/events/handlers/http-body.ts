/**
 * The webhook request body. The form encoding is the original's wire format: receivers
 * written for cryptoassets.core parse it with `urllib.parse.parse_qs` and read `event_name`
 * and `data` (JSON text), so those names and that shape never change. `event_id` (for
 * idempotency) and `created_at` are extra fields such receivers simply ignore.
 */
import type { CryptoassetsEvent } from "../types.js";

export type WebhookFormat = "form" | "json";

export const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";
export const JSON_CONTENT_TYPE = "application/json";

export interface EncodedWebhookBody {
  contentType: string;
  body: Buffer;
}

export function encodeWebhookBody(event: CryptoassetsEvent, format: WebhookFormat): EncodedWebhookBody {
  if (format === "json") {
    const text = JSON.stringify({
      event_name: event.event_name,
      event_id: event.event_id,
      data: event.data,
      created_at: event.created_at,
    });
    return { contentType: JSON_CONTENT_TYPE, body: Buffer.from(text, "utf8") };
  }
  const form = new URLSearchParams({
    event_name: event.event_name,
    data: JSON.stringify(event.data),
    event_id: event.event_id,
    created_at: event.created_at,
  });
  return { contentType: FORM_CONTENT_TYPE, body: Buffer.from(form.toString(), "utf8") };
}
