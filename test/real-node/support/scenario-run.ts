/**
 * What a scenario script does to its world, step by step, and what it can see of the
 * outcome: the ledger's rows (the application's own database handle), the txupdates the
 * loopback receiver accepted, and the daemon. Every step that moves the chain waits until
 * the helper service has processed the new tip and every event is delivered, so a scenario
 * produces the same events on any chain that behaves the same.
 *
 * The run also names what it creates (accounts, addresses, transactions), so that two runs
 * of one script, on the simulator and on real Bitcoin Core, can be compared by name
 * (./observation.ts): txids, row ids and account ids legitimately differ between them.
 */
import { LosslessNumber } from "lossless-json";
import type { TxUpdateData } from "../../../src/events/types.js";
import { waitFor } from "../../support/wait.js";
import type { ScenarioEnv } from "./environment.js";

export interface Names {
  accounts: Map<number, string>;
  addresses: Map<string, string>;
  txids: Map<string, string>;
}

/** Waits are generous: real-node files share two cores with the whole suite. */
const SETTLE_TIMEOUT_MS = 45_000;

export class ScenarioRun {
  readonly names: Names = { accounts: new Map(), addresses: new Map(), txids: new Map() };

  constructor(
    readonly env: ScenarioEnv,
    readonly scenario: string,
  ) {}

  get chain() {
    return this.env.chain;
  }

  get ledger() {
    return this.env.app.ledger;
  }

  get db() {
    return this.env.app.database.db;
  }

  /** A new account named `<scenario>/<name>` (account names are unique per ledger). */
  async account(name: string): Promise<number> {
    const account = await this.ledger.createAccount(`${this.scenario}/${name}`);
    this.names.accounts.set(account.id, name);
    return account.id;
  }

  /** A receiving address of one of our accounts, named `role`. */
  async address(accountId: number, role: string): Promise<string> {
    const { address } = await this.ledger.createReceivingAddress(accountId);
    this.names.addresses.set(address, role);
    return address;
  }

  /** An address of the payer's wallet (somebody else), named `role`. */
  async external(role: string): Promise<string> {
    const address = String(await this.chain.payer.call("getnewaddress"));
    this.names.addresses.set(address, role);
    return address;
  }

  name(txid: string, name: string): string {
    this.names.txids.set(txid, name);
    return txid;
  }

  /** The payer pays `amount` to `address`; the transaction is named `txName`. */
  async pay(address: string, amount: string, txName: string): Promise<string> {
    return this.name(await this.chain.pay(address, amount), txName);
  }

  /** The payer pays several addresses in one transaction (sendmany). */
  async payMany(amounts: Record<string, string>, txName: string): Promise<string> {
    const params = Object.fromEntries(
      Object.entries(amounts).map(([address, amount]) => [address, new LosslessNumber(amount)]),
    );
    return this.name(String(await this.chain.payer.call("sendmany", ["", params])), txName);
  }

  /** Mines `blocks` blocks one at a time, waiting after each until the service has settled. */
  async mine(blocks = 1): Promise<void> {
    for (let i = 0; i < blocks; i++) {
      await this.chain.mine(1);
      await this.settle();
    }
  }

  /** Waits until the service has processed the chain's tip and every event is delivered. */
  async settle(): Promise<void> {
    const { app, receiver } = this.env;
    await waitFor(
      `the ${this.env.kind} service at the chain's tip with every event delivered`,
      async () => {
        const best = await this.chain.bestBlockHash();
        const state = await this.db.selectFrom("ca_chain_state").select("last_block_hash").executeTakeFirst();
        if (state?.last_block_hash !== best) return undefined;
        const outbox = await app.outbox();
        const accepted = receiver.acceptedIds();
        return outbox.every((row) => row.state === "delivered" && accepted.has(row.eventId))
          ? true
          : undefined;
      },
      SETTLE_TIMEOUT_MS,
      100,
    );
  }

  /** Every txupdate the receiver accepted (first arrival of each event), in arrival order. */
  delivered(): TxUpdateData[] {
    const seen = new Set<string>();
    const events: TxUpdateData[] = [];
    for (const arrival of this.env.receiver.arrivals) {
      // The scenarios follow txupdates; other kinds (txreplaced) are read with replacements().
      if (
        arrival.outcome !== "ok" ||
        seen.has(arrival.event.event_id) ||
        arrival.event.event_name !== "txupdate"
      )
        continue;
      seen.add(arrival.event.event_id);
      events.push(arrival.data);
    }
    return events;
  }

  /** The txids of the txreplaced events delivered (once each). */
  replacements(): string[] {
    const seen = new Set<string>();
    for (const arrival of this.env.receiver.arrivals) {
      const event = arrival.event as { event_name: string; event_id: string; data: { txid?: string } };
      if (arrival.outcome === "ok" && event.event_name === "txreplaced")
        seen.add(`${event.event_id} ${event.data.txid}`);
    }
    return [...seen].map((entry) => entry.split(" ")[1] ?? "");
  }

  async waitForReplacement(txid: string): Promise<void> {
    await waitFor(
      `txreplaced of ${txid}`,
      () => (this.replacements().includes(txid) ? true : undefined),
      SETTLE_TIMEOUT_MS,
    );
  }

  /** The txupdates delivered for `address`. */
  events(address: string): TxUpdateData[] {
    return this.delivered().filter((event) => event.address === address);
  }

  async waitForEvent(what: string, address: string, match: (event: TxUpdateData) => boolean): Promise<void> {
    await waitFor(what, () => (this.events(address).some(match) ? true : undefined), SETTLE_TIMEOUT_MS);
  }

  /** The ledger rows of this scenario's accounts, with their network transaction. */
  async rows() {
    const accounts = [...this.names.accounts.keys()];
    return this.db
      .selectFrom("ca_transaction as t")
      .leftJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
      .leftJoin("ca_address as a", "a.id", "t.address_id")
      .select([
        "t.id",
        "t.type",
        "t.state",
        "t.amount",
        "t.sending_account_id",
        "t.receiving_account_id",
        "t.credited_at",
        "a.address",
        "n.id as network_transaction_id",
        "n.txid",
        "n.confirmations",
        "n.tracked",
        "n.fee",
        "n.closed_at",
      ])
      .where((eb) =>
        eb.or([eb("t.receiving_account_id", "in", accounts), eb("t.sending_account_id", "in", accounts)]),
      )
      .orderBy("t.id")
      .execute();
  }

  /** Mines until none of this scenario's network transactions is tracked any more. */
  async finish(maxBlocks = 20): Promise<void> {
    for (let mined = 0; ; mined++) {
      const open = (await this.rows()).filter((row) => Number(row.tracked) === 1);
      if (open.length === 0) return;
      if (mined === maxBlocks) {
        throw new Error(`${this.scenario}: still tracked after ${maxBlocks} blocks: ${JSON.stringify(open)}`);
      }
      await this.mine(1);
    }
  }
}
