/**
 * `amqp` (RabbitMQ): each event is published as a persistent JSON message to the configured
 * exchange (declared durable, type topic, when missing) with the routing key
 * `<event_name>.<coin>.<transaction_type>` (`-` for a field the event lacks, see ../routing),
 * on a confirm channel. The delivery counts only once the broker confirmed the message: a
 * nack, a message returned as unroutable (`mandatory`, on by default: no queue is bound for
 * its key, so it would be dropped), a closed channel or connection, or the timeout is a
 * failed attempt, retried later. Properties: `message_id` = event_id (consumers dedupe on it),
 * `type` = event name, `content_type` application/json, `timestamp`, `app_id` cryptoassets.
 *
 * amqplib, RabbitMQ's long-standing Node client (its tutorials use it): confirm channels with
 * a callback per message, and no reconnection logic of its own to fight with — a broken
 * connection is dropped and the next delivery opens a new one (./broker-connection).
 */
import type { ChannelModel, ConfirmChannel } from "amqplib";
import { DeliveryFailedError } from "../../errors.js";
import { routingFieldsOf } from "../routing.js";
import type { CryptoassetsEvent } from "../types.js";
import { BrokerEventHandler, type BrokerHandlerOptions } from "./broker-connection.js";
import { encodeWebhookBody } from "./http-body.js";

export interface AmqpEventHandlerOptions extends BrokerHandlerOptions {
  /** `amqp://user:password@host:5672/vhost` (or `amqps://`). */
  url: string;
  exchange: string;
  /** Treat a message no queue is bound for as a failed attempt (default true). */
  mandatory?: boolean;
}

interface Session {
  model: ChannelModel;
  channel: ConfirmChannel;
  /** message_ids the broker returned as unroutable; looked up when their confirm arrives. */
  returned: Set<string>;
}

/** Refusals by the broker: the channel stays usable. */
const REFUSED = new Set(["UNROUTABLE", "NACK"]);

/** `txupdate.btc.deposit`; `-` stands in for a field the event does not carry. */
export function amqpRoutingKey(event: Pick<CryptoassetsEvent, "event_name" | "data">): string {
  const { event_name, coin, transaction_type } = routingFieldsOf(event);
  return `${event_name}.${coin}.${transaction_type}`;
}

export class AmqpEventHandler extends BrokerEventHandler<Session> {
  readonly kind = "amqp" as const;
  readonly #url: string;
  readonly #exchange: string;
  readonly #mandatory: boolean;

  constructor(name: string, options: AmqpEventHandlerOptions) {
    super(name, options, "events.amqp");
    this.#url = options.url;
    this.#exchange = options.exchange;
    this.#mandatory = options.mandatory ?? true;
  }

  protected async open(): Promise<Session> {
    // amqplib is imported by the first connection: a service without RabbitMQ never loads it.
    const { default: amqp } = await import("amqplib");
    const model = await amqp.connect(this.#url, {
      timeout: this.timeoutMs,
      clientProperties: { connection_name: `cryptoassets ${this.name}` },
    });
    try {
      const channel = await model.createConfirmChannel();
      const session: Session = { model, channel, returned: new Set() };
      const broken = (what: string) => (error?: Error) => {
        if (error)
          this.logger.warn(
            { err: this.loggable(error), url: this.shownUrl },
            `AMQP ${what} failed; reconnecting at the next delivery`,
          );
        this.connection.discard(session);
      };
      model.on("error", broken("connection"));
      model.on("close", broken("connection"));
      channel.on("error", broken("channel"));
      channel.on("close", broken("channel"));
      channel.on("return", (message) => {
        const id = message.properties.messageId;
        if (typeof id === "string") session.returned.add(id);
      });
      await channel.assertExchange(this.#exchange, "topic", { durable: true });
      return session;
    } catch (error) {
      await model.close().catch(() => undefined);
      throw error;
    }
  }

  protected async shut(session: Session): Promise<void> {
    await session.model.close();
  }

  protected describe(event: CryptoassetsEvent): string {
    return `publishing to exchange ${this.#exchange} (${amqpRoutingKey(event)}) on ${this.shownUrl}`;
  }

  protected override keepsConnection(error: unknown): boolean {
    return error instanceof DeliveryFailedError && REFUSED.has(error.code);
  }

  protected publish(session: Session, event: CryptoassetsEvent): Promise<string> {
    const routingKey = amqpRoutingKey(event);
    const body = encodeWebhookBody(event, "json");
    return new Promise((resolve, reject) => {
      session.channel.publish(
        this.#exchange,
        routingKey,
        body.body,
        {
          persistent: true,
          mandatory: this.#mandatory,
          contentType: body.contentType,
          messageId: event.event_id,
          type: event.event_name,
          timestamp: Math.floor(Date.parse(event.created_at) / 1000),
          appId: "cryptoassets",
        },
        (error) => {
          // RabbitMQ sends basic.return before the confirm of an unroutable mandatory message.
          const returned = session.returned.delete(event.event_id);
          if (error) reject(error instanceof Error && error.message === "message nacked" ? nacked() : error);
          else if (returned) reject(this.#unroutable(routingKey));
          else resolve(`confirmed (${routingKey})`);
        },
      );
    });
  }

  #unroutable(routingKey: string): DeliveryFailedError {
    return new DeliveryFailedError(
      `no queue is bound to exchange ${this.#exchange} for routing key ${routingKey}: the broker returned the message (bind a queue, or set mandatory: false to let such messages drop)`,
      { code: "UNROUTABLE" },
    );
  }
}

function nacked(): DeliveryFailedError {
  return new DeliveryFailedError(
    "the broker refused the message (nack): a queue at its length limit with overflow reject-publish, or a broker-side error",
    { code: "NACK" },
  );
}
