import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { runSerializable } from "../../src/db/index.js";
import { deliveryCounts, Outbox, undeliveredCounts } from "../../src/events/outbox/index.js";
import { DeliveredCounts } from "../../src/service/delivered-counts.js";
import { type OpenTestDatabase, openTestDatabase } from "../support/databases.js";
import { sampleTxUpdate } from "../support/sample-events.js";

describe("the status page's delivery counts", () => {
  let t: OpenTestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase("sqlite", 13);
    const outbox = new Outbox(t.database, ["app"]);
    const updates = Array.from({ length: 6 }, (_, i) => sampleTxUpdate(700_000 + i));
    await runSerializable(t.database, (trx) => outbox.writeTxUpdates(trx, updates));
  });
  afterAll(async () => t?.cleanup());
  afterEach(() => vi.useRealTimers());

  const deliver = async (count: number) => {
    const rows = await t.database.db
      .selectFrom("ca_delivery")
      .select("id")
      .where("state", "=", "pending")
      .orderBy("id")
      .limit(count)
      .execute();
    await t.database.db
      .updateTable("ca_delivery")
      .set({ state: "delivered", delivered_at: Date.now() })
      .where(
        "id",
        "in",
        rows.map((row) => row.id),
      )
      .execute();
  };

  it("reads undelivered rows apart from delivered ones, and together they are the exact counts", async () => {
    await deliver(2);
    expect(await undeliveredCounts(t.database)).toEqual([
      { handler: "app", pending: 4, failed: 0, dead: 0, delivered: 0 },
    ]);
    expect(await deliveryCounts(t.database)).toEqual([
      { handler: "app", pending: 4, failed: 0, dead: 0, delivered: 2 },
    ]);
  });

  it("reuses a delivered count for 20 times as long as it took, then counts again", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const counts = new DeliveredCounts(t.database);
    const first = await counts.get();
    expect(first.counts.get("app")).toBe(2);
    await deliver(1);
    // Same instant: the previous count stands, and says when it was taken.
    const again = await counts.get();
    expect(again).toBe(first);
    vi.setSystemTime(first.countedAt + Math.ceil(first.tookMs * 20) + 1);
    const later = await counts.get();
    expect(later.counts.get("app")).toBe(3);
    expect(later.countedAt).toBeGreaterThan(first.countedAt);
  });

  it("runs one count at a time: callers meanwhile share it, or get the previous one", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const counts = new DeliveredCounts(t.database);
    const [a, b] = await Promise.all([counts.get(), counts.get()]);
    expect(a).toBe(b);
    vi.setSystemTime(a.countedAt + 60_000);
    const recount = counts.get();
    const meanwhile = await counts.get();
    expect(meanwhile).toBe(a);
    expect(await recount).not.toBe(a);
  });
});
