// Webhooks end to end on a real server and a real HTTP receiver: every event a run's bids and
// closes imply arrives, signed, in order per auction, while the receiver refuses some POSTs
// (500) and is down for a while. The kill -9 and two-node runs are in webhooks-faults.test.ts.

import { afterEach, describe, expect, test } from "bun:test";
import type { StoreKind } from "../../src/config.ts";
import { Bidder } from "../support/bidder.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { checkDeliveries, expectedEvents, waitForEvents } from "../support/webhook-expectations.ts";
import { WebhookReceiver } from "../support/webhook-receiver.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const SECRET = "test-webhook-secret-0123456789";
const AUCTIONS = 3;
/** Bids within this long of the end extend it (so `extended` events happen). */
const ANTI_SNIPE_MS = 600;
const OPEN_MS = 1_200;
const CAP_MS = 3_000;
const DELIVERY_TIMEOUT_MS = 30_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function run(kind: StoreKind) {
  const receiver = new WebhookReceiver(SECRET);
  receiver.start();
  cleanups.push(() => receiver.stop());
  // Every fourth POST is refused.
  receiver.failWhen = (n) => n % 4 === 0;
  const gavel: GavelFixture = await startGavel(kind, {
    GAVEL_WEBHOOK_URL: receiver.url,
    GAVEL_WEBHOOK_SECRET: SECRET,
    GAVEL_WEBHOOK_RETRY_MAX_MS: "200",
    GAVEL_CLOSE_INTERVAL_MS: "20",
  });
  cleanups.push(() => gavel.dispose());

  const now = Date.now();
  const auctions: { id: number; endsAt: number }[] = [];
  for (let i = 0; i < AUCTIONS; i++) {
    const created = await gavel.createAuction({ ends_at: now + OPEN_MS, anti_snipe_ms: ANTI_SNIPE_MS, max_ends_at: now + CAP_MS, reserve: i === 0 ? 1_000_000_000 : 0 });
    auctions.push({ id: created.id, endsAt: created.ends_at as number });
  }
  // One more, cancelled: its `closed` says so.
  const cancelled = await gavel.createAuction({ ends_at: now + OPEN_MS });
  expect((await fetch(`${gavel.httpUrl}/v1/auctions/${cancelled.id}/cancel`, { method: "POST" })).status).toBe(200);
  const bidders = await Promise.all(auctions.map((a, i) => Bidder.connect(gavel.port, a.id, 100 + i)));
  cleanups.push(() => bidders.forEach((b) => b.close()));
  let round = 0;
  while (Date.now() < now + OPEN_MS + 200) {
    await Promise.all(bidders.map((b) => b.send(2)));
    // Down for a while in the middle of the run: connections are refused.
    if (++round === 5) receiver.stop();
    if (round === 15) receiver.start();
    await Bun.sleep(20);
  }
  if (round < 15) receiver.start();

  const expected = await expectedEvents(gavel.port, auctions);
  expected.set(cancelled.id, [`closed ${cancelled.id} 0`]);
  expect([...expected.values()].flat().some((key) => key.startsWith("outbid"))).toBe(true);
  expect([...expected.values()].flat().some((key) => key.startsWith("won"))).toBe(true);
  await waitForEvents(receiver, expected, DELIVERY_TIMEOUT_MS);
  checkDeliveries(receiver.delivered, expected);
  expect(receiver.refused).toBeGreaterThan(0);
  expect(receiver.delivered.find((e) => e.auction === cancelled.id)?.body.outcome).toBe("cancelled");
  expect(receiver.delivered.find((e) => e.auction === auctions[0]!.id && e.type === "closed")?.body.outcome).toBe("no_sale");

  // The outbox is emptied as events are delivered, and /metrics says so.
  let metrics = "";
  for (let i = 0; i < 100; i++) {
    metrics = await (await fetch(`${gavel.httpUrl}/metrics`)).text();
    if (/^gavel_webhook_backlog 0$/m.test(metrics)) break;
    await Bun.sleep(50);
  }
  expect(metrics).toMatch(/^gavel_webhook_backlog 0$/m);
  expect(metrics).toMatch(/^gavel_webhooks_total\{result="failed"\} [1-9]/m);
}

describe("webhooks", () => {
  test("memory store: every event arrives, signed, in order, through 500s and an outage", () => run("memory"));
  test("sqlite store: every event arrives, signed, in order, through 500s and an outage", () => run("sqlite"));
  test("redis store: every event arrives, signed, in order, through 500s and an outage", () => run("redis"));
});
