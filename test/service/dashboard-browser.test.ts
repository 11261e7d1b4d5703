/**
 * The dashboard in a real headless Chromium (playwright-core, the system's /usr/bin/chromium)
 * while the demo deposit confirms: the deposit, its confirmations and its crediting must be
 * visible and update by themselves. Saves test-artifacts/dashboard.png.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/service/demo.js";
import { launchChromium } from "../support/chromium.js";
import { waitFor } from "../support/wait.js";

const ARTIFACTS = resolve(import.meta.dirname, "../../test-artifacts");

async function inspectDashboard(
  url: string,
  address: string,
): Promise<{ confirmations: number; text: string }> {
  const browser = await launchChromium();
  const { context } = browser;
  try {
    const page = await context.newPage();
    await page.goto(url);
    await expect(page.title()).resolves.toBe("cryptoassets helper service");
    // No reload from here on: the page's own refresh must bring the confirmations in.
    const row = page.locator("tr.open-tx").first();
    await row.waitFor({ timeout: 15_000 });
    const firstSeen = Number(await row.getAttribute("data-confirmations"));
    // Polled from here (the page's CSP forbids evaluating strings in it).
    await waitFor(
      "the page to refresh itself to 3 confirmations or more",
      async () => {
        const now = Number(await row.getAttribute("data-confirmations"));
        return now >= 3 && now > firstSeen ? true : undefined;
      },
      20_000,
    );
    const confirmations = Number(await page.locator("tr.open-tx").first().getAttribute("data-confirmations"));
    const text = (await page.locator("main").textContent()) ?? "";
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(text).toContain(address); // the deposit address, in the recent events
    return { confirmations, text };
  } finally {
    await browser.close();
  }
}

describe("dashboard in headless Chromium", () => {
  it("shows the demo deposit, its confirmations and its crediting as they happen", async () => {
    let check: Promise<{ confirmations: number; text: string }> | undefined;
    let txid = "";
    const result = await runDemo({
      once: true,
      blockIntervalMs: 900,
      print: (line) => {
        const match = line.match(/^payer sent \S+ BTC in ([0-9a-f]{64})/);
        if (match) txid = match[1] as string;
      },
      onReady: ({ dashboardUrl, address }) => {
        check = inspectDashboard(dashboardUrl, address);
        check.catch(() => undefined); // awaited below
      },
    });
    expect(check).toBeDefined();
    const seen = await (check as Promise<{ confirmations: number; text: string }>);
    expect(result.confirmations).toEqual([...Array(16).keys()]);
    expect(seen.confirmations).toBeGreaterThanOrEqual(3);
    expect(seen.confirmations).toBeLessThan(15);
    expect(seen.text).toContain("Open transactions");
    expect(seen.text).toContain(txid.slice(0, 16)); // the deposit's txid (abbreviated on the page)
    expect(seen.text).toContain("0.50000000");
    expect(seen.text).toMatch(/credited/);
    expect(seen.text).toMatch(/\bhealthy\b/);
    expect(existsSync(join(ARTIFACTS, "dashboard.png"))).toBe(true);
  }, 90_000);
});
