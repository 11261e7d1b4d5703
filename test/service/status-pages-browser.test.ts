/**
 * The status server's table pages (the original's /accounts, /addresses, /transactions,
 * /network_transactions, /wallets) and the front page's hot wallet and reconciliation, in a
 * real headless Chromium (playwright-core, /usr/bin/chromium) against the helper service on
 * the simulator: reached from the dashboard's links, paged by key, searched by txid,
 * address and account, hostile names shown as text, JSON beside each page. Saves
 * test-artifacts/status-pages.png.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { sqliteUrl } from "../../src/db/url.js";
import { type HelperService, startHelperService } from "../../src/service/helper-service.js";
import { CHROMIUM, launchChromium } from "../support/chromium.js";
import { waitFor } from "../support/wait.js";
import { type Regtest, startRegtestInProcess } from "./regtest.js";

const ARTIFACTS = resolve(import.meta.dirname, "../../test-artifacts");
/** Names and labels are data someone else controls: they must show as text, never run. */
const HOSTILE = `<img src=x onerror="document.title='pwned'">`;

describe.skipIf(!existsSync(CHROMIUM))("status pages in headless Chromium (needs /usr/bin/chromium)", () => {
  let dir: string;
  let regtest: Regtest;
  let service: HelperService;
  let base: string;
  let context: BrowserContext;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let txid: string;
  let address: string;
  const dialogs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ca-status-pages-"));
    regtest = await startRegtestInProcess();
    service = await startHelperService({
      database: { url: sqliteUrl(join(dir, "pages.db")) },
      coins: {
        btc: {
          backend: { class: "bitcoind", url: regtest.url, wallet: "ours", timeout: 5 },
          network: "regtest",
        },
      },
      "status-server": { ip: "127.0.0.1", port: 0 },
      service: { poll_period: 0.2, shutdown_grace_period: 5 },
    });
    base = (service.statusUrl ?? "").replace(/\/$/, "");
    // 5 BTC the ledger never gave an address for: the front page must show them unaccounted.
    const ours = new BitcoindRpcClient({ url: regtest.url, wallet: "ours" });
    await regtest.pay(String(await ours.call("getnewaddress")), "5");
    await ours.close();
    const ledger = service.ledger("btc");
    const alice = await ledger.createAccount(HOSTILE);
    for (const name of ["bob", "carol", "dave", "erin"]) await ledger.createAccount(name);
    address = (await ledger.createReceivingAddress(alice.id, { label: HOSTILE })).address;
    txid = await regtest.pay(address, "1.25");
    await regtest.mine(1);
    await waitFor("the deposit in the ledger", async () =>
      (await ledger.listDeposits()).some((d) => d.txid === txid && d.confirmations === 1) ? true : undefined,
    );
    browser = await launchChromium();
    context = browser.context;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop("test over");
    await regtest?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${base}${path}`);
    return page;
  }

  it("front page: the hot wallet, the reconciliation figures, and links to every table", async () => {
    const page = await open("/");
    const books = page.locator('tr.reconciliation[data-coin="btc"]');
    await books.waitFor({ timeout: 15_000 });
    expect(await books.getAttribute("data-status")).toBe("unaccounted");
    expect(await books.locator("[data-hot-wallet]").textContent()).toBe("6.25000000");
    expect(await books.locator("[data-unaccounted]").textContent()).toBe("5.00000000");
    expect(await books.textContent()).toContain("5.00000000 unaccounted");
    for (const [name, path] of [
      ["Accounts", "/accounts"],
      ["Addresses", "/addresses"],
      ["Transactions", "/transactions"],
      ["Network transactions", "/network_transactions"],
      ["Wallets", "/wallets"],
    ]) {
      expect(await page.locator("nav").getByRole("link", { name, exact: true }).getAttribute("href")).toBe(
        path,
      );
    }
    await page.locator("nav").getByRole("link", { name: "Accounts", exact: true }).click();
    await page.waitForURL(`${base}/accounts`);
    expect(await page.title()).toBe("Accounts · cryptoassets helper service");
    await page.close();
  });

  it("pages by key: older rows follow, none twice, at most the asked page size", async () => {
    const page = await open("/accounts?limit=2");
    const seen: string[] = [];
    for (;;) {
      const ids = await page
        .locator("tbody tr")
        .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-id") ?? ""));
      expect(ids.length).toBeLessThanOrEqual(2);
      seen.push(...ids);
      const older = page.getByRole("link", { name: "older »" });
      if ((await older.count()) === 0) break;
      await older.click();
      await page.waitForLoadState();
    }
    // Five accounts and the wallet's network-fee account, newest first, each once.
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((a, b) => b - a));
    await page.close();
  });

  it("search by txid, address and account, with hostile names shown as text", async () => {
    const page = await open("/");
    await page.getByRole("searchbox").fill(txid);
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/search\?q=/);
    const deposit = page.locator(`tr[data-txid="${txid}"]`).first();
    expect(await deposit.textContent()).toContain("1.25000000");
    expect(await page.locator("main").textContent()).toContain(HOSTILE); // the account name, as text

    await page.goto(`${base}/search?q=${encodeURIComponent(address)}`);
    expect(await page.locator("main h2").allTextContents()).toEqual([
      "Accounts",
      "Addresses",
      "Transactions",
      "Network transactions",
    ]);
    expect(await page.locator("main").textContent()).toContain(address);
    await page.goto(`${base}/transactions?q=${encodeURIComponent(HOSTILE)}`);
    expect(await page.locator("tbody tr").count()).toBe(1); // the deposit to that account
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "status-pages.png"), fullPage: true });
    // Nothing of the hostile text ran: no image element, no changed title, no dialog.
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.title()).toBe("Transactions · cryptoassets helper service");
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it("each page has its JSON, and every page is read-only, uncached and unsniffable", async () => {
    const first = (await (await fetch(`${base}/accounts.json?limit=4`)).json()) as {
      rows: Array<{ id: number; name: string; balance: string }>;
      next: number | null;
    };
    expect(first.rows).toHaveLength(4);
    const rest = (await (
      await fetch(`${base}/accounts.json?limit=4&before=${first.next}`)
    ).json()) as typeof first;
    expect(rest).toMatchObject({ next: null });
    expect([...first.rows, ...rest.rows].map((row) => row.name)).toContain(HOSTILE);
    const byTxid = (await (
      await fetch(`${base}/network_transactions.json?q=${txid}`)
    ).json()) as typeof first;
    expect(byTxid.rows).toEqual([
      expect.objectContaining({ txid, transaction_type: "deposit", confirmations: 1 }),
    ]);
    const books = (await (await fetch(`${base}/reconcile.json`)).json()) as Record<
      string,
      { status: string }
    >;
    expect(books.btc?.status).toBe("unaccounted");
    const response = await fetch(`${base}/transactions?limit=100000`);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toContain("script-src 'none'");
    expect((await fetch(`${base}/accounts`, { method: "POST" })).status).toBe(404);
  });
});
