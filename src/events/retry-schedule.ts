/**
 * When to try a failed delivery again. The default schedule backs off exponentially from
 * 5 seconds to 12 hours and keeps trying for about three days in total, so an application
 * that is down over a weekend still gets every event; after the last step the delivery is
 * `dead` and waits for an operator.
 */

/** Seconds to wait after attempt n (index n-1) failed. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [
  5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14_400, 21_600, 43_200, 43_200, 43_200, 43_200,
  43_200,
];

export function totalRetrySeconds(schedule: readonly number[]): number {
  return schedule.reduce((sum, s) => sum + s, 0);
}

/**
 * The next attempt time after `attempts` failed attempts, or `null` when the schedule is
 * exhausted (the delivery becomes dead). Jitter of ±20% spreads retries of many deliveries
 * that failed together (a receiver outage) so they do not return as one burst.
 */
export function nextAttemptAt(
  attempts: number,
  schedule: readonly number[],
  now: Date,
  random: () => number = Math.random,
): Date | null {
  const base = schedule[attempts - 1];
  if (base === undefined) return null;
  const jitter = 1 + (random() * 0.4 - 0.2);
  return new Date(now.getTime() + Math.round(base * 1000 * jitter));
}
