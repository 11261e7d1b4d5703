/**
 * The demo's webhook receiver: what an application's endpoint does, in twenty lines. It
 * verifies the Standard Webhooks signature over the raw body, answers 200, and hands the
 * event on. Deliveries are at-least-once, so it keeps the event ids it has seen and reports
 * a repeated one as a duplicate instead of acting twice.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { errorMessage, WebhookVerificationError } from "../errors.js";
import { verifyWebhook } from "../events/receiver.js";
import type { CryptoassetsEvent } from "../events/types.js";

export interface WebhookReceiver {
  url: string;
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

export async function startWebhookReceiver(options: {
  port: number;
  secret: string;
  onEvent: (event: CryptoassetsEvent, duplicate: boolean) => void;
}): Promise<WebhookReceiver> {
  const seen = new Set<string>();
  const server: Server = createServer((request, response) => {
    readBody(request)
      .then((body) => {
        const event = verifyWebhook({ headers: request.headers, body, secret: options.secret });
        const duplicate = seen.has(event.event_id);
        seen.add(event.event_id);
        response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
        options.onEvent(event, duplicate);
      })
      .catch((error: unknown) => {
        const status = error instanceof WebhookVerificationError ? 400 : 500;
        response.writeHead(status, { "content-type": "text/plain" }).end(`${errorMessage(error)}\n`);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
