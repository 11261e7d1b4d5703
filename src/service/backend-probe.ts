/**
 * Keeps asking the daemon for its tip so every instance (leader or standby) knows whether
 * its backend is reachable, even when no other work calls it. A daemon that is down at
 * start is not fatal: the probe retries with exponential backoff (1 s, 2 s, 4 s … 30 s)
 * and the status page says "unreachable since … because …"; once it answers, the probe
 * slows down to one call every `healthyEveryMs`.
 */
import type { ChainTip } from "../backends/backend.js";
import type { BackendObservation } from "../chain/backend-status.js";
import { type Logger, silentLogger } from "../log.js";
import type { MeteredBackend } from "./metered-backend.js";
import type { SubsystemRegistry } from "./subsystems.js";

export interface BackendProbeOptions {
  /** Subsystem name ("btc.backend"). */
  name: string;
  backend: MeteredBackend;
  subsystems: SubsystemRegistry;
  /** Between probes while reachable; default 15 000 ms. */
  healthyEveryMs?: number;
  /** First retry delay while unreachable (doubles up to maxBackoffMs); default 1000 ms. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Every tip the daemon answers with (the coin service checks its chain against the config). */
  onTip?: (tip: ChainTip) => void;
  /** Every probe's outcome: the tip, or why the daemon could not be reached (backendstatus). */
  onResult?: (observation: BackendObservation) => void;
  logger?: Logger;
}

export class BackendProbe {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private backoffMs: number;
  private failures = 0;
  private readonly logger: Logger;
  private reachableWaiters: (() => void)[] = [];

  constructor(private readonly options: BackendProbeOptions) {
    this.backoffMs = options.initialBackoffMs ?? 1000;
    this.logger = (options.logger ?? silentLogger).child({
      module: "service.backend-probe",
      subsystem: options.name,
    });
  }

  /** Probes once now (never throws) and keeps probing in the background. */
  async start(): Promise<void> {
    this.options.subsystems.set(this.options.name, "starting", "contacting the daemon");
    await this.probe();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const resolve of this.reachableWaiters) resolve();
    this.reachableWaiters = [];
  }

  /** Resolves once the daemon has answered (or the probe is stopped). */
  reachable(): Promise<void> {
    if (this.options.backend.health.state === "reachable" || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.reachableWaiters.push(resolve));
  }

  private async probe(): Promise<void> {
    if (this.stopped) return;
    const { backend, subsystems, name } = this.options;
    let tip: ChainTip | undefined;
    try {
      tip = await backend.getTip();
    } catch {
      // Only transport failures make the daemon unreachable; an RPC error reply still counts as up.
    }
    if (this.stopped) return;
    if (tip) this.options.onTip?.(tip);
    let delay: number;
    if (backend.health.state === "unreachable") {
      this.options.onResult?.({ error: backend.health.lastError ?? "no answer" });
      this.failures++;
      delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
      const detail = `${backend.health.lastError ?? "no answer"}; retrying in ${Math.round(delay / 1000)}s`;
      subsystems.set(name, "degraded", detail);
      const log = this.failures === 1 || this.failures % 10 === 0 ? this.logger.warn : this.logger.debug;
      log.call(
        this.logger,
        { err: backend.health.lastError, retryInMs: delay },
        "daemon unreachable; retrying",
      );
    } else {
      if (tip) this.options.onResult?.({ tip });
      if (this.failures > 0) this.logger.info({ after: this.failures }, "daemon reachable again");
      this.failures = 0;
      this.backoffMs = this.options.initialBackoffMs ?? 1000;
      delay = this.options.healthyEveryMs ?? 15_000;
      subsystems.set(name, "running", null);
      for (const resolve of this.reachableWaiters) resolve();
      this.reachableWaiters = [];
    }
    this.timer = setTimeout(() => void this.probe(), delay);
    this.timer.unref();
  }
}
