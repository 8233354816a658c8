// The live page end to end in a real browser: headless Chromium (Debian's package) driven by
// playwright-core, against a real server. Screenshots land in test-artifacts/.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { GavelClient, Phase, Status } from "../../src/client/index.ts";
import { loadConfig } from "../../src/config.ts";
import { startServer } from "../../src/server.ts";
import { artifactPath, launchChromium, waitForText } from "../support/browser.ts";
import { openAuction, startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 860 };
/** The quick sale closes this long after it is created, and its outcome may take this much longer. */
const QUICK_SALE_MS = 10_000;
const CLOSE_SLACK_MS = 10_000;

/** Opens the page and records what goes wrong in it. */
async function openPage(browser: Browser, url: string, viewport = DESKTOP): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  await page.locator('[data-testid="link"][data-state="live"]').waitFor({ timeout: 10_000 });
  return { page, problems };
}

describe("live page", () => {
  let server: TestServer;
  let browser: Browser;
  let client: GavelClient;
  beforeAll(async () => {
    server = await startTestServer({ store: "sqlite", env: { GAVEL_CLOSE_INTERVAL_MS: "50" } });
    client = await GavelClient.connect({ port: server.port });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await server?.stop();
  });

  test("shows a bid placed through the SDK, and places a bid the server accepts", async () => {
    const a = await server.createAuction(openAuction({ title: "Brass desk lamp, 1930s", starting_price: 1000, min_increment: 50, reserve: 2000 }));
    const { page, problems } = await openPage(browser, `${server.httpUrl}/?auction=${a.id}`);
    const price = page.getByTestId("price");
    await waitForText(page.getByTestId("title"), "Brass desk lamp, 1930s");
    await waitForText(price, "10.00");
    await waitForText(page.getByTestId("phase"), "Open");
    expect(await page.getByTestId("bid-amount").inputValue()).toBe("10.00");

    // A bid from elsewhere shows up: price, leader, feed, and the next minimum in the form.
    expect((await client.bid(a.id, 42, 1234)).status).toBe(Status.ACCEPTED);
    await waitForText(price, "12.34");
    await waitForText(page.getByTestId("leader"), "user 42");
    const firstRow = page.getByTestId("feed").locator("li").first();
    await waitForText(firstRow, (t) => t.includes("#1") && t.includes("12.34") && t.includes("user 42"));
    expect(await page.getByTestId("bid-amount").inputValue()).toBe("12.84");

    // A bid placed on the page is accepted by the server and shown as such.
    await page.getByTestId("bid-user").fill("7");
    await page.getByTestId("bid-amount").fill("15.00");
    await page.getByTestId("bid-submit").click();
    await waitForText(page.getByTestId("bid-result"), "ACCEPTED");
    expect(await client.query(a.id)).toMatchObject({ phase: Phase.OPEN, seq: 2, amount: 1500, leader: 7 });
    const bids = (await (await fetch(`${server.httpUrl}/v1/auctions/${a.id}/bids`)).json()) as { bids: { seq: number; amount: number; user: number }[] };
    expect(bids.bids[0]).toMatchObject({ seq: 2, amount: 1500, user: 7 });
    await waitForText(price, "15.00");
    await waitForText(firstRow, (t) => t.includes("#2") && t.includes("15.00") && t.includes("user 7"));
    await waitForText(page.getByTestId("leader"), "you (user 7)");

    // Too low: the status is named.
    await page.getByTestId("bid-amount").fill("15.10");
    await page.getByTestId("bid-submit").click();
    await waitForText(page.getByTestId("bid-result"), "OUTBID");
    await waitForText(page.getByTestId("bid-result"), "at least 15.50");

    // A few more bids so the screenshots show a feed.
    for (const [user, amount] of [[42, 1600], [19, 1750], [42, 1900], [7, 2150]] as const) {
      expect((await client.bid(a.id, user, amount)).status).toBe(Status.ACCEPTED);
    }
    await waitForText(price, "21.50");
    await waitForText(page.getByTestId("feed"), "#6");
    await Bun.sleep(1300); // let the arrival highlight fade
    await page.screenshot({ path: artifactPath("live-page.png"), fullPage: true });

    await page.setViewportSize(PHONE);
    await page.screenshot({ path: artifactPath("live-page-phone.png"), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBe(0); // nothing wider than a phone

    expect(problems).toEqual([]);
    await page.close();
  });

  test("sets a private maximum: it leads, answers a lower bid, and the page says when another maximum passes it", async () => {
    const a = await server.createAuction(openAuction({ title: "Proxy lot", starting_price: 1000, min_increment: 50 }));
    const { page, problems } = await openPage(browser, `${server.httpUrl}/?auction=${a.id}`);
    await waitForText(page.getByTestId("price"), "10.00");
    await page.getByTestId("bid-user").fill("7");
    await page.getByTestId("max-amount").fill("50.07");
    await page.getByTestId("max-submit").click();
    await waitForText(page.getByTestId("bid-result"), (t) => t.includes("ACCEPTED") && t.includes("stays private"));
    expect(await client.query(a.id)).toMatchObject({ seq: 1, amount: 1000, leader: 7 });
    const standing = page.getByTestId("standing");
    await waitForText(standing, "You lead. Your maximum of 50.07 is private");

    // A lower bid from elsewhere is answered by the maximum: the price moves, 7 still leads.
    expect(await client.bid(a.id, 42, 2000)).toMatchObject({ status: Status.OUTBID, amount: 2050, leader: 7 });
    await waitForText(page.getByTestId("price"), "20.50");
    await waitForText(standing, "You lead.");
    await page.screenshot({ path: artifactPath("live-page-maximum.png"), fullPage: true });

    // A higher maximum passes it: the page says so, and shows nothing of the other maximum.
    expect(await client.maxBid(a.id, 42, 9007)).toMatchObject({ status: Status.ACCEPTED, amount: 5057, leader: 42 });
    await waitForText(page.getByTestId("price"), "50.57");
    await waitForText(standing, "You are not leading: another bidder's maximum is higher than yours (50.07).");
    expect(await page.locator("body").innerText()).not.toContain("90.07");

    // Too low a maximum is named as such.
    await page.getByTestId("max-amount").fill("40.00");
    await page.getByTestId("max-submit").click();
    await waitForText(page.getByTestId("bid-result"), (t) => t.includes("OUTBID") && t.includes("at least 51.07"));
    expect(problems).toEqual([]);
    await page.close();
  });

  test("the countdown follows the server's end time and moves when a late bid extends it", async () => {
    const a = await server.createAuction(openAuction({ title: "Snipe guard", ends_at: Date.now() + 20_000, anti_snipe_ms: 120_000 }));
    const { page, problems } = await openPage(browser, `${server.httpUrl}/?auction=${a.id}`, PHONE);
    const countdown = page.getByTestId("countdown");
    await waitForText(countdown, (t) => /^00:(1\d|20)$/.test(t));
    expect(await page.locator("#extended").isHidden()).toBe(true);

    expect((await client.bid(a.id, 5, 100)).status).toBe(Status.ACCEPTED);
    await waitForText(countdown, (t) => /^(01:5\d|02:00)$/.test(t));
    expect(await page.locator("#extended").isVisible()).toBe(true);

    // Cancelled: CLOSED with no winner.
    expect((await fetch(`${server.httpUrl}/v1/auctions/${a.id}/cancel`, { method: "POST" })).status).toBe(200);
    await waitForText(page.getByTestId("outcome"), "Closed with no sale");
    await waitForText(page.getByTestId("phase"), "Closed");
    expect(await page.getByTestId("bid-submit").isVisible()).toBe(false);
    expect(problems).toEqual([]);
    await page.close();
  });

  test("an auction picked by id closes on time and shows its winner", async () => {
    // Long enough to open the page and bid on a loaded CI machine (3 s was seen to run out).
    const a = await server.createAuction(openAuction({ title: "Quick sale", ends_at: Date.now() + QUICK_SALE_MS }));
    const { page, problems } = await openPage(browser, `${server.httpUrl}/`, PHONE);
    await page.locator("#picker-id").fill(String(a.id));
    await page.locator("#picker button[type=submit]").click();
    await waitForText(page.getByTestId("title"), "Quick sale");
    expect(new URL(page.url()).searchParams.get("auction")).toBe(String(a.id));

    await page.getByTestId("bid-user").fill("11");
    await page.getByTestId("bid-amount").fill("3.00");
    await page.getByTestId("bid-submit").click();
    await waitForText(page.getByTestId("bid-result"), "ACCEPTED");
    await waitForText(page.getByTestId("outcome"), "Sold to user 11 for 3.00", QUICK_SALE_MS + CLOSE_SLACK_MS);
    await page.screenshot({ path: artifactPath("live-page-closed-phone.png"), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  test("an unknown auction says so", async () => {
    const { page } = await openPage(browser, `${server.httpUrl}/?auction=987654`, PHONE);
    await waitForText(page.locator("#notice"), "No auction #987654");
    expect(await page.getByTestId("price").isVisible()).toBe(false);
    await page.close();
  });
});

describe("live page reconnects", () => {
  test("after the server restarts, the page resubscribes and misses no bid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gavel-web-"));
    const env = { GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") };
    let server = await startServer(loadConfig(env));
    const ports = { GAVEL_PORT: String(server.port), GAVEL_HTTP_PORT: String(server.httpPort) };
    const httpUrl = `http://127.0.0.1:${server.httpPort}`;
    const browser = await launchChromium();
    try {
      const created = await fetch(`${httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(openAuction({ title: "Survivor" })) });
      const a = (await created.json()) as { id: number };
      const { page } = await openPage(browser, `${httpUrl}/?auction=${a.id}`, PHONE);
      let client = await GavelClient.connect({ port: server.port });
      expect((await client.bid(a.id, 1, 100)).status).toBe(Status.ACCEPTED);
      await waitForText(page.getByTestId("price"), "1.00");
      await client.close();

      await server.stop();
      await page.locator('[data-testid="link"][data-state="offline"], [data-testid="link"][data-state="connecting"]').first().waitFor({ timeout: 10_000 });
      server = await startServer(loadConfig({ ...env, ...ports }));
      client = await GavelClient.connect({ port: server.port });
      // Placed before the page is back: it must come from the replay (since = 1).
      expect((await client.bid(a.id, 2, 200)).status).toBe(Status.ACCEPTED);
      await page.locator('[data-testid="link"][data-state="live"]').waitFor({ timeout: 20_000 });
      expect((await client.bid(a.id, 3, 300)).status).toBe(Status.ACCEPTED);
      await waitForText(page.getByTestId("price"), "3.00");
      const seqs = await page.getByTestId("feed").locator("li").evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.seq)));
      expect(seqs).toEqual([3, 2, 1]);
      await client.close();
      await page.close();
    } finally {
      await browser.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
