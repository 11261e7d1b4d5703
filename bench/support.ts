/** Small helpers shared by the benchmarks: percentiles, a loopback receiver, printing. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Epoch milliseconds with sub-millisecond precision, comparable across processes. */
export const clock = (): number => performance.timeOrigin + performance.now();

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

export interface Receiver {
  url: string;
  /** event_id → receipt time (performance.now()) of the first receipt. */
  received: Map<string, number>;
  close(): Promise<void>;
}

/** A keep-alive HTTP receiver on 127.0.0.1 that answers 200 after `delayMs`. */
export async function startReceiver(delayMs = 0): Promise<Receiver> {
  const received = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const id = new URLSearchParams(Buffer.concat(chunks).toString()).get("event_id") ?? "";
      if (!received.has(id)) received.set(id, performance.now());
      const answer = () => res.end("ok");
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function row(label: string, figures: Record<string, string | number>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === "number" ? v.toFixed(1) : v}`);
  console.log(`${label.padEnd(44)} ${parts.join("  ")}`);
}
