/**
 * One seed of the SIGKILL campaign (issue 6): deposits, blocks and sends flow while the
 * helper service is SIGKILLed at seeded moments and restarted; then the chain is mined past
 * max_confirmation_count, interrupted broadcasts are resolved the way the README tells an
 * operator to, and the ledger, the outbox, the receiver and the chain are read back as facts
 * for ./kill-checks.ts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { CryptoassetsEvent } from "../../../src/events/types.js";
import {
  closeBroadcast,
  commentOf,
  listInterruptedBroadcasts,
  releaseBroadcast,
} from "../../../src/ledger/broadcasts.js";
import { waitFor } from "../../support/wait.js";
import { type KillPlan, makePlan, type Op, type SeedPlan } from "./kill-plan.js";
import type { Deadline, Exit, KillRecord } from "./kill-service.js";
import {
  btcParam,
  type CampaignEngine,
  createWorld,
  MAX_CONFIRMATIONS,
  STARTUP_TIMEOUT_MS,
  toSats,
  type World,
} from "./kill-world.js";

export interface DepositRecord {
  txid: string;
  address: string;
  accountId: number;
  amount: bigint;
}

export interface SendRecord {
  /** Our transaction id (ca_transaction). */
  id: number;
  accountId: number;
  address: string;
  amount: bigint;
}

export interface Kill extends KillRecord {
  trigger: string;
  /** Broadcasts opened but not closed right after this kill (the database at rest). */
  interrupted: number[];
}

export interface InterruptedSummary {
  /** Every broadcast found interrupted right after a kill. */
  seen: number[];
  /** Of those, closed later by the service itself (found by their sendmany comment). */
  recovered: number[];
  /** Still interrupted at the end, not paid by the daemon: released and sent again. */
  released: number[];
  /** Still interrupted at the end but paid by the daemon: closed by hand like an operator would. */
  closedByHand: number[];
  /** Gone from the ledger without our release (the service released it itself). */
  releasedByService: number[];
  /** Found interrupted at the end although no kill left it so (a sendmany that timed out). */
  withoutKill: number[];
}

export interface LedgerFacts {
  accounts: Array<{ id: number; name: string; kind: string; balance: bigint }>;
  addresses: Array<{ id: number; account_id: number | null; address: string; balance: bigint }>;
  transactions: Array<{
    id: number;
    type: string;
    state: string;
    amount: bigint;
    sending_account_id: number | null;
    receiving_account_id: number | null;
    address_id: number | null;
    network_transaction_id: number | null;
  }>;
  networkTransactions: Array<{
    id: number;
    txid: string | null;
    transaction_type: string;
    confirmations: number;
    tracked: number;
    fee: bigint | null;
    opened_at: number | null;
    closed_at: number | null;
  }>;
  events: Array<{ id: number; event_id: string; ordering_key: string; payload: string }>;
  deliveries: Array<{ event_row_id: number; state: string; attempts: number }>;
  walletBalance: { confirmed: bigint; unconfirmed: bigint };
}

export interface WalletEntry {
  txid: string;
  category: string;
  address: string | undefined;
  amount: bigint;
  fee: bigint | undefined;
  comment: string | undefined;
  confirmations: number;
}

export interface ChainFacts {
  tipHeight: number;
  /** The payer wallet's `receive` entries: where our sends arrived. */
  payerReceives: WalletEntry[];
  /** Every entry of the "ours" wallet (receive and send). */
  ours: WalletEntry[];
  /** getbalance of "ours" (minconf 0: everything, mined or not). */
  oursBalance: bigint;
  /** Fee (positive) of each of our wallet's sends, from gettransaction. */
  feeByTxid: Record<string, bigint>;
}

export interface SeedResult {
  seed: number;
  engine: CampaignEngine;
  plan: SeedPlan;
  wallMs: number;
  /** Why the run itself could not finish (a settle timeout, an RPC failure…). */
  error?: string;
  kills: Kill[];
  starts: number;
  /** Per start: ms from spawn to "helper service running" (undefined: killed before). */
  startupMs: Array<number | undefined>;
  /** Per start: the log timeline (ms after spawn, message). */
  timelines: string[][];
  /** Per start: everything the service wrote (for a failing seed's report). */
  logs: string[];
  unexpectedExits: Exit[];
  finalExit: number | string | undefined;
  deposits: DepositRecord[];
  sends: SendRecord[];
  sendsSkipped: number;
  interrupted: InterruptedSummary;
  /** Findings of check 4 made while resolving interrupted broadcasts. */
  interruptedFailures: string[];
  /** Whether the service's sendmany calls carry `cryptoassets:<ledger id>:ntx:<id>` comments. */
  commentsInUse: boolean;
  /** Deliveries under lease when the settle began (mostly a killed dispatcher's: they wait it out). */
  leasedAtSettle: number;
  /** From the last kill to everything delivered and final. */
  caughtUpAfterLastKillMs: number | undefined;
  ledger?: LedgerFacts;
  chain?: ChainFacts;
  deliveries: CryptoassetsEvent<"txupdate">[];
}

/** The start of every sendmany comment the service writes (the ledger id follows). */
export const COMMENT_PREFIX = "cryptoassets:";
/** A broadcast of the running service open longer than this is interrupted (RPC timeout 15 s + margin). */
const IN_FLIGHT_MS = 25_000;
/** How long the running service gets to close an interrupted broadcast the daemon paid. */
const RECOVERY_MS = 20_000;

/**
 * `waitFor` within the campaign's time budget: `probe` answers true or what it still sees, and
 * the timeout names the seed and that last state.
 */
async function waitUntil(
  seed: number,
  what: string,
  probe: () => Promise<true | string>,
  timeoutMs: number,
  budget: Deadline,
  everyMs = 400,
): Promise<void> {
  let last = "not probed yet";
  const name = () =>
    `${what} (seed ${seed}${Date.now() >= budget.at ? ", the campaign's time budget ran out" : ""}); still: ${last}`;
  const state = async () => {
    const seen = await probe();
    if (seen === true) return true;
    last = seen;
    return undefined;
  };
  await waitFor(name, state, budget.bound(timeoutMs), everyMs);
}

function walletEntries(result: unknown): WalletEntry[] {
  return (result as Array<Record<string, unknown>>).map((entry) => ({
    txid: String(entry.txid),
    category: String(entry.category),
    address: entry.address === undefined ? undefined : String(entry.address),
    amount: toSats(entry.amount),
    fee: entry.fee === undefined ? undefined : toSats(entry.fee),
    comment: entry.comment === undefined ? undefined : String(entry.comment),
    confirmations: Number(String(entry.confirmations)),
  }));
}

async function listWallet(client: World["payer"]): Promise<WalletEntry[]> {
  return walletEntries(await client.call("listtransactions", ["*", 1_000_000, 0, true]));
}

async function tipHeight(world: World): Promise<number> {
  return Number(String(await world.root.call("getblockcount")));
}

class Run {
  readonly plan: SeedPlan;
  readonly addresses: Array<{ address: string; accountId: number }> = [];
  readonly accountIds: number[] = [];
  readonly deposits: DepositRecord[] = [];
  readonly sends: SendRecord[] = [];
  readonly kills: Kill[] = [];
  readonly interruptedSeen = new Set<number>();
  sendsSkipped = 0;
  lastKillAt = 0;
  leasedAtSettle = 0;

  constructor(readonly world: World) {
    this.plan = makePlan(world.seed);
  }

  get seed(): number {
    return this.world.seed;
  }

  async setUp(): Promise<void> {
    const { ledger } = this.world;
    for (let a = 0; a < this.plan.accounts; a++) {
      const account = await ledger.createAccount(`user-${a}`);
      this.accountIds.push(account.id);
    }
    for (let i = 0; i < this.plan.addressesPerAccount; i++) {
      for (const accountId of this.accountIds) await this.newAddress(accountId);
    }
  }

  async newAddress(accountId: number): Promise<void> {
    const { address } = await this.world.ledger.createReceivingAddress(accountId);
    this.addresses.push({ address, accountId });
  }

  async mine(blocks: number): Promise<void> {
    await this.world.payer.call("generatetoaddress", [blocks, this.world.regtest.payerAddress]);
  }

  async op(op: Op): Promise<void> {
    const { world } = this;
    switch (op.kind) {
      case "pay": {
        const target = this.addresses[op.address];
        if (!target) throw new Error(`seed ${this.seed}: no address #${op.address}`);
        const txid = String(await world.payer.call("sendtoaddress", [target.address, btcParam(op.amount)]));
        this.deposits.push({ txid, address: target.address, accountId: target.accountId, amount: op.amount });
        return;
      }
      case "paymany": {
        const targets = op.addresses.map((i) => this.addresses[i]);
        const amounts: Record<string, unknown> = {};
        targets.forEach((target, i) => {
          if (!target) throw new Error(`seed ${this.seed}: no address #${op.addresses[i]}`);
          amounts[target.address] = btcParam(op.amounts[i] as bigint);
        });
        const txid = String(await world.payer.call("sendmany", ["", amounts]));
        targets.forEach((target, i) => {
          if (target)
            this.deposits.push({
              txid,
              address: target.address,
              accountId: target.accountId,
              amount: op.amounts[i] as bigint,
            });
        });
        return;
      }
      case "mine":
        await this.mine(op.blocks);
        return;
      case "address":
        await this.newAddress(this.accountIds[op.account] as number);
        return;
      case "send": {
        const accountId = this.accountIds[op.account] as number;
        // Credits arrive when the service has seen the blocks; it may be restarting: wait a little.
        let amount = 0n;
        for (const deadline = Date.now() + 4000; ; ) {
          const { confirmed } = await world.ledger.accountBalance(accountId);
          amount = (confirmed * BigInt(op.permille)) / 1000n;
          if (amount >= 10_000n || Date.now() > deadline) break;
          await sleep(200);
        }
        if (amount < 10_000n) {
          this.sendsSkipped++;
          return;
        }
        // One fresh destination per send: the chain can then be counted per destination.
        const address = String(await world.payer.call("getnewaddress"));
        const id = await world.ledger.send(accountId, address, amount);
        this.sends.push({ id, accountId, address, amount });
        return;
      }
    }
  }

  /** The deposits and blocks that come before the service's first start. */
  async prelude(): Promise<void> {
    for (const op of this.plan.ops.slice(0, this.plan.prelude)) await this.op(op);
  }

  async drive(): Promise<void> {
    for (const op of this.plan.ops.slice(this.plan.prelude)) {
      this.world.deadline.check(`in the workload of seed ${this.seed}`);
      await sleep(op.gapMs);
      await this.op(op);
    }
  }

  async interruptedIds(): Promise<number[]> {
    const rows = await this.world.ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx));
    return rows.map((row) => row.id);
  }

  async killOnce(plan: KillPlan): Promise<void> {
    const { service } = this.world;
    const trigger = plan.trigger;
    let described: string;
    const { deadline } = this.world;
    const running = () =>
      service.nextLine("helper service running", deadline.bound(STARTUP_TIMEOUT_MS), true);
    switch (trigger.kind) {
      case "in-start-up": {
        const logged = await service.nextLine("*", deadline.bound(STARTUP_TIMEOUT_MS), true);
        const firstLogAt = service.firstLogAt ?? Date.now();
        await sleep(Math.max(0, firstLogAt + trigger.delayMs - Date.now()));
        described = logged
          ? `${trigger.delayMs} ms after the first log line`
          : `no log line within ${STARTUP_TIMEOUT_MS} ms`;
        break;
      }
      case "after-running":
        described = (await running())
          ? `${trigger.delayMs} ms after running`
          : `not running within ${STARTUP_TIMEOUT_MS} ms`;
        await sleep(trigger.delayMs);
        break;
      case "after-log": {
        // The start-up scan comes once per start: wait for it as long as for a start.
        const startUp = trigger.message === "start-up scan finished";
        if (!startUp) await running();
        const seen = await service.nextLine(
          trigger.message,
          deadline.bound(startUp ? STARTUP_TIMEOUT_MS : trigger.fallbackMs),
          startUp,
        );
        if (seen && trigger.extraMs > 0) await sleep(trigger.extraMs);
        described = seen
          ? `${trigger.extraMs} ms after "${trigger.message}"`
          : `no "${trigger.message}" within ${trigger.fallbackMs} ms`;
        break;
      }
    }
    deadline.check(`before kill ${this.kills.length + 1} of seed ${this.seed}`);
    const record = await service.kill();
    // The service is dead: the database is at rest, so this is exactly what the kill left.
    const interrupted = (await this.interruptedIds()).filter((id) => !this.interruptedSeen.has(id));
    for (const id of interrupted) this.interruptedSeen.add(id);
    this.kills.push({ ...record, trigger: described, interrupted });
    this.lastKillAt = Date.now();
    if (plan.downtimeMs > 0) await sleep(plan.downtimeMs);
    service.start();
  }

  async killAll(): Promise<void> {
    for (const kill of this.plan.kills) await this.killOnce(kill);
  }

  /** Pending sends not yet taken by a broadcast. */
  async unbroadcastSends(): Promise<number> {
    const rows = await this.world.database.db
      .selectFrom("ca_transaction")
      .select("id")
      .where("type", "=", "broadcast")
      .where("state", "=", "pending")
      .where("network_transaction_id", "is", null)
      .execute();
    return rows.length;
  }

  async waitForServiceRunning(): Promise<void> {
    const wait = this.world.deadline.bound(STARTUP_TIMEOUT_MS);
    if (!(await this.world.service.nextLine("helper service running", wait, true)))
      throw new Error(
        `seed ${this.seed}: the service was not running ${STARTUP_TIMEOUT_MS} ms after its start`,
      );
  }

  /**
   * Every broadcast still interrupted after the service had time to recover it: the daemon's
   * wallet must not carry its comment (recovery would have closed it). Not paid → released
   * (the README's operator action) and sent again by the service; paid without a comment
   * (a broadcaster that does not write comments) → closed by hand with the daemon's txid.
   *
   * "Opened, not closed" is only an interruption when nobody is still working on it: a
   * broadcast opened by the running service may simply be in its sendmany. Those left by a
   * kill are (their process is gone); one of the running service's counts only once it has
   * stayed open longer than a sendmany can take (then its call failed ambiguously).
   */
  async resolveInterrupted(summary: InterruptedSummary, failures: string[]): Promise<boolean> {
    const { world, seed } = this;
    // Opened by a process that is gone (before the current one was spawned): interrupted by a
    // kill even if its commit landed just after the snapshot taken at the kill.
    const openNow = await world.ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx));
    for (const ntx of openNow)
      if ((ntx.opened_at ?? 0) < world.service.spawnedAt) this.interruptedSeen.add(ntx.id);
    const inFlight = async () => (await this.interruptedIds()).filter((id) => !this.interruptedSeen.has(id));
    await waitUntil(
      seed,
      "the running service's broadcasts in flight to close",
      async () => {
        const open = await inFlight();
        return open.length === 0 ? true : `open: ${open.join(", ")}`;
      },
      IN_FLIGHT_MS,
      world.deadline,
      250,
    ).catch(() => undefined);
    for (const id of await inFlight()) {
      // Open for longer than any sendmany takes: the service's own call failed ambiguously.
      summary.withoutKill.push(id);
      this.interruptedSeen.add(id);
    }
    // Those the daemon did pay (their comment is in its wallet) are the service's to close:
    // give its broadcaster periods time, however loaded the machine is.
    await waitUntil(
      seed,
      "the service to close the interrupted broadcasts the daemon paid",
      async () => {
        const interrupted = await world.ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx));
        if (interrupted.length === 0) return true;
        const comments = new Set((await listWallet(world.ours)).map((e) => e.comment));
        const paid = interrupted.filter((ntx) => comments.has(commentOf(ntx))).map((ntx) => ntx.id);
        return paid.length === 0 ? true : `interrupted although paid: ${paid.join(", ")}`;
      },
      RECOVERY_MS,
      world.deadline,
      500,
    ).catch(() => undefined); // what is left is reported below
    const still = await world.ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx));
    if (still.length === 0) return false;
    const oursEntries = await listWallet(world.ours);
    const payerEntries = (await listWallet(world.payer)).filter((e) => e.category === "receive");
    const paidByDaemon: Array<{ id: number; txid: string }> = [];
    for (const ntx of still) {
      if (!this.interruptedSeen.has(ntx.id)) {
        // Opened since the checks above: in flight, not interrupted; the service will close it.
        continue;
      }
      const comment = commentOf(ntx);
      const commented = oursEntries.find((e) => e.category === "send" && e.comment === comment);
      const sends = await world.database.db
        .selectFrom("ca_transaction as t")
        .innerJoin("ca_address as a", "a.id", "t.address_id")
        .select(["t.id", "a.address", "t.amount"])
        .where("t.network_transaction_id", "=", ntx.id)
        .where("t.type", "=", "broadcast")
        .execute();
      const destinations = new Set(sends.map((s) => s.address));
      const paid = payerEntries.find((e) => e.address !== undefined && destinations.has(e.address));
      if (commented) {
        failures.push(
          `seed ${seed}: broadcast ${ntx.id} is still interrupted ${RECOVERY_MS / 1000} s into the settle although the daemon's wallet holds its comment ${comment} (txid ${commented.txid}): automatic recovery missed it`,
        );
      }
      const paidTxid = commented?.txid ?? paid?.txid;
      if (paidTxid !== undefined) {
        if (!commented && this.commentsInUse(oursEntries)) {
          failures.push(
            `seed ${seed}: broadcast ${ntx.id} was paid by the daemon (txid ${paidTxid}) but its sendmany carries no comment ${comment}`,
          );
        }
        paidByDaemon.push({ id: ntx.id, txid: paidTxid });
      } else {
        await world.ledger.run((trx, ctx) => releaseBroadcast(trx, ctx, ntx.id));
        summary.released.push(ntx.id);
      }
    }
    if (paidByDaemon.length > 0) {
      // Paid but still open: close them by hand like an operator, with the service stopped —
      // a broadcaster recovering the same one at that moment would close it a second time.
      await world.service.stop(10_000, false);
      for (const { id, txid } of paidByDaemon) {
        const tx = (await world.ours.call("gettransaction", [txid])) as { fee: unknown };
        const fee = -toSats(tx.fee);
        const closed = await world.ledger.run(async (trx, ctx) => {
          const row = await trx
            .selectFrom("ca_network_transaction")
            .select("closed_at")
            .where("id", "=", id)
            .executeTakeFirstOrThrow();
          if (row.closed_at !== null) return false; // the service got there first
          await closeBroadcast(trx, ctx, id, txid, fee);
          return true;
        });
        (closed ? summary.closedByHand : summary.recovered).push(id);
      }
      world.service.start();
      await this.waitForServiceRunning();
    }
    return true;
  }

  commentsInUse(oursEntries: WalletEntry[]): boolean {
    return oursEntries.some((e) => e.category === "send" && e.comment?.startsWith(COMMENT_PREFIX));
  }

  /** What is still missing before the ledger, the outbox and the chain are at rest; true when nothing. */
  async caughtUp(): Promise<true | string> {
    const { world } = this;
    const db = world.database.db;
    const missing: string[] = [];
    const tip = await tipHeight(world);
    const state = await db.selectFrom("ca_chain_state").select("last_block_height").executeTakeFirst();
    if (state?.last_block_height !== tip)
      missing.push(`chain state at ${state?.last_block_height ?? "none"}, tip ${tip}`);
    const pending = await db
      .selectFrom("ca_transaction")
      .select("id")
      .where("type", "=", "broadcast")
      .where("state", "=", "pending")
      .execute();
    if (pending.length > 0) missing.push(`${pending.length} send(s) not broadcasted`);
    const open = await db
      .selectFrom("ca_network_transaction")
      .select(["id", "confirmations"])
      .where("tracked", "=", 1)
      .execute();
    if (open.length > 0)
      missing.push(
        `${open.length} network transaction(s) still tracked (${open.map((n) => `${n.id}@${n.confirmations}`).join(", ")})`,
      );
    const deposits = await db
      .selectFrom("ca_transaction")
      .select("id")
      .where("type", "=", "deposit")
      .execute();
    if (deposits.length < this.deposits.length)
      missing.push(`${deposits.length} of ${this.deposits.length} deposits in the ledger`);
    const undelivered = await db
      .selectFrom("ca_delivery")
      .select(["state", "claimed_until"])
      .where("state", "<>", "delivered")
      .execute();
    if (undelivered.length > 0) {
      const leased = undelivered.filter((d) => d.claimed_until !== null && d.claimed_until > Date.now());
      missing.push(
        `${undelivered.length} deliveries not delivered (${leased.length} leased by a killed process)`,
      );
    }
    return missing.length === 0 ? true : missing.join("; ");
  }

  async settle(summary: InterruptedSummary, failures: string[]): Promise<void> {
    const { seed } = this;
    const leased = await this.world.database.db
      .selectFrom("ca_delivery")
      .select("id")
      .where("state", "=", "pending")
      .where("claimed_until", ">", Date.now())
      .execute();
    this.leasedAtSettle = leased.length;
    // A block so that every send can be funded with confirmed coins, then every pending
    // send must be taken by a broadcast (sent, or interrupted).
    await this.mine(1);
    await this.waitForServiceRunning();
    await waitUntil(
      seed,
      "every pending send to be broadcast",
      async () => {
        const n = await this.unbroadcastSends();
        return n === 0 ? true : `${n} send(s) pending`;
      },
      45_000,
      this.world.deadline,
    );
    if (await this.resolveInterrupted(summary, failures)) {
      await waitUntil(
        seed,
        "released broadcasts to be sent again",
        async () => {
          const n = await this.unbroadcastSends();
          const interrupted = await this.interruptedIds();
          return n === 0 && interrupted.length === 0
            ? true
            : `${n} send(s) pending, interrupted: ${interrupted.join(",") || "none"}`;
        },
        30_000,
        this.world.deadline,
      );
    }
    // Past max_confirmation_count: every network transaction final, every event written.
    await this.mine(MAX_CONFIRMATIONS + 1);
    // Deliveries leased by a killed dispatcher come back when the lease (handler timeout
    // + 30 s) expires: allow for that.
    await waitUntil(
      seed,
      "the service to catch up",
      () => this.caughtUp(),
      75_000,
      this.world.deadline,
      1000,
    );
  }

  async ledgerFacts(): Promise<LedgerFacts> {
    const db = this.world.database.db;
    const walletId = this.world.ledger.walletId;
    const [accounts, addresses, transactions, networkTransactions, events, deliveries, walletBalance] =
      await Promise.all([
        db
          .selectFrom("ca_account")
          .select(["id", "name", "kind", "balance"])
          .where("wallet_id", "=", walletId)
          .orderBy("id")
          .execute(),
        db
          .selectFrom("ca_address")
          .select(["id", "account_id", "address", "balance"])
          .where("wallet_id", "=", walletId)
          .orderBy("id")
          .execute(),
        db
          .selectFrom("ca_transaction")
          .select([
            "id",
            "type",
            "state",
            "amount",
            "sending_account_id",
            "receiving_account_id",
            "address_id",
            "network_transaction_id",
          ])
          .where("wallet_id", "=", walletId)
          .orderBy("id")
          .execute(),
        db
          .selectFrom("ca_network_transaction")
          .select([
            "id",
            "txid",
            "transaction_type",
            "confirmations",
            "tracked",
            "fee",
            "opened_at",
            "closed_at",
          ])
          .where("wallet_id", "=", walletId)
          .orderBy("id")
          .execute(),
        db
          .selectFrom("ca_event")
          .select(["id", "event_id", "ordering_key", "payload"])
          .orderBy("id")
          .execute(),
        db.selectFrom("ca_delivery").select(["event_row_id", "state", "attempts"]).orderBy("id").execute(),
        this.world.ledger.walletBalance(),
      ]);
    return { accounts, addresses, transactions, networkTransactions, events, deliveries, walletBalance };
  }

  async chainFacts(): Promise<ChainFacts> {
    const { world } = this;
    const ours = await listWallet(world.ours);
    const payerReceives = (await listWallet(world.payer)).filter((e) => e.category === "receive");
    const feeByTxid: Record<string, bigint> = {};
    for (const txid of new Set(ours.filter((e) => e.category === "send").map((e) => e.txid))) {
      const tx = (await world.ours.call("gettransaction", [txid])) as { fee: unknown };
      feeByTxid[txid] = -toSats(tx.fee);
    }
    const oursBalance = toSats(await world.ours.call("getbalance", ["*", 0]));
    return { tipHeight: await tipHeight(world), payerReceives, ours, oursBalance, feeByTxid };
  }
}

/** A seed's result before anything happened (filled in as the seed runs). */
export function emptySeedResult(seed: number, engine: CampaignEngine): SeedResult {
  return {
    seed,
    engine,
    plan: makePlan(seed),
    wallMs: 0,
    kills: [],
    starts: 0,
    startupMs: [],
    timelines: [],
    logs: [],
    unexpectedExits: [],
    finalExit: undefined,
    deposits: [],
    sends: [],
    sendsSkipped: 0,
    interrupted: {
      seen: [],
      recovered: [],
      released: [],
      closedByHand: [],
      releasedByService: [],
      withoutKill: [],
    },
    interruptedFailures: [],
    commentsInUse: false,
    leasedAtSettle: 0,
    caughtUpAfterLastKillMs: undefined,
    deliveries: [],
  };
}

/** Runs one seed start to end; never throws (a failure to finish is `error`). */
export async function runSeed(seed: number, engine: CampaignEngine, deadline: Deadline): Promise<SeedResult> {
  const started = Date.now();
  const result = emptySeedResult(seed, engine);

  let world: World | undefined;
  let run: Run | undefined;
  try {
    world = await createWorld(seed, engine, deadline);
    run = new Run(world);
    await run.setUp();
    await run.prelude();
    world.service.start();
    // The workload (once the service runs) and the killer (from the spawn on) run side by
    // side; both always finish, so no restart happens behind the settle's back.
    const service = world.service;
    const drive = async () => {
      await service.nextLine("helper service running", deadline.bound(STARTUP_TIMEOUT_MS), true);
      await run?.drive();
    };
    const outcomes = await Promise.allSettled([drive(), run.killAll()]);
    for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;

    await run.settle(result.interrupted, result.interruptedFailures);
    result.caughtUpAfterLastKillMs = Date.now() - run.lastKillAt;
    result.leasedAtSettle = run.leasedAtSettle;
    // Each broadcast a kill left interrupted ended one way: closed by the service (recovered
    // by its comment), released and re-sent by us, closed by hand, or released by the service.
    const ntxs = await world.database.db
      .selectFrom("ca_network_transaction")
      .select(["id", "closed_at"])
      .execute();
    const closed = new Set(ntxs.filter((n) => n.closed_at !== null).map((n) => n.id));
    const existing = new Set(ntxs.map((n) => n.id));
    const { interrupted } = result;
    for (const id of run.interruptedSeen) {
      interrupted.seen.push(id);
      if ([interrupted.released, interrupted.closedByHand, interrupted.recovered].some((l) => l.includes(id)))
        continue;
      if (closed.has(id)) interrupted.recovered.push(id);
      else if (!existing.has(id)) interrupted.releasedByService.push(id);
    }
    result.finalExit = await world.service.stop();
    result.ledger = await run.ledgerFacts();
    result.chain = await run.chainFacts();
    result.commentsInUse = run.commentsInUse(result.chain.ours);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    if (world && world.service.starts > 0)
      result.error += `\n--- service output (tail) ---\n${world.service.process.output().slice(-3000)}`;
  } finally {
    if (run) {
      result.kills = run.kills;
      result.deposits = run.deposits;
      result.sends = run.sends;
      result.sendsSkipped = run.sendsSkipped;
    }
    if (world) {
      result.starts = world.service.starts;
      result.startupMs = world.service.startupMs;
      result.timelines = world.service.timelines;
      result.logs = world.service.outputs.map((output) => output());
      result.unexpectedExits = world.service.unexpectedExits;
      result.deliveries = [...world.receiver.deliveries];
      await world.close();
    }
    result.wallMs = Date.now() - started;
  }
  return result;
}
