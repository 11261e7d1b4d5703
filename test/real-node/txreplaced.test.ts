/**
 * txreplaced on real Bitcoin Core (one regtest node for the file) and on the simulator, with
 * the helper service following the chain through walletnotify/blocknotify:
 * - a deposit whose sender bumps its fee (RBF, still paying us): replaced, the replacement named;
 * - a deposit whose sender double-spends it back to himself (bumpfee with other outputs):
 *   conflicted once the conflict is mined, no replacement our wallet could know;
 * - one of our broadcasts fee-bumped by the wallet: replaced, replaced_by_txid from the daemon.
 * Each txreplaced follows its transaction's txupdate with confirmations -1, in the same
 * ordering key, and `events show` shows it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqliteUrl } from "../../src/db/url.js";
import { readFeed } from "../../src/events/feed.js";
import { showEvent } from "../../src/events/outbox/queries.js";
import type { CryptoassetsEvent, TxReplacedData, TxUpdateData } from "../../src/events/types.js";
import { type HelperService, startHelperService } from "../../src/service/helper-service.js";
import { BITCOIND_SKIP_REASON } from "../support/bitcoind.js";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";
import { type ChainKind, type ScenarioChain, startScenarioChain } from "./support/chain.js";

const KINDS: ChainKind[] = ["simulator", "bitcoind"];

for (const kind of KINDS) {
  const skip = kind === "bitcoind" ? BITCOIND_SKIP_REASON : undefined;
  describe.skipIf(skip !== undefined)(`txreplaced on ${kind}${skip ? ` (skipped: ${skip})` : ""}`, () => {
    let chain: ScenarioChain;
    let service: HelperService;
    const dir = mkdtempSync(join(tmpdir(), `ca-txreplaced-${kind}-`));

    /** Every event so far, in feed (commit) order. */
    const allEvents = async (): Promise<CryptoassetsEvent[]> => {
      const events: CryptoassetsEvent[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await readFeed(service.database, { after, limit: 1000 });
        events.push(...page.events);
        after = page.cursor ?? undefined;
        if (!page.more) return events;
      }
    };
    const replacedOf = async (txid: string) =>
      waitFor(
        `txreplaced of ${txid}`,
        async () =>
          (await allEvents()).find(
            (e) => e.event_name === "txreplaced" && (e.data as TxReplacedData).txid === txid,
          ) as CryptoassetsEvent<"txreplaced"> | undefined,
        60_000,
        250,
      );
    const txupdateOf = (txid: string, confirmations: number) =>
      waitFor(
        `txupdate ${txid} at ${confirmations}`,
        async () =>
          (await allEvents()).find(
            (e) =>
              e.event_name === "txupdate" &&
              (e.data as TxUpdateData).txid === txid &&
              (e.data as TxUpdateData).confirmations === confirmations,
          ),
        60_000,
        250,
      );
    /** The txupdate with -1 comes first, then the txreplaced, under one ordering key. */
    const expectOrdered = async (replaced: CryptoassetsEvent<"txreplaced">) => {
      const events = await allEvents();
      const at = events.findIndex((e) => e.event_id === replaced.event_id);
      const conflicted = events.findIndex(
        (e) =>
          e.event_name === "txupdate" &&
          (e.data as TxUpdateData).transaction === replaced.data.transaction &&
          (e.data as TxUpdateData).confirmations === -1,
      );
      expect(conflicted).toBeGreaterThanOrEqual(0);
      expect(conflicted).toBeLessThan(at);
      const shown = await showEvent(service.database, replaced.event_id);
      expect(shown).toMatchObject({
        event_name: "txreplaced",
        ordering_key: `btc:transaction:${replaced.data.transaction}`,
      });
    };

    beforeAll(async () => {
      const ports = { walletnotify: await freePort(), blocknotify: await freePort() };
      chain = await startScenarioChain(kind, ports);
      service = await startHelperService({
        database: { url: sqliteUrl(join(dir, "ledger.db")) },
        coins: {
          btc: {
            backend: {
              class: "bitcoind",
              url: chain.url,
              wallet: "ours",
              timeout: 10,
              walletnotify: { class: "http", ip: "127.0.0.1", port: ports.walletnotify },
              blocknotify: { class: "http", ip: "127.0.0.1", port: ports.blocknotify },
            },
            network: "regtest",
            credit_threshold: 1,
          },
        },
        "status-server": { enabled: false },
        // A conflicted deposit drops out of listsinceblock: the re-check finds it.
        service: { poll_period: 0.5, recheck_period: 1, broadcast_period: 0.5, shutdown_grace_period: 5 },
      });
    }, 120_000);

    afterAll(async () => {
      await service?.stop();
      await chain?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("a deposit fee-bumped by its sender: txreplaced names the replacement, which is credited instead", async () => {
      const ledger = service.ledger("btc");
      const account = await ledger.createAccount(`rbf-${kind}`);
      const { address } = await ledger.createReceivingAddress(account.id);
      const original = await chain.pay(address, "0.40000000");
      await txupdateOf(original, 0);
      const bumped = (await chain.payer.call("bumpfee", [original])) as { txid: string };
      await chain.mine(1);
      const replaced = await replacedOf(original);
      expect(replaced.data).toMatchObject({
        coin_name: "btc",
        transaction_type: "deposit",
        txid: original,
        address,
        amount: "0.40000000",
        account: account.id,
        replaced_by_txid: bumped.txid,
      });
      expect(replaced.data.conflicts).toContain(bumped.txid);
      await expectOrdered(replaced);
      await txupdateOf(bumped.txid, 1);
    }, 120_000);

    it("a deposit double-spent back to its sender: conflicted once mined, no replacement our wallet knows", async () => {
      const ledger = service.ledger("btc");
      const account = await ledger.createAccount(`double-spend-${kind}`);
      const { address } = await ledger.createReceivingAddress(account.id);
      const original = await chain.pay(address, "0.30000000");
      await txupdateOf(original, 0);
      const back = String(await chain.payer.call("getnewaddress"));
      const conflict = (await chain.payer.call("bumpfee", [original, { outputs: [{ [back]: 0.2999 }] }])) as {
        txid: string;
      };
      await chain.mine(1);
      const replaced = await replacedOf(original);
      expect(replaced.data).toMatchObject({
        transaction_type: "deposit",
        txid: original,
        amount: "0.30000000",
        replaced_by_txid: null,
        conflicts: [],
      });
      expect(conflict.txid).not.toBe(original);
      await expectOrdered(replaced);
    }, 120_000);

    it("one of our broadcasts fee-bumped in the daemon's wallet: txreplaced with the daemon's replaced_by_txid", async () => {
      const ledger = service.ledger("btc");
      const account = await ledger.createAccount(`sender-${kind}`);
      const { address } = await ledger.createReceivingAddress(account.id);
      const funding = await chain.pay(address, "1.00000000");
      await chain.mine(1);
      await txupdateOf(funding, 1);
      const destination = String(await chain.payer.call("getnewaddress"));
      const sendId = await ledger.send(account.id, destination, "0.25000000");
      const broadcastTxid = await waitFor(
        "the broadcast",
        async () => {
          const found = (await allEvents()).find(
            (e) =>
              e.event_name === "txupdate" &&
              (e.data as TxUpdateData).transaction_type === "broadcast" &&
              (e.data as TxUpdateData).transaction === sendId,
          );
          return (found?.data as TxUpdateData | undefined)?.txid;
        },
        60_000,
        250,
      );
      const bumped = (await chain.ours.call("bumpfee", [broadcastTxid])) as { txid: string };
      await chain.mine(1);
      const replaced = await replacedOf(broadcastTxid);
      expect(replaced.data).toMatchObject({
        transaction_type: "broadcast",
        txid: broadcastTxid,
        transaction: sendId,
        amount: "0.25000000",
        replaced_by_txid: bumped.txid,
      });
      await expectOrdered(replaced);
    }, 120_000);
  });
}
