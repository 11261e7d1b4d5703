#!/usr/bin/env node
/**
 * Reads cryptoassets events from NATS JetStream (handler class `nats`): makes sure a stream
 * keeps the handler's subjects (`<prefix>.<event_name>.<coin>`), then reads them with a
 * durable consumer and acknowledges each message after it was processed. Prints each event
 * as one JSON line.
 *
 *   NATS_URL=nats://127.0.0.1:4222 STREAM=CRYPTOASSETS SUBJECT_PREFIX=cryptoassets node nats-consumer.mjs
 */
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { EventLog } from "./event-log.mjs";

const server = new URL(process.env.NATS_URL ?? "nats://127.0.0.1:4222");
const stream = process.env.STREAM ?? "CRYPTOASSETS";
const prefix = process.env.SUBJECT_PREFIX ?? "cryptoassets";
const durable = process.env.DURABLE ?? "shop";

const nc = await connect({
  servers: server.host,
  ...(server.username
    ? { user: decodeURIComponent(server.username), pass: decodeURIComponent(server.password) }
    : {}),
});
const jsm = await jetstreamManager(nc);
// The stream that stores the events; the helper service's publishes fail until it exists.
await jsm.streams.info(stream).catch(() => jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] }));
await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit });
const messages = await jetstream(nc)
  .consumers.get(stream, durable)
  .then((c) => c.consume());
console.error(`consuming ${stream} (${prefix}.>) as ${durable}`);
for (const signal of ["SIGINT", "SIGTERM"])
  process.once(signal, () => void messages.close().then(() => nc.close()));

const log = new EventLog();
for await (const message of messages) {
  log.handle(message.json());
  message.ack();
}
