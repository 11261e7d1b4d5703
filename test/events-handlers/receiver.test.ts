import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { InvalidWebhookSecretError, WebhookVerificationError } from "../../src/errors.js";
import { encodeWebhookBody } from "../../src/events/handlers/http-body.js";
import { parseWebhookBody, verifyWebhook } from "../../src/events/receiver.js";
import {
  generateWebhookSecret,
  signWebhook,
  webhookSecretKey,
  webhookSignatureHeaders,
} from "../../src/events/signing.js";
import { sampleEvent } from "./helpers.js";

const NOW = 1_720_000_000;

function signed(secret: string | string[], format: "form" | "json" = "form") {
  const event = sampleEvent();
  const { body, contentType } = encodeWebhookBody(event, format);
  const headers: Record<string, string> = {
    "content-type": contentType,
    ...webhookSignatureHeaders({ id: event.event_id, timestampSeconds: NOW, body, secret }),
  };
  return { event, body, headers };
}

function reasonOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return `${(error as WebhookVerificationError).reason}: ${(error as Error).message}`;
  }
  throw new Error("no error thrown");
}

describe("signing", () => {
  it("matches the Standard Webhooks reference implementation", () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const body = '{"event_name":"txupdate"}';
    const ours = signWebhook({ id: "msg_1", timestampSeconds: NOW, body, secret });
    const reference = new Webhook(secret).sign("msg_1", new Date(NOW * 1000), body);
    expect(ours).toBe(reference);
  });

  it("signs with every secret during a rotation", () => {
    const oldSecret = generateWebhookSecret();
    const newSecret = generateWebhookSecret();
    const header = signWebhook({ id: "a", timestampSeconds: NOW, body: "x", secret: [oldSecret, newSecret] });
    const [first, second] = header.split(" ");
    expect(first).toBe(signWebhook({ id: "a", timestampSeconds: NOW, body: "x", secret: oldSecret }));
    expect(second).toBe(signWebhook({ id: "a", timestampSeconds: NOW, body: "x", secret: newSecret }));
  });

  it("keys whsec_ secrets by their base64 bytes and plain ones by their UTF-8 bytes", () => {
    expect(webhookSecretKey("whsec_AAEC")).toEqual(Buffer.from([0, 1, 2]));
    expect(webhookSecretKey("hunter2")).toEqual(Buffer.from("hunter2"));
    // A plain string that happens to be valid base64 is still used as is.
    expect(webhookSecretKey("AAEC")).toEqual(Buffer.from("AAEC"));
    expect(() => webhookSecretKey("")).toThrow(InvalidWebhookSecretError);
    expect(() => webhookSecretKey("whsec_")).toThrow(/must be followed by base64/);
    expect(() => webhookSecretKey("whsec_abc$def")).toThrow(/must be followed by base64/);
  });
});

describe("verifyWebhook", () => {
  const secret = generateWebhookSecret();

  it("returns the typed event from form and JSON deliveries", () => {
    for (const format of ["form", "json"] as const) {
      const { event, body, headers } = signed(secret, format);
      const verified = verifyWebhook({ headers, body, secret, now: NOW * 1000 });
      expect(verified).toEqual(event);
      // The event's name narrows its data.
      if (verified.event_name !== "txupdate") throw new Error(`a txupdate, not ${verified.event_name}`);
      expect(verified.data.amount).toBe("0.50000000");
    }
  });

  it("accepts a Fetch Headers object, mixed-case names and a string body", () => {
    const { event, body, headers } = signed(secret);
    const fetchHeaders = new Headers(headers);
    expect(
      verifyWebhook({ headers: fetchHeaders, body: body.toString("utf8"), secret, now: NOW * 1000 }),
    ).toEqual(event);
    const shouty = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyWebhook({ headers: shouty, body: new Uint8Array(body), secret, now: NOW * 1000 })).toEqual(
      event,
    );
  });

  it("accepts any of several signatures and any of several secrets (rotation on either side)", () => {
    const oldSecret = generateWebhookSecret();
    const { event, body, headers } = signed([oldSecret, secret]);
    expect(verifyWebhook({ headers, body, secret, now: NOW * 1000 })).toEqual(event);
    const single = signed(oldSecret);
    expect(verifyWebhook({ ...single, secret: [secret, oldSecret], now: NOW * 1000 })).toEqual(event);
    // Unknown signature versions are skipped, not fatal.
    const withV2 = { ...headers, "webhook-signature": `v2,abc ${headers["webhook-signature"]}` };
    expect(verifyWebhook({ headers: withV2, body, secret, now: NOW * 1000 })).toEqual(event);
  });

  it("names the missing header", () => {
    const { body, headers } = signed(secret);
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"] as const) {
      const without: Record<string, string> = { ...headers };
      delete without[name];
      expect(reasonOf(() => verifyWebhook({ headers: without, body, secret, now: NOW * 1000 }))).toBe(
        `missing_header: the ${name} header is missing`,
      );
    }
  });

  it("rejects malformed timestamps, bad signatures and mismatched ids", () => {
    const { body, headers } = signed(secret);
    expect(
      reasonOf(() =>
        verifyWebhook({
          headers: { ...headers, "webhook-timestamp": "soon" },
          body,
          secret,
          now: NOW * 1000,
        }),
      ),
    ).toMatch(/^invalid_timestamp/);
    expect(
      reasonOf(() =>
        verifyWebhook({
          headers: { ...headers, "webhook-signature": "v1,AAAA" },
          body,
          secret,
          now: NOW * 1000,
        }),
      ),
    ).toMatch(/^bad_signature/);
    expect(
      reasonOf(() => verifyWebhook({ headers, body, secret: generateWebhookSecret(), now: NOW * 1000 })),
    ).toMatch(/^bad_signature/);
    expect(reasonOf(() => verifyWebhook({ headers, body, secret, now: (NOW + 400) * 1000 }))).toBe(
      "timestamp_too_old: webhook-timestamp is 400 s old, more than the 300 s tolerance",
    );
    // A correctly signed body whose event_id differs from webhook-id is refused.
    const event = sampleEvent();
    const other = encodeWebhookBody({ ...event, event_id: "another-id" }, "form").body;
    const mismatched = webhookSignatureHeaders({
      id: event.event_id,
      timestampSeconds: NOW,
      body: other,
      secret,
    });
    expect(
      reasonOf(() => verifyWebhook({ headers: mismatched, body: other, secret, now: NOW * 1000 })),
    ).toMatch(/^invalid_body: webhook-id .* differs/);
  });
});

describe("parseWebhookBody", () => {
  it("reads form and JSON bodies, by content type or by sniffing", () => {
    const event = sampleEvent();
    const form = encodeWebhookBody(event, "form").body;
    const json = encodeWebhookBody(event, "json").body;
    expect(parseWebhookBody(form, "application/x-www-form-urlencoded")).toEqual(event);
    expect(parseWebhookBody(json, "application/json; charset=utf-8")).toEqual(event);
    expect(parseWebhookBody(form)).toEqual(event);
    expect(parseWebhookBody(json.toString("utf8"))).toEqual(event);
  });

  it("says what is wrong with a body that is not an event", () => {
    expect(reasonOf(() => parseWebhookBody("event_name=txupdate&data=%7B%7D&created_at=x"))).toBe(
      "invalid_body: the body has no event_id",
    );
    expect(reasonOf(() => parseWebhookBody("event_name=txupdate&event_id=1&data=nope"))).toBe(
      "invalid_body: the data field is not valid JSON",
    );
    expect(reasonOf(() => parseWebhookBody("{not json", "application/json"))).toBe(
      "invalid_body: the body is not valid JSON",
    );
    expect(
      reasonOf(() =>
        parseWebhookBody('{"event_name":"txupdate","event_id":"1","created_at":"x","data":[1]}'),
      ),
    ).toBe("invalid_body: the data field is not a JSON object");
  });
});
