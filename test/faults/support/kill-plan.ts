/**
 * What one seed of the kill campaign does, decided entirely by the seed: the accounts and
 * addresses, the workload (deposits, blocks, sends, in which order and with which pauses),
 * and when the helper service is killed. The same seed always gives the same plan; only
 * the timing of the processes around it varies from run to run.
 */
import { Rng } from "../../support/prng.js";

export type Op =
  /** The payer pays one of our addresses. */
  | { kind: "pay"; gapMs: number; address: number; amount: bigint }
  /** The payer pays two of our addresses in one transaction (sendmany). */
  | { kind: "paymany"; gapMs: number; addresses: [number, number]; amounts: [bigint, bigint] }
  | { kind: "mine"; gapMs: number; blocks: number }
  /** A send of `permille` of the account's credited balance to a fresh payer address. */
  | { kind: "send"; gapMs: number; account: number; permille: number }
  /** A new receiving address for an account, mid-run. */
  | { kind: "address"; gapMs: number; account: number };

/** Log messages of the service (pino `msg`) a kill can be aimed at. */
export const KILL_AFTER_MESSAGES = [
  "broadcast opened",
  "transactions updated",
  "processed chain tip",
  "start-up scan finished",
] as const;

export type KillTrigger =
  /**
   * SIGKILL `delayMs` after the process wrote its first log line (the code is loaded, the
   * database opened): during migrations, listener set-up, the start-up scan, the first
   * broadcast period.
   */
  | { kind: "in-start-up"; delayMs: number }
  /** SIGKILL `delayMs` after the service logged "helper service running": in steady work. */
  | { kind: "after-running"; delayMs: number }
  /**
   * SIGKILL `extraMs` after the next log line with this message (so inside the window right
   * behind it, e.g. between a broadcast's open and close commits); after `fallbackMs`
   * without such a line, SIGKILL anyway. Except for the start-up scan, the line is awaited
   * once the service is running.
   */
  | { kind: "after-log"; message: (typeof KILL_AFTER_MESSAGES)[number]; extraMs: number; fallbackMs: number };

export interface KillPlan {
  trigger: KillTrigger;
  /** How long the service stays down before the restart (the workload goes on). */
  downtimeMs: number;
}

export interface SeedPlan {
  seed: number;
  accounts: number;
  addressesPerAccount: number;
  /** The first `prelude` ops (deposits and the blocks that credit them) run before the first start. */
  prelude: number;
  ops: Op[];
  kills: KillPlan[];
}

const SAT = 1n;
const BTC = 100_000_000n * SAT;

export function makePlan(seed: number): SeedPlan {
  const rng = new Rng(seed);
  const accounts = rng.int(2, 3);
  const addressesPerAccount = rng.int(1, 2);
  let addresses = accounts * addressesPerAccount;
  // The mix: each seed weighs deposits, blocks and sends differently.
  const weights = {
    pay: rng.int(3, 6),
    paymany: rng.int(0, 2),
    mine: rng.int(3, 6),
    send: rng.int(3, 7),
    address: rng.int(0, 1),
  };
  const gap = () => rng.int(20, 220);
  const amount = () => rng.bigint(BTC / 1000n, BTC / 2n); // 0.001 … 0.5 BTC, to the satoshi
  const ops: Op[] = [];
  // Money first, before the service's first start (its start-up scan finds them): deposits
  // and enough blocks to credit them, so that sends have funds early.
  for (let i = 0; i < addresses; i++) ops.push({ kind: "pay", gapMs: gap(), address: i, amount: amount() });
  ops.push({ kind: "mine", gapMs: gap(), blocks: 3 });
  const count = rng.int(22, 32);
  for (let i = 0; i < count; i++) {
    const kind = rng.weighted(weights);
    switch (kind) {
      case "pay":
        ops.push({ kind, gapMs: gap(), address: rng.int(0, addresses - 1), amount: amount() });
        break;
      case "paymany": {
        const first = rng.int(0, addresses - 1);
        const second = (first + rng.int(1, addresses - 1)) % addresses;
        ops.push({ kind, gapMs: gap(), addresses: [first, second], amounts: [amount(), amount()] });
        break;
      }
      case "mine":
        ops.push({ kind, gapMs: gap(), blocks: rng.chance(0.8) ? 1 : rng.int(2, 4) });
        break;
      case "send":
        ops.push({ kind, gapMs: gap(), account: rng.int(0, accounts - 1), permille: rng.int(20, 250) });
        break;
      case "address":
        ops.push({ kind, gapMs: gap(), account: rng.int(0, accounts - 1) });
        addresses++;
        break;
    }
  }
  // Every seed sends: at least five sends, anywhere after the first credits.
  const firstCredit = addresses + 1;
  while (ops.filter((op) => op.kind === "send").length < 5) {
    const at = rng.int(firstCredit, ops.length);
    ops.splice(at, 0, {
      kind: "send",
      gapMs: gap(),
      account: rng.int(0, accounts - 1),
      permille: rng.int(20, 250),
    });
  }
  // Two kills per seed, forty in all: every kill costs a restart, and a Node start-up is
  // the most expensive thing the campaign does on two cores.
  const kills: KillPlan[] = [];
  for (let i = 0; i < 2; i++) {
    const kind = rng.weighted({ "in-start-up": 2, "after-running": 4, "after-log": 4 });
    const trigger: KillTrigger =
      kind === "in-start-up"
        ? { kind, delayMs: rng.int(0, 400) }
        : kind === "after-running"
          ? { kind, delayMs: rng.int(0, 2500) }
          : {
              kind,
              // Aimed at a broadcast in flight more often than the rest: that window is tiny.
              message: rng.chance(0.55) ? "broadcast opened" : rng.pick(KILL_AFTER_MESSAGES),
              extraMs: rng.int(0, 12),
              fallbackMs: 4000,
            };
    kills.push({ trigger, downtimeMs: rng.chance(0.3) ? 0 : rng.int(50, 900) });
  }
  return { seed, accounts, addressesPerAccount, prelude: addresses + 1, ops, kills };
}
