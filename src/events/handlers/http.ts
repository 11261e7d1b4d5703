/**
 * HTTP webhook: POSTs each event to the application (docs/architecture.md §4). Any 2xx means the
 * application accepted the event; any other status, a timeout, or a refused or reset
 * connection is a failed attempt that the dispatcher retries later. Redirects are not
 * followed: a 3xx is a failed attempt, because re-POSTing signed money events to another
 * address should be a configuration change, not something a receiver can ask for.
 *
 * Connections are kept alive (one node:http Agent per handler), so a busy endpoint costs one
 * TCP (and TLS) handshake per socket instead of one per event.
 */

import http from "node:http";
import https from "node:https";
import { HANDLER_TIMEOUTS } from "../../config/defaults.js";
import { DeliveryFailedError, EventHandlerConfigError, errorMessage } from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import { cleanExternalText, headerSecrets } from "../../redact/external-text.js";
import { maskUrl, urlProblem, urlSecrets } from "../../redact/url.js";
import {
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  webhookSecretProblem,
  webhookSignatureHeaders,
} from "../signing.js";
import type { CryptoassetsEvent } from "../types.js";
import { type DeliveryResult, type EventHandler, secondsToMs } from "./handler.js";
import { encodeWebhookBody, type WebhookFormat } from "./http-body.js";
import { USER_AGENT } from "./user-agent.js";

export interface HttpEventHandlerOptions {
  url: string;
  /** Signs every request (Standard Webhooks); several secrets sign with each during a rotation. */
  secret?: string | readonly string[];
  /** Seconds for the whole request, connect to last byte (default 10). */
  timeout?: number;
  /** `form` (default; the original's wire format) or `json`. */
  format?: WebhookFormat;
  /** Extra request headers, e.g. an Authorization token. */
  headers?: Record<string, string>;
  logger?: Logger;
}

export const DEFAULT_HTTP_TIMEOUT_SECONDS = HANDLER_TIMEOUTS.http;
/** How much of a response body is read for the error detail, and how much of it is kept. */
const DETAIL_BYTES = 512;
const DETAIL_CHARS = 200;
/** Beyond this much response body the socket is dropped rather than drained for reuse. */
const MAX_DRAIN_BYTES = 64 * 1024;
/** Headers the handler owns; a configured header may not replace them. */
const RESERVED_HEADERS = new Set([
  "content-type",
  "content-length",
  "transfer-encoding",
  "host",
  "connection",
  WEBHOOK_ID_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
]);

interface HttpAnswer {
  status: number;
  detail: string;
}

/** An error from the socket before any response arrived. */
interface SendError {
  error: NodeJS.ErrnoException;
  /** The request went out on a kept-alive socket the server may have closed meanwhile. */
  reusedSocket: boolean;
  timedOut: boolean;
}

export class HttpEventHandler implements EventHandler {
  readonly kind = "http" as const;
  readonly timeoutMs: number;
  readonly redactions: readonly string[];
  private readonly url: URL;
  /** The URL with its password and query values masked: safe for logs and errors. */
  private readonly safeUrl: string;
  private readonly format: WebhookFormat;
  private readonly secrets: readonly string[] | undefined;
  private readonly extraHeaders: Record<string, string>;
  private readonly agent: http.Agent;
  private readonly logger: Logger;
  private closed = false;

  constructor(
    readonly name: string,
    options: HttpEventHandlerOptions,
  ) {
    this.url = parseWebhookUrl(name, options.url);
    this.safeUrl = maskUrl(options.url);
    this.timeoutMs = secondsToMs(options.timeout ?? DEFAULT_HTTP_TIMEOUT_SECONDS, `events.${name}.timeout`);
    this.format = options.format ?? "form";
    if (this.format !== "form" && this.format !== "json") {
      throw new EventHandlerConfigError(
        `events.${name}.format must be "form" or "json", got "${this.format}"`,
      );
    }
    if (options.secret !== undefined) {
      this.secrets = typeof options.secret === "string" ? [options.secret] : [...options.secret];
      if (this.secrets.length === 0)
        throw new EventHandlerConfigError(`events.${name}.secret is an empty list`);
      for (const secret of this.secrets) {
        // Fail at startup, not on the first event.
        const problem = webhookSecretProblem(secret);
        if (problem !== undefined) throw new EventHandlerConfigError(`events.${name}.secret: ${problem}`);
      }
    }
    this.extraHeaders = {};
    for (const [key, value] of Object.entries(options.headers ?? {})) {
      const lower = key.toLowerCase();
      if (RESERVED_HEADERS.has(lower)) {
        throw new EventHandlerConfigError(`events.${name}.headers may not set "${key}": the handler sets it`);
      }
      try {
        http.validateHeaderName(key);
        http.validateHeaderValue(key, value);
      } catch (error) {
        throw new EventHandlerConfigError(`events.${name}.headers.${key}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      this.extraHeaders[lower] = value;
    }
    this.redactions = [...headerSecrets(this.extraHeaders), ...urlSecrets(options.url)];
    const agentOptions: http.AgentOptions = { keepAlive: true };
    this.agent =
      this.url.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.logger = (options.logger ?? silentLogger).child({ module: "events.http", handler: name });
  }

  async deliver(event: CryptoassetsEvent): Promise<DeliveryResult> {
    if (this.closed) throw new DeliveryFailedError(`handler ${this.name} is closed`, { code: "CLOSED" });
    const started = performance.now();
    const deadline = Date.now() + this.timeoutMs;
    const { contentType, body } = encodeWebhookBody(event, this.format);
    const headers: Record<string, string> = {
      "user-agent": USER_AGENT,
      ...this.extraHeaders,
      "content-type": contentType,
      "content-length": String(body.length),
    };
    if (this.secrets) {
      const timestampSeconds = Math.floor(Date.now() / 1000);
      Object.assign(
        headers,
        webhookSignatureHeaders({ id: event.event_id, timestampSeconds, body, secret: this.secrets }),
      );
    }

    let answer: HttpAnswer;
    try {
      answer = await this.send(body, headers, deadline);
    } catch (caught) {
      const failure = caught as SendError;
      // A kept-alive socket can be closed by the server just as we reuse it; Node's docs
      // recommend one immediate retry on a fresh socket. Usually the receiver saw nothing;
      // if it did, delivery is at-least-once anyway and receivers deduplicate by event_id.
      if (failure.reusedSocket && isStaleSocketError(failure.error) && Date.now() < deadline) {
        this.logger.debug(
          { event_id: event.event_id },
          "kept-alive socket was closed by the server; retrying once",
        );
        try {
          answer = await this.send(body, headers, deadline);
        } catch (again) {
          throw this.sendFailure(again as SendError);
        }
      } else {
        throw this.sendFailure(failure);
      }
    }

    const durationMs = performance.now() - started;
    if (answer.status < 200 || answer.status > 299) {
      const detail = answer.detail ? `: ${answer.detail}` : "";
      throw new DeliveryFailedError(`POST ${this.safeUrl} answered HTTP ${answer.status}${detail}`, {
        httpStatus: answer.status,
        code: "HTTP_STATUS",
      });
    }
    this.logger.debug({ event_id: event.event_id, status: answer.status, durationMs }, "webhook delivered");
    return answer.detail
      ? { httpStatus: answer.status, durationMs, detail: answer.detail }
      : { httpStatus: answer.status, durationMs };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
  }

  private sendFailure(failure: SendError): DeliveryFailedError {
    if (failure.timedOut) {
      return new DeliveryFailedError(`POST ${this.safeUrl} timed out after ${this.timeoutMs / 1000} s`, {
        code: "ETIMEDOUT",
      });
    }
    const code = failure.error.code ?? "EREQUEST";
    return new DeliveryFailedError(`POST ${this.safeUrl} failed: ${failure.error.message}`, {
      code,
      cause: failure.error,
    });
  }

  /**
   * The start of a response body as one short line, for the attempt record (shown on the
   * status pages): a receiver may echo our request headers or write escape sequences.
   */
  private summarize(bytes: Buffer): string {
    return cleanExternalText(bytes.toString("utf8"), { secrets: this.redactions, maxChars: DETAIL_CHARS });
  }

  /** One POST. Resolves once the status is known; rejects with a SendError if none arrives. */
  private send(body: Buffer, headers: Record<string, string>, deadline: number): Promise<HttpAnswer> {
    const requestFn = this.url.protocol === "https:" ? https.request : http.request;
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      let status: number | undefined;
      const kept: Buffer[] = [];
      let keptBytes = 0;

      const answer = (): void => {
        if (settled || status === undefined) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status, detail: this.summarize(Buffer.concat(kept)) });
      };
      const fail = (error: NodeJS.ErrnoException, timedOut: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject({ error, reusedSocket: request.reusedSocket, timedOut } satisfies SendError);
      };

      let request: http.ClientRequest;
      try {
        request = requestFn(this.url, { method: "POST", headers, agent: this.agent });
      } catch (error) {
        // Invalid options throw synchronously; report them like any other request error.
        reject({
          error: error as NodeJS.ErrnoException,
          reusedSocket: false,
          timedOut: false,
        } satisfies SendError);
        return;
      }
      const timer = setTimeout(
        () => {
          // Once the status line is in, the verdict is known; only a missing status is a timeout.
          if (status !== undefined) answer();
          else fail(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }), true);
          request.destroy();
        },
        Math.max(0, deadline - Date.now()),
      );

      request.on("response", (response) => {
        status = response.statusCode ?? 0;
        let total = 0;
        response.on("data", (chunk: Buffer) => {
          total += chunk.length;
          if (keptBytes < DETAIL_BYTES) {
            kept.push(chunk.subarray(0, DETAIL_BYTES - keptBytes));
            keptBytes += Math.min(chunk.length, DETAIL_BYTES - keptBytes);
          }
          // Draining the rest lets the socket be reused; a huge body is not worth the wait.
          if (total > MAX_DRAIN_BYTES) {
            answer();
            response.destroy();
          }
        });
        response.on("end", answer);
        // A reset in the middle of the body: the status already tells the outcome.
        response.on("error", answer);
        response.on("close", answer);
      });
      request.on("error", (error: NodeJS.ErrnoException) => {
        if (status !== undefined) answer();
        else fail(error, false);
      });
      request.end(body);
    });
  }
}

function parseWebhookUrl(name: string, url: string): URL {
  const problem = urlProblem(url);
  if (problem !== undefined)
    throw new EventHandlerConfigError(`events.${name}.url is not a valid URL: ${problem}`);
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new EventHandlerConfigError(
      `events.${name}.url must be http:// or https://, got ${parsed.protocol}`,
    );
  }
  return parsed;
}

function isStaleSocketError(error: NodeJS.ErrnoException): boolean {
  return error.code === "ECONNRESET" || error.code === "EPIPE";
}
