#!/usr/bin/env node
/**
 * Reads cryptoassets events from RabbitMQ (handler class `amqp`): declares a durable queue,
 * binds it to the handler's exchange with a routing-key pattern
 * (`<event_name>.<coin>.<transaction_type>`: `#` = everything, `txupdate.*.deposit` =
 * deposits only) and acknowledges each message after it was processed. Prints each event
 * as one JSON line.
 *
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 EXCHANGE=cryptoassets QUEUE=shop BINDING='#' node amqp-consumer.mjs
 */
import amqp from "amqplib";
import { EventLog } from "./event-log.mjs";

const url = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const exchange = process.env.EXCHANGE ?? "cryptoassets";
const queue = process.env.QUEUE ?? "shop";
const binding = process.env.BINDING ?? "#";

const connection = await amqp.connect(url);
const channel = await connection.createChannel();
await channel.assertExchange(exchange, "topic", { durable: true });
await channel.assertQueue(queue, { durable: true });
await channel.bindQueue(queue, exchange, binding);
await channel.prefetch(100);

const log = new EventLog();
await channel.consume(queue, (message) => {
  if (message === null) return; // the queue was deleted
  log.handle(JSON.parse(message.content.toString("utf8")));
  channel.ack(message);
});
console.error(`consuming ${queue} (bound to ${exchange} with ${binding})`);

for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => void connection.close());
