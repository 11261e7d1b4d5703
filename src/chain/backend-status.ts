/**
 * `backendstatus`: the coin's daemon became unreachable, came back, or its tip stopped moving
 * for longer than `stuck_after_blocks` × `block_interval` (a stuck node). Fed by the backend
 * probe's answers; one event per change of state, never one per failed call.
 *
 * The state lives in `ca_backend_status` and the event is written in the same serializable
 * transaction that changes it: a restart (or another instance taking over) compares with the
 * stored state and fires nothing when nothing changed; two writers cannot both report one
 * change. Without a stored row the daemon counts as `up`: a first start against a healthy
 * daemon fires nothing.
 */
import type { ChainTip } from "../backends/backend.js";
import type { Database } from "../db/open.js";
import type { BackendStatusTable } from "../db/schema.js";
import { runSerializable } from "../db/serializable.js";
import type { EventSink } from "../events/outbox/outbox.js";
import type { BackendStatus, BackendStatusData } from "../events/types.js";
import { type Logger, silentLogger } from "../log.js";

/** Seconds between blocks by coin (the stuck limit is a multiple of it). */
export const BLOCK_INTERVAL_SECONDS: Readonly<Record<string, number>> = { btc: 600, ltc: 150, doge: 60 };

/** The coin's block interval; a coin not listed above is taken at Bitcoin's ten minutes. */
export function blockIntervalSeconds(coinName: string): number {
  return BLOCK_INTERVAL_SECONDS[coinName] ?? (BLOCK_INTERVAL_SECONDS.btc as number);
}

/** Default `stuck_after_blocks`; regtest mines on demand, so there a still tip is no fault (0 = off). */
export const DEFAULT_STUCK_AFTER_BLOCKS = 6;

export type BackendObservation = { tip: ChainTip } | { error: string };

export interface BackendStatusMonitorOptions {
  coin: string;
  database: Database;
  events: EventSink;
  /** The tip standing still longer than this is `stuck`; 0 = never (given the tip: regtest or not). */
  stuckAfterMs: (tip?: ChainTip) => number;
  logger?: Logger;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class BackendStatusMonitor {
  private readonly logger: Logger;

  constructor(private readonly options: BackendStatusMonitorOptions) {
    this.logger = (options.logger ?? silentLogger).child({
      module: "chain.backend-status",
      coin: options.coin,
    });
  }

  /** Records one probe answer; returns the event's data when the state changed. */
  async observe(observation: BackendObservation, now = Date.now()): Promise<BackendStatusData | undefined> {
    const { coin, database, events } = this.options;
    const stuckAfterMs = this.options.stuckAfterMs("tip" in observation ? observation.tip : undefined);
    const changed = await runSerializable(database, async (trx) => {
      const stored = await trx
        .selectFrom("ca_backend_status")
        .selectAll()
        .where("coin", "=", coin)
        .executeTakeFirst();
      const previous: BackendStatus = stored?.status ?? "up";
      let tipHash = stored?.tip_hash ?? null;
      let tipHeight = stored?.tip_height ?? null;
      let tipChangedAt = stored?.tip_changed_at ?? null;
      let status: BackendStatus;
      if ("error" in observation) {
        status = "unreachable";
      } else {
        if (observation.tip.hash !== tipHash || tipChangedAt === null) {
          tipHash = observation.tip.hash;
          tipHeight = observation.tip.height;
          tipChangedAt = now;
        }
        status = stuckAfterMs > 0 && now - tipChangedAt > stuckAfterMs ? "stuck" : "up";
      }
      const row: BackendStatusTable = {
        coin,
        status,
        changed_at: status === previous && stored ? stored.changed_at : now,
        tip_hash: tipHash,
        tip_height: tipHeight,
        tip_changed_at: tipChangedAt,
        updated_at: now,
      };
      // Written only when something moved: a healthy daemon costs a read per probe.
      const moved = !stored || status !== previous || tipHash !== stored.tip_hash;
      if (!moved) return undefined;
      if (stored) await trx.updateTable("ca_backend_status").set(row).where("coin", "=", coin).execute();
      else await trx.insertInto("ca_backend_status").values(row).execute();
      if (status === previous) return undefined;
      const data: BackendStatusData = {
        coin_name: coin,
        status,
        previous_status: previous,
        since: new Date(now).toISOString(),
        tip_height: tipHeight,
        tip_hash: tipHash,
        tip_changed_at: iso(tipChangedAt),
        error: "error" in observation ? observation.error : null,
        stuck_after_seconds: status === "stuck" ? stuckAfterMs / 1000 : null,
      };
      await events.write(trx, [{ event_name: "backendstatus", data }]);
      return data;
    });
    if (changed) {
      events.notifyCommitted();
      this.logger.warn(
        { status: changed.status, previous: changed.previous_status, error: changed.error ?? undefined },
        "daemon status changed",
      );
    }
    return changed;
  }
}
