/**
 * The state of every moving part of the service, in one place: /health answers from it,
 * the dashboard lists it, and the supervisor decides from it.
 *
 * - `running`: doing its job;
 * - `standby`: healthy but waiting — another helper service holds the singleton lock;
 * - `starting` / `degraded`: not (yet) able to do its job, e.g. the daemon is unreachable
 *   and we retry with backoff — unhealthy, but not fatal;
 * - `failed`: died; the service shuts down and exits 2.
 */
import { cleanExternalText } from "../redact/external-text.js";

export type SubsystemState =
  | "starting"
  | "running"
  | "standby"
  | "degraded"
  | "stopping"
  | "stopped"
  | "failed";

export interface SubsystemStatus {
  name: string;
  state: SubsystemState;
  /** Why it is in this state (an error message, "held by another instance"…); never a secret. */
  detail: string | null;
  /** Unix milliseconds of the last state change. */
  since: number;
}

const HEALTHY: ReadonlySet<SubsystemState> = new Set(["running", "standby"]);

export class SubsystemRegistry {
  private readonly entries = new Map<string, SubsystemStatus>();

  set(name: string, state: SubsystemState, rawDetail: string | null = null): void {
    // Details quote daemons, brokers and databases (their error messages): shown on /health,
    // /status.json and the dashboard, so without control characters.
    const detail = rawDetail === null ? null : cleanExternalText(rawDetail);
    const previous = this.entries.get(name);
    if (previous && previous.state === state && previous.detail === detail) return;
    this.entries.set(name, {
      name,
      state,
      detail,
      since: previous && previous.state === state ? previous.since : Date.now(),
    });
  }

  get(name: string): SubsystemStatus | undefined {
    return this.entries.get(name);
  }

  list(): SubsystemStatus[] {
    return [...this.entries.values()].map((entry) => ({ ...entry }));
  }

  /** One line per subsystem that is not healthy: what /health answers with a 503. */
  problems(): string[] {
    return this.list()
      .filter((entry) => !HEALTHY.has(entry.state))
      .map((entry) => `${entry.name} is ${entry.state}${entry.detail ? `: ${entry.detail}` : ""}`);
  }
}
