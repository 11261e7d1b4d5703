/** `cryptoassets events list|show|redeliver`: the operator's view of the outbox. */
import { type Command, InvalidArgumentError } from "commander";
import { type DeliveryFilter, listDeliveries, redeliver, showEvent } from "../events/outbox/queries.js";
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
  const events = program.command("events").description("list, inspect and redeliver events");

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
                last_error: r.last_error ?? "",
              })),
              ["event_id", "event", "key", "handler", "state", "attempts", "created", "last_error"],
            ),
          );
        });
      },
    );

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
                  error: h.error ?? "",
                })),
                ["at", "outcome", "status", "ms", "error"],
              ),
            );
          }
        }
      });
    });

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
