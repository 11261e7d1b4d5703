import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { DeliveryFailedError, EventHandlerConfigError, WebhookVerificationError } from "../../src/errors.js";
import { HttpEventHandler } from "../../src/events/handlers/http.js";
import { USER_AGENT } from "../../src/events/handlers/user-agent.js";
import { parseWebhookBody, verifyWebhook } from "../../src/events/receiver.js";
import { waitFor } from "../support/wait.js";
import { sampleEvent, startReceiver, type TestReceiver } from "./helpers.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<TestReceiver> {
  const started = await startReceiver(...args);
  cleanups.push(() => started.close());
  return started;
}

function handler(options: ConstructorParameters<typeof HttpEventHandler>[1]): HttpEventHandler {
  const created = new HttpEventHandler("app", options);
  cleanups.push(() => created.close());
  return created;
}

describe("HttpEventHandler bodies", () => {
  it("posts the original's form body: event_name, data as JSON text, event_id", async () => {
    const server = await receiver();
    const event = sampleEvent();
    const result = await handler({ url: server.url }).deliver(event);

    expect(result.httpStatus).toBe(200);
    expect(result.detail).toBe("ok");
    expect(server.requests).toHaveLength(1);
    const request = server.requests[0];
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/hooks/cryptoassets");
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(request?.headers["user-agent"]).toBe(USER_AGENT);
    expect(USER_AGENT).toMatch(/^cryptoassets\/\d+\.\d+\.\d+/);
    const form = new URLSearchParams(request?.body.toString("utf8"));
    expect(form.get("event_name")).toBe("txupdate");
    expect(form.get("event_id")).toBe(event.event_id);
    expect(JSON.parse(form.get("data") ?? "")).toEqual(event.data);
    // Unsigned: no signature headers at all.
    expect(request?.headers["webhook-signature"]).toBeUndefined();
    expect(parseWebhookBody(request?.body ?? "", request?.headers["content-type"])).toEqual(event);
  });

  it("posts JSON with format: json", async () => {
    const server = await receiver();
    const event = sampleEvent({ confirmations: 3, credited: true });
    await handler({ url: server.url, format: "json" }).deliver(event);

    const request = server.requests[0];
    expect(request?.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(request?.body.toString("utf8") ?? "");
    expect(body).toEqual({
      event_name: "txupdate",
      event_id: event.event_id,
      data: event.data,
      created_at: event.created_at,
    });
    expect(body.data.amount).toBe("0.50000000");
  });

  it("sends configured headers, and refuses ones the handler owns", async () => {
    const server = await receiver();
    await handler({ url: server.url, headers: { Authorization: "Bearer t0ken" } }).deliver(sampleEvent());
    expect(server.requests[0]?.headers.authorization).toBe("Bearer t0ken");
    expect(
      () => new HttpEventHandler("app", { url: server.url, headers: { "Webhook-Signature": "x" } }),
    ).toThrow(EventHandlerConfigError);
    expect(() => new HttpEventHandler("app", { url: server.url, headers: { "x-token": "a\nb" } })).toThrow(
      /events\.app\.headers\.x-token/,
    );
    expect(() => new HttpEventHandler("app", { url: "ftp://example.com/" })).toThrow(/must be http/);
    expect(() => new HttpEventHandler("app", { url: server.url, timeout: 0 })).toThrow(/positive number/);
    expect(() => new HttpEventHandler("app", { url: server.url, secret: "whsec_!!not base64" })).toThrow(
      /events\.app\.secret: .*must be followed by base64/,
    );
  });
});

describe("HttpEventHandler signing", () => {
  it("signs per Standard Webhooks; verifyWebhook and the reference library both accept it", async () => {
    const server = await receiver();
    const event = sampleEvent();
    const before = Math.floor(Date.now() / 1000);
    await handler({ url: server.url, secret: SECRET }).deliver(event);

    const request = server.requests[0];
    if (!request) throw new Error("no request");
    expect(request.headers["webhook-id"]).toBe(event.event_id);
    const timestamp = Number(request.headers["webhook-timestamp"]);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(before + 5);
    expect(request.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    expect(verifyWebhook({ headers: request.headers, body: request.body, secret: SECRET })).toEqual(event);
    // The reference JavaScript implementation agrees byte for byte.
    const reference = new Webhook(SECRET);
    expect(() =>
      reference.verify(request.body, request.headers as Record<string, string>, { jsonParse: false }),
    ).not.toThrow();
  });

  it("signs JSON bodies too", async () => {
    const server = await receiver();
    const event = sampleEvent();
    await handler({ url: server.url, secret: SECRET, format: "json" }).deliver(event);
    const request = server.requests[0];
    if (!request) throw new Error("no request");
    expect(
      verifyWebhook({ headers: request.headers, body: request.body.toString("utf8"), secret: SECRET }),
    ).toEqual(event);
    expect(new Webhook(SECRET).verify(request.body, request.headers as Record<string, string>)).toMatchObject(
      {
        event_id: event.event_id,
      },
    );
  });

  it("keys a plain string secret by its UTF-8 bytes (the reference library's raw format)", async () => {
    const server = await receiver();
    const plain = "correct horse battery staple";
    await handler({ url: server.url, secret: plain }).deliver(sampleEvent());
    const request = server.requests[0];
    if (!request) throw new Error("no request");
    expect(verifyWebhook({ headers: request.headers, body: request.body, secret: plain }).event_id).toBe(
      sampleEvent().event_id,
    );
    const reference = new Webhook(plain, { format: "raw" });
    expect(() =>
      reference.verify(request.body, request.headers as Record<string, string>, { jsonParse: false }),
    ).not.toThrow();
  });

  it("rejects a tampered body, a wrong secret and an expired or future timestamp", async () => {
    const server = await receiver();
    await handler({ url: server.url, secret: SECRET }).deliver(sampleEvent());
    const request = server.requests[0];
    if (!request) throw new Error("no request");
    const tampered = Buffer.from(request.body.toString("utf8").replace("0.50000000", "5.00000000"));
    const reason = (run: () => unknown): string => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(WebhookVerificationError);
        return (error as WebhookVerificationError).reason;
      }
      throw new Error("verification passed");
    };

    expect(reason(() => verifyWebhook({ headers: request.headers, body: tampered, secret: SECRET }))).toBe(
      "bad_signature",
    );
    expect(
      reason(() =>
        verifyWebhook({
          headers: request.headers,
          body: request.body,
          secret: "whsec_c2VjcmV0LW90aGVyLWtleQ==",
        }),
      ),
    ).toBe("bad_signature");
    const sent = Number(request.headers["webhook-timestamp"]) * 1000;
    expect(
      reason(() =>
        verifyWebhook({ headers: request.headers, body: request.body, secret: SECRET, now: sent + 301_000 }),
      ),
    ).toBe("timestamp_too_old");
    expect(
      reason(() =>
        verifyWebhook({ headers: request.headers, body: request.body, secret: SECRET, now: sent - 301_000 }),
      ),
    ).toBe("timestamp_too_new");
    // Inside the tolerance it still verifies; a tighter tolerance is honoured.
    expect(() =>
      verifyWebhook({ headers: request.headers, body: request.body, secret: SECRET, now: sent + 299_000 }),
    ).not.toThrow();
    expect(
      reason(() =>
        verifyWebhook({
          headers: request.headers,
          body: request.body,
          secret: SECRET,
          now: sent + 31_000,
          toleranceSeconds: 30,
        }),
      ),
    ).toBe("timestamp_too_old");
    // A replay with a fresh timestamp but the old signature fails: the timestamp is signed.
    const replayed = { ...request.headers, "webhook-timestamp": String(Math.floor(Date.now() / 1000) + 1) };
    expect(reason(() => verifyWebhook({ headers: replayed, body: request.body, secret: SECRET }))).toBe(
      "bad_signature",
    );
  });
});

describe("HttpEventHandler outcomes", () => {
  it("treats any 2xx as delivered", async () => {
    const server = await receiver((_, response) => {
      response.statusCode = 204;
      response.end();
    });
    const result = await handler({ url: server.url }).deliver(sampleEvent());
    expect(result.httpStatus).toBe(204);
    expect(result.durationMs).toBeGreaterThan(0);
  });

  it("fails on 500 with the status and the start of the body", async () => {
    const server = await receiver((_, response) => {
      response.statusCode = 500;
      response.end(`database is down\n${"x".repeat(10_000)}`);
    });
    const error = await handler({ url: server.url })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryFailedError);
    const failed = error as DeliveryFailedError;
    expect(failed.httpStatus).toBe(500);
    expect(failed.code).toBe("HTTP_STATUS");
    expect(failed.message).toMatch(
      /^POST http:\/\/127\.0\.0\.1:\d+\/hooks\/cryptoassets answered HTTP 500: database is down x+…$/,
    );
    expect(failed.message.length).toBeLessThan(300);
  });

  it("fails on a redirect instead of following it", async () => {
    const server = await receiver((_, response) => {
      response.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" });
      response.end();
    });
    await expect(handler({ url: server.url }).deliver(sampleEvent())).rejects.toMatchObject({
      httpStatus: 302,
    });
    expect(server.requests).toHaveLength(1);
  });

  it("fails with ETIMEDOUT when the receiver does not answer in time", async () => {
    const server = await receiver(() => {
      /* never answers */
    });
    const started = Date.now();
    const error = await handler({ url: server.url, timeout: 0.3 })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(DeliveryFailedError);
    expect((error as DeliveryFailedError).code).toBe("ETIMEDOUT");
    expect((error as DeliveryFailedError).message).toMatch(/timed out after 0\.3 s/);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
  });

  it("fails with ECONNREFUSED when nothing listens", async () => {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    server.close();
    await once(server, "close");

    const error = await handler({ url: `http://user:pa55word@127.0.0.1:${port}/hook?token=s3cret` })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryFailedError);
    expect((error as DeliveryFailedError).code).toBe("ECONNREFUSED");
    // Passwords and query values never reach the message (it is stored and logged).
    expect((error as DeliveryFailedError).message).toContain(
      `POST http://user:***@127.0.0.1:${port}/hook?token=*** failed`,
    );
    expect((error as DeliveryFailedError).message).not.toMatch(/pa55word|s3cret/);
  });

  it("fails with ECONNRESET when the receiver drops the connection", async () => {
    const server = await receiver((_, response) => response.socket?.destroy());
    const error = await handler({ url: server.url })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryFailedError);
    expect((error as DeliveryFailedError).code).toBe("ECONNRESET");
    expect((error as DeliveryFailedError).httpStatus).toBeUndefined();
  });

  it("refuses to deliver after close", async () => {
    const server = await receiver();
    const closed = new HttpEventHandler("app", { url: server.url });
    await closed.close();
    await expect(closed.deliver(sampleEvent())).rejects.toMatchObject({ code: "CLOSED" });
    expect(server.requests).toHaveLength(0);
  });
});

describe("HttpEventHandler connections", () => {
  it("reuses one kept-alive socket for consecutive deliveries", async () => {
    const server = await receiver();
    const webhook = handler({ url: server.url, secret: SECRET });
    for (let i = 0; i < 5; i++) await webhook.deliver(sampleEvent({ confirmations: i }));

    expect(server.requests).toHaveLength(5);
    expect(server.connections()).toBe(1);
    expect(new Set(server.requests.map((request) => request.connection))).toEqual(new Set([1]));
    expect(
      server.requests.map(
        (r) => JSON.parse(new URLSearchParams(r.body.toString()).get("data") ?? "").confirmations,
      ),
    ).toEqual([0, 1, 2, 3, 4]);
  });

  it("retries once on a fresh socket when the server closed the kept-alive one", async () => {
    // The server answers, keeps the socket idle, then drops it right as the next request arrives.
    let answered = 0;
    const server = await receiver((request, response) => {
      answered++;
      if (request.connection === 1 && answered === 2) {
        response.socket?.destroy();
        return;
      }
      response.end("ok");
    });
    const webhook = handler({ url: server.url });
    await webhook.deliver(sampleEvent({ confirmations: 0 }));
    const second = await webhook.deliver(sampleEvent({ confirmations: 1 }));

    expect(second.httpStatus).toBe(200);
    expect(server.connections()).toBe(2);
    expect(server.requests.map((request) => request.connection)).toEqual([1, 1, 2]);
  });

  it("closes its idle sockets on close()", async () => {
    const server = await receiver();
    const webhook = new HttpEventHandler("app", { url: server.url });
    await webhook.deliver(sampleEvent());
    expect(server.closedConnections()).toBe(0); // kept alive while idle
    await webhook.close();
    await waitFor("the closed connection", () => server.closedConnections() === 1, 5_000, 20);
    expect(server.connections()).toBe(1);
  });
});
