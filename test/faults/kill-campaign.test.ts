/**
 * Issue 6: SIGKILL the helper service (the real CLI, a child process) at seeded moments while
 * deposits, confirmations and sends flow, restart it each time; afterwards the ledger equals
 * the chain (every deposit exactly once, balances to the satoshi, no double broadcast) and
 * every txupdate the final state implies was delivered at least once, in order per
 * transaction. 20 seeds: 10 on PostgreSQL, 10 on a SQLite file, run from one pool so that
 * their waits overlap. How to rerun one seed, and what each check reads: ./support/kill-suite.ts,
 * ./support/kill-checks.ts.
 */
import { killCampaign } from "./support/kill-suite.js";

killCampaign([
  { engine: "postgres", seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
  { engine: "sqlite", seeds: [11, 12, 13, 14, 15, 16, 17, 18, 19, 20] },
]);
