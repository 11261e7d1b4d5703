/**
 * `nats` (JetStream): each event is published to `<subject_prefix>.<event_name>.<coin>`
 * (`-` for an event without a coin) with the event id as message id (`Nats-Msg-Id`):
 * JetStream stores a re-published event only once within the stream's duplicate window
 * (default 2 minutes), so a retry after a lost acknowledgement adds no second copy. The
 * delivery counts only when JetStream acknowledged the message (PubAck); no stream capturing
 * the subject, a full stream, a timeout or an error is a failed attempt. The stream is the
 * operator's to create (`nats stream add CRYPTOASSETS --subjects 'cryptoassets.>'`), with the
 * storage and retention it needs.
 *
 * @nats-io/transport-node + @nats-io/jetstream: NATS's maintained client (nats.js v3; the
 * `nats` v2 package is its predecessor). Pinned to 3.3: 3.4 needs Node 22. The client
 * reconnects by itself for a while; once it gives up, the next delivery connects anew.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { EventHandlerConfigError } from "../../errors.js";
import { routingFieldsOf } from "../routing.js";
import type { CryptoassetsEvent } from "../types.js";
import { BrokerEventHandler, type BrokerHandlerOptions } from "./broker-connection.js";
import { encodeWebhookBody } from "./http-body.js";

export interface NatsEventHandlerOptions extends BrokerHandlerOptions {
  /** `nats://[user:password@]host:4222` (or `tls://`). */
  url: string;
  /** First subject tokens (default `cryptoassets`). */
  subject_prefix?: string;
  /** Token authentication, instead of user and password in the URL. */
  token?: string;
}

export const DEFAULT_NATS_SUBJECT_PREFIX = "cryptoassets";

interface Session {
  connection: NatsConnection;
  js: JetStreamClient;
}

/** `cryptoassets.txupdate.btc`; `-` stands in for a missing coin. */
export function natsSubject(prefix: string, event: Pick<CryptoassetsEvent, "event_name" | "data">): string {
  const { event_name, coin } = routingFieldsOf(event);
  return `${prefix}.${event_name}.${coin}`;
}

export class NatsEventHandler extends BrokerEventHandler<Session> {
  readonly kind = "nats" as const;
  readonly #server: NatsServer;
  readonly #token: string | undefined;
  readonly #prefix: string;

  constructor(name: string, options: NatsEventHandlerOptions) {
    super(name, options, "events.nats");
    this.#server = parseNatsUrl(options.url, name);
    this.#token = options.token;
    if (options.token !== undefined) this.redactions.push(options.token);
    this.#prefix = options.subject_prefix ?? DEFAULT_NATS_SUBJECT_PREFIX;
  }

  protected async open(): Promise<Session> {
    const { address, user, pass } = this.#server;
    // The NATS client is imported by the first connection: a service without NATS never loads it.
    const [{ connect }, { jetstream }] = await Promise.all([
      import("@nats-io/transport-node"),
      import("@nats-io/jetstream"),
    ]);
    const connection = await connect({
      servers: address,
      name: `cryptoassets ${this.name}`,
      timeout: this.timeoutMs,
      ...(user !== undefined ? { user, pass } : {}),
      ...(this.#token !== undefined ? { token: this.#token } : {}),
    });
    const session: Session = { connection, js: jetstream(connection, { timeout: this.timeoutMs }) };
    void connection.closed().then((error) => {
      if (error)
        this.logger.warn({ err: this.loggable(error), url: this.shownUrl }, "NATS connection closed");
      this.connection.discard(session);
    });
    return session;
  }

  protected async shut(session: Session): Promise<void> {
    if (!session.connection.isClosed()) await session.connection.close();
  }

  protected describe(event: CryptoassetsEvent): string {
    return `publishing ${natsSubject(this.#prefix, event)} to JetStream on ${this.shownUrl}`;
  }

  /** The client keeps (and repairs) its connection; it is dropped once closed (see open). */
  protected override keepsConnection(): boolean {
    return true;
  }

  protected async publish(session: Session, event: CryptoassetsEvent): Promise<string> {
    const ack = await session.js.publish(
      natsSubject(this.#prefix, event),
      encodeWebhookBody(event, "json").body,
      {
        msgID: event.event_id,
        timeout: this.timeoutMs,
      },
    );
    return `stream ${ack.stream} seq ${ack.seq}${ack.duplicate ? " (duplicate: already stored)" : ""}`;
  }
}

interface NatsServer {
  address: string;
  user?: string;
  pass?: string;
}

/** `nats://user:pw@host:4222` → the server address and its credentials (the client takes them apart). */
function parseNatsUrl(url: string, name: string): NatsServer {
  const parsed = new URL(url);
  if (parsed.username && !parsed.password) {
    throw new EventHandlerConfigError(
      `events.${name}.url: a user without a password; for token authentication set events.${name}.token instead`,
    );
  }
  const address = `${parsed.protocol}//${parsed.host}`;
  if (!parsed.username) return { address };
  return { address, user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) };
}
