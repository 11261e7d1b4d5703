/**
 * Subscriptions (`events.<name>.subscribe`): decided when events are written — an event
 * outside a handler's subscription gets no delivery row for it — and configurations without
 * one receive everything, as before.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { runSerializable } from "../../src/db/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { ConfigError } from "../../src/errors.js";
import { FunctionEventHandler } from "../../src/events/handlers/index.js";
import { Outbox } from "../../src/events/outbox/index.js";
import { configuredRecipients, isSubscribed } from "../../src/events/subscription.js";
import type { TxUpdateData } from "../../src/events/types.js";
import { startHelperService } from "../../src/service/index.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";

function txupdate(coin: string, type: "deposit" | "broadcast", transaction: number): TxUpdateData {
  return {
    coin_name: coin,
    transaction,
    network_transaction: transaction,
    transaction_type: type,
    txid: transaction.toString(16).padStart(64, "0"),
    account: 1,
    address: "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm",
    amount: "0.50000000",
    credited: false,
    confirmations: 0,
  };
}

const coins = {
  btc: { backend: { class: "null" } },
  ltc: { backend: { class: "null" } },
};

function configWith(events: Record<string, unknown>) {
  return parseConfig({ database: { url: "sqlite:///tmp/unused.db" }, coins, events });
}

describe("subscription configuration", () => {
  it("parses a subscription (coins case-insensitive) and leaves entries without one receiving everything", () => {
    const config = configWith({
      shop: {
        class: "http",
        url: "http://127.0.0.1:9/shop",
        subscribe: { events: ["txupdate"], coins: ["BTC"], transaction_types: ["deposit"] },
      },
      accounting: { class: "script", script: "true" },
    });
    expect(config.events.shop?.subscribe).toEqual({
      events: ["txupdate"],
      coins: ["btc"],
      transaction_types: ["deposit"],
    });
    expect(config.events.accounting?.subscribe).toBeUndefined();
    expect(configuredRecipients(config.events)).toEqual([
      {
        name: "shop",
        subscription: { events: ["txupdate"], coins: ["btc"], transaction_types: ["deposit"] },
      },
      { name: "accounting", subscription: undefined },
    ]);
  });

  it.each([
    [{ events: ["txupdated"] }, /events\.shop\.subscribe\.events\.0: .*txupdate/],
    [
      { coins: ["doge"] },
      /events\.shop\.subscribe\.coins\.0: "doge" is not a configured coin; expected one of: btc, ltc/,
    ],
    [
      { transaction_types: ["withdrawal"] },
      /events\.shop\.subscribe\.transaction_types\.0: .*deposit.*broadcast/,
    ],
    [{ events: [] }, /events\.shop\.subscribe\.events: expected at least one event name/],
    [{}, /events\.shop\.subscribe: an empty subscription/],
    [{ coin: ["btc"] }, /events\.shop\.subscribe: unknown key\(s\) coin/],
  ])("refuses %j with an error naming the key", (subscribe, message) => {
    const parse = () => configWith({ shop: { class: "http", url: "http://127.0.0.1:9/", subscribe } });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(message);
  });

  it("matches every listed dimension; a missing field is '-'", () => {
    const event = (data: unknown) => ({ event_name: "txupdate", data });
    const deposits = { transaction_types: ["deposit"] };
    expect(isSubscribed(undefined, event(txupdate("btc", "broadcast", 1)))).toBe(true);
    expect(isSubscribed(deposits, event(txupdate("btc", "deposit", 1)))).toBe(true);
    expect(isSubscribed(deposits, event(txupdate("btc", "broadcast", 1)))).toBe(false);
    // An event kind without a transaction type (e.g. a daemon status change).
    const statusChange = event({ coin_name: "btc", state: "down" });
    expect(isSubscribed(deposits, statusChange)).toBe(false);
    expect(isSubscribed({ transaction_types: ["deposit", "-"] }, statusChange)).toBe(true);
    expect(isSubscribed({ coins: ["-"] }, event({ state: "down" }))).toBe(true);
    expect(isSubscribed({ coins: ["ltc"] }, statusChange)).toBe(false);
  });
});

describe.each(["sqlite", "postgres"] as const)("subscriptions at outbox write time on %s", (engine) => {
  let t: OpenTestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(engine, 2);
  });
  afterAll(async () => t?.cleanup());

  it("creates a delivery row only for the handlers an event is subscribed by", async () => {
    const config = configWith({
      shop: { class: "http", url: "http://127.0.0.1:9/", subscribe: { transaction_types: ["deposit"] } },
      ltc_only: { class: "script", script: "true", subscribe: { coins: ["ltc"] } },
      everything: { class: "script", script: "true" },
    });
    const audit = new FunctionEventHandler("audit", () => undefined, {
      subscription: { coins: ["btc"], transaction_types: ["broadcast"] },
    });
    const outbox = new Outbox(t.database, [...configuredRecipients(config.events), audit]);
    const updates = [
      txupdate("btc", "deposit", 1),
      txupdate("btc", "broadcast", 2),
      txupdate("ltc", "deposit", 3),
      txupdate("ltc", "broadcast", 4),
    ];
    const written = await runSerializable(t.database, (trx) => outbox.writeTxUpdates(trx, updates));
    const rows = await t.database.db
      .selectFrom("ca_delivery")
      .select(["handler", "event_row_id"])
      .orderBy("id")
      .execute();
    const transactionOf = new Map(written.map((w, i) => [w.event_row_id, updates[i]?.transaction]));
    const received = (handler: string) =>
      rows.filter((r) => r.handler === handler).map((r) => transactionOf.get(r.event_row_id));
    expect(received("shop")).toEqual([1, 3]);
    expect(received("ltc_only")).toEqual([3, 4]);
    expect(received("everything")).toEqual([1, 2, 3, 4]);
    expect(received("audit")).toEqual([2]);
    expect(rows).toHaveLength(9);
  });
});

describe("the helper service", () => {
  const dir = mkdtempSync(join(tmpdir(), "ca-subscriptions-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes events for configured handlers and handlers subscribed in code, each with its subscription", async () => {
    const audit = new FunctionEventHandler("audit", () => undefined, { subscription: { coins: ["ltc"] } });
    const config = parseConfig({
      database: { url: sqliteUrl(join(dir, "service.db")) },
      coins,
      events: {
        shop: { class: "http", url: "http://127.0.0.1:9/", subscribe: { events: ["txupdate"] } },
        original: { class: "script", script: "true" },
      },
      "status-server": { port: 0 },
    });
    const service = await startHelperService(config, { handlers: [audit] });
    try {
      expect(service.outbox.recipients).toEqual([
        { name: "shop", subscription: { events: ["txupdate"] } },
        { name: "original", subscription: undefined },
        { name: "audit", subscription: { coins: ["ltc"] } },
      ]);
    } finally {
      await service.stop();
    }
  });
});
