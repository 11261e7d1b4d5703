/** `cryptoassets events list|show|redeliver|tail`: the operator's view of the outbox. */
import { type Command, InvalidArgumentError } from "commander";
import { FEED_MAX_LIMIT, FEED_MAX_WAIT_SECONDS, latestEvents, waitFeed } from "../events/feed.js";
import { type DeliveryFilter, listDeliveries, redeliver, showEvent } from "../events/outbox/queries.js";
import type { CryptoassetsEvent } from "../events/types.js";
import { cleanExternalText } from "../redact/external-text.js";
import { fail, formatTable, isoTime, toJson, withDatabase } from "./common.js";

const STATES = ["pending", "failed", "dead", "delivered"] as const;

function parseState(value: string): DeliveryFilter {
  if (!(STATES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${STATES.join(", ")}`);
  }
  return value as DeliveryFilter;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive whole number");
  return n;
}

export function registerEventsCommand(program: Command): void {
  const events = program.command("events").description("list, inspect, redeliver and tail events");
  registerList(events);
  registerShow(events);
  registerRedeliver(events);
  registerTail(events);
}

function registerList(events: Command): void {
  events
    .command("list")
    .argument("<config>", "configuration YAML file")
    .option("--state <state>", `pending | failed | dead | delivered`, parseState)
    .option("--handler <name>", "only this handler")
    .option("--limit <n>", "at most this many rows (default 100)", parseLimit, 100)
    .option("--json", "machine-readable output")
    .action(
      async (
        configPath: string,
        options: { state?: DeliveryFilter; handler?: string; limit: number; json?: boolean },
      ) => {
        await withDatabase(configPath, async ({ database }) => {
          const rows = await listDeliveries(database, options);
          if (options.json) {
            console.log(toJson(rows));
            return;
          }
          console.log(
            formatTable(
              rows.map((r) => ({
                event_id: r.event_id,
                event: r.event_name,
                key: r.ordering_key,
                handler: r.handler,
                state: r.state === "pending" && r.attempts > 0 ? "failed" : r.state,
                attempts: r.attempts,
                created: isoTime(r.created_at),
                // Rows stored before errors were cleaned may still hold a receiver's escape sequences.
                last_error: cleanExternalText(r.last_error ?? ""),
              })),
              ["event_id", "event", "key", "handler", "state", "attempts", "created", "last_error"],
            ),
          );
        });
      },
    );
}

function registerShow(events: Command): void {
  events
    .command("show")
    .argument("<config>", "configuration YAML file")
    .argument("<event_id>", "the event's id")
    .option("--json", "machine-readable output")
    .action(async (configPath: string, eventId: string, options: { json?: boolean }) => {
      await withDatabase(configPath, async ({ database }) => {
        const detail = await showEvent(database, eventId);
        if (!detail) {
          fail(new Error(`no event ${eventId}`));
          return;
        }
        if (options.json) {
          console.log(toJson(detail));
          return;
        }
        console.log(
          `event ${detail.event_id} (${detail.event_name}, ${detail.ordering_key}) created ${isoTime(detail.created_at)}`,
        );
        console.log(toJson(detail.data));
        for (const d of detail.deliveries) {
          console.log(
            `\n${d.handler}: ${d.state}, ${d.attempts} attempt(s)${d.delivered_at ? `, delivered ${isoTime(d.delivered_at)}` : ""}`,
          );
          if (d.history.length) {
            console.log(
              formatTable(
                d.history.map((h) => ({
                  at: isoTime(h.attempted_at),
                  outcome: h.outcome,
                  status: h.http_status ?? h.exit_code ?? "",
                  ms: h.duration_ms,
                  error: cleanExternalText(h.error ?? ""),
                })),
                ["at", "outcome", "status", "ms", "error"],
              ),
            );
          }
        }
      });
    });
}

function registerRedeliver(events: Command): void {
  events
    .command("redeliver")
    .argument("<config>", "configuration YAML file")
    .argument("[event_id]", "the event to deliver again")
    .option("--dead", "every dead delivery")
    .option("--handler <name>", "only this handler")
    .option("--json", "machine-readable output")
    .action(
      async (
        configPath: string,
        eventId: string | undefined,
        options: { dead?: boolean; handler?: string; json?: boolean },
      ) => {
        if (!eventId === !options.dead) {
          fail(new Error("give either an event_id or --dead"));
          return;
        }
        await withDatabase(configPath, async ({ database }) => {
          const count = await redeliver(database, eventId ? { eventId } : { allDead: true }, options.handler);
          if (eventId && count === 0) {
            fail(
              new Error(
                `no deliveries for event ${eventId}${options.handler ? ` and handler ${options.handler}` : ""}`,
              ),
            );
            return;
          }
          if (options.json) console.log(toJson({ redelivered: count }));
          else
            console.log(
              `${count} deliver${count === 1 ? "y" : "ies"} queued again; a running helper service picks them up`,
            );
        });
      },
    );
}

function registerTail(events: Command): void {
  events
    .command("tail")
    .description(
      "print events in outbox order: the newest few, or every one after --after; --follow waits for more",
    )
    .argument("<config>", "configuration YAML file")
    .option("--after <event_id>", "start after this event (the last one you read): nothing is skipped")
    .option("--lines <n>", "without --after: start with the newest n events (default 10)", parseLimit, 10)
    .option("--follow", "keep waiting for new events until interrupted")
    .option("--json", "one JSON object per line: event_id, event_name, data, created_at")
    .action(
      async (
        configPath: string,
        options: { after?: string; lines: number; follow?: boolean; json?: boolean },
      ) => {
        await withDatabase(configPath, async ({ database }) => {
          const print = (event: CryptoassetsEvent) =>
            console.log(
              options.json
                ? JSON.stringify(event)
                : `${event.created_at}  ${event.event_id}  ${event.event_name}  ${JSON.stringify(event.data)}`,
            );
          let cursor = options.after;
          if (cursor === undefined) {
            const newest = await latestEvents(database, Math.min(options.lines, FEED_MAX_LIMIT));
            newest.forEach(print);
            cursor = newest.at(-1)?.event_id;
          }
          const stop = new AbortController();
          const onSignal = () => stop.abort();
          process.once("SIGINT", onSignal);
          process.once("SIGTERM", onSignal);
          try {
            for (;;) {
              const page = await waitFeed(database, {
                after: cursor,
                limit: FEED_MAX_LIMIT,
                waitMs: options.follow ? FEED_MAX_WAIT_SECONDS * 1000 : 0,
                pollMs: 500,
                signal: stop.signal,
              });
              page.events.forEach(print);
              cursor = page.cursor ?? undefined;
              if (stop.signal.aborted) return;
              if (!options.follow && !page.more) return;
            }
          } finally {
            process.off("SIGINT", onSignal);
            process.off("SIGTERM", onSignal);
          }
        });
      },
    );
}
