/**
 * Attacks on a receiver that checks our signatures with `verifyWebhook`: options that
 * disable the replay window, and signatures split over several header lines.
 */
import { describe, expect, it } from "vitest";
import { WebhookVerificationError } from "../../src/errors.js";
import { encodeWebhookBody } from "../../src/events/handlers/http-body.js";
import { verifyWebhook } from "../../src/events/receiver.js";
import { generateWebhookSecret, signWebhook, webhookSignatureHeaders } from "../../src/events/signing.js";
import { sampleEvent } from "../events-handlers/helpers.js";

const NOW = 1_720_000_000;
const secret = generateWebhookSecret();

function signedAt(timestampSeconds: number) {
  const event = sampleEvent();
  const { body, contentType } = encodeWebhookBody(event, "form");
  const headers: Record<string, string> = {
    "content-type": contentType,
    ...webhookSignatureHeaders({ id: event.event_id, timestampSeconds, body, secret }),
  };
  return { event, body, headers };
}

describe("verifyWebhook options", () => {
  it("refuses a tolerance that is not a finite, non-negative number of seconds (a replay would pass)", () => {
    // A day-old delivery, replayed.
    const { body, headers } = signedAt(NOW - 86_400);
    for (const toleranceSeconds of [Number.NaN, Number.POSITIVE_INFINITY, -1, -300]) {
      expect(() => verifyWebhook({ headers, body, secret, toleranceSeconds, now: NOW * 1000 })).toThrow(
        /toleranceSeconds must be a finite number of seconds ≥ 0/,
      );
    }
    // The same replay with a sane tolerance is refused as too old, and 0 means "this second only".
    expect(() => verifyWebhook({ headers, body, secret, toleranceSeconds: 300, now: NOW * 1000 })).toThrow(
      /timestamp_too_old|s old/,
    );
    const fresh = signedAt(NOW);
    expect(verifyWebhook({ ...fresh, secret, toleranceSeconds: 0, now: NOW * 1000 }).event_id).toBe(
      fresh.event.event_id,
    );
  });

  it("refuses a `now` that is not a time (the window would be meaningless)", () => {
    const { body, headers } = signedAt(NOW);
    expect(() => verifyWebhook({ headers, body, secret, now: Number.NaN })).toThrow(/now must be a time/);
  });
});

describe("verifyWebhook with signatures on several header lines", () => {
  it("accepts a Fetch Headers object whose second webhook-signature line matches, and whose first does", () => {
    const { event, body, headers } = signedAt(NOW);
    const good = headers["webhook-signature"] ?? "";
    const other = signWebhook({
      id: event.event_id,
      timestampSeconds: NOW,
      body,
      secret: generateWebhookSecret(),
    });
    for (const lines of [
      [other, good],
      [good, other],
    ]) {
      const fetchHeaders = new Headers(headers);
      fetchHeaders.delete("webhook-signature");
      for (const line of lines) fetchHeaders.append("webhook-signature", line);
      expect(verifyWebhook({ headers: fetchHeaders, body, secret, now: NOW * 1000 })).toEqual(event);
      // Node's IncomingHttpHeaders gives repeated lines as an array.
      const nodeHeaders = { ...headers, "webhook-signature": lines };
      expect(verifyWebhook({ headers: nodeHeaders, body, secret, now: NOW * 1000 })).toEqual(event);
    }
  });

  it("still refuses when no line matches", () => {
    const { event, body, headers } = signedAt(NOW);
    const fetchHeaders = new Headers(headers);
    fetchHeaders.delete("webhook-signature");
    for (const key of [generateWebhookSecret(), generateWebhookSecret()]) {
      fetchHeaders.append(
        "webhook-signature",
        signWebhook({ id: event.event_id, timestampSeconds: NOW, body, secret: key }),
      );
    }
    expect(() => verifyWebhook({ headers: fetchHeaders, body, secret, now: NOW * 1000 })).toThrow(
      WebhookVerificationError,
    );
  });
});
