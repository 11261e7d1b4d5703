#!/usr/bin/env node
/**
 * Reads cryptoassets events from a Redis stream (handler class `redis-stream`) with a consumer
 * group: each entry is handed to one consumer of the group and acknowledged (XACK) after it
 * was processed; entries delivered before a crash but never acknowledged are read again
 * first. Prints each event as one JSON line.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 STREAM=cryptoassets:events node redis-stream-consumer.mjs
 */
import { createClient } from "redis";
import { EventLog } from "./event-log.mjs";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const stream = process.env.STREAM ?? "cryptoassets:events";
const group = process.env.GROUP ?? "shop";
const consumer = process.env.CONSUMER ?? "consumer-1";

const client = createClient({ url });
client.on("error", (error) => console.error(`redis: ${error.message}`));
await client.connect();
try {
  await client.xGroupCreate(stream, group, "0", { MKSTREAM: true });
} catch (error) {
  if (!String(error.message).startsWith("BUSYGROUP")) throw error; // the group exists already
}

console.error(`consuming ${stream} as ${consumer} of group ${group}`);

const log = new EventLog();
let running = true;
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => (running = false));

// "0": our own entries delivered earlier but not acknowledged; then ">": new entries.
let from = "0";
while (running) {
  const reply = await client.xReadGroup(
    group,
    consumer,
    { key: stream, id: from },
    { COUNT: 100, BLOCK: 500 },
  );
  const entries = reply?.[0]?.messages ?? [];
  if (from === "0" && entries.length === 0) from = ">";
  for (const { id, message } of entries) {
    log.handle({
      event_id: message.event_id,
      event_name: message.event_name,
      data: JSON.parse(message.data),
      created_at: message.created_at,
    });
    await client.xAck(stream, group, id);
  }
}
await client.close();
