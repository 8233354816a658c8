// Webhooks across faults, on real processes: a server killed with kill -9 (its whole process
// group) while bids flow and the receiver is down, then started again on the same SQLite file;
// and two nodes on one Redis, where each event is delivered and, while both run, by one node.
// Every event the run's history implies must arrive, signed, in order per auction.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bidder } from "../support/bidder.ts";
import { spawnGavel, spawnGavelGroup, type GavelProcess } from "../support/process.ts";
import { startRedis } from "../support/redis.ts";
import { checkDeliveries, expectedEvents, waitForEvents } from "../support/webhook-expectations.ts";
import { WebhookReceiver } from "../support/webhook-receiver.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const SECRET = "test-webhook-secret-0123456789";
const AUCTIONS = 3;
const ANTI_SNIPE_MS = 500;
const DELIVERY_TIMEOUT_MS = 40_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function webhookEnv(receiver: WebhookReceiver): Record<string, string> {
  return {
    GAVEL_WEBHOOK_URL: receiver.url,
    GAVEL_WEBHOOK_SECRET: SECRET,
    GAVEL_WEBHOOK_RETRY_MAX_MS: "200",
    GAVEL_CLOSE_INTERVAL_MS: "20",
  };
}

async function createAuctions(node: { httpUrl: string }, openMs: number, capMs: number): Promise<{ id: number; endsAt: number }[]> {
  const now = Date.now();
  const auctions: { id: number; endsAt: number }[] = [];
  for (let i = 0; i < AUCTIONS; i++) {
    const response = await fetch(`${node.httpUrl}/v1/auctions`, {
      method: "POST",
      body: JSON.stringify({ ends_at: now + openMs, anti_snipe_ms: ANTI_SNIPE_MS, max_ends_at: now + capMs }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { id: number; ends_at: number };
    auctions.push({ id: body.id, endsAt: body.ends_at });
  }
  return auctions;
}

/** Bids on every auction from one connection each, `rounds` times. */
async function bid(port: number, auctions: { id: number }[], rounds: number, firstAmount: number): Promise<void> {
  const bidders = await Promise.all(auctions.map((a) => Bidder.connect(port, a.id, firstAmount)));
  try {
    for (let round = 0; round < rounds; round++) {
      await Promise.all(bidders.map((b) => b.send(2)));
      await Bun.sleep(15);
    }
  } finally {
    bidders.forEach((b) => b.close());
  }
}

/** Bids until the node dies (its connections fail); never throws. */
function bidUntilKilled(port: number, auctions: { id: number }[], firstAmount: number): Promise<void> {
  return bid(port, auctions, 1_000, firstAmount).catch(() => undefined);
}

describe("webhooks across faults", () => {
  test("sqlite: kill -9 of the server's process group while the receiver is down; the restarted server delivers everything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gavel-webhooks-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const receiver = new WebhookReceiver(SECRET);
    receiver.start();
    cleanups.push(() => receiver.stop());
    receiver.failWhen = (n) => n % 5 === 0;
    const env = { ...webhookEnv(receiver), GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") };

    const first = await spawnGavelGroup(env);
    cleanups.push(() => first.killGroup("SIGKILL"));
    const auctions = await createAuctions(first, 4_000, 6_000);
    const bidding = bidUntilKilled(first.port, auctions, 100);
    await Bun.sleep(400);
    // Down: what is accepted from now on waits in the outbox, and the process dies with it there.
    receiver.stop();
    await Bun.sleep(400);
    first.killGroup("SIGKILL");
    await bidding;
    const deliveredBeforeKill = receiver.delivered.length;
    expect(deliveredBeforeKill).toBeGreaterThan(0);

    // The same file; the receiver comes back a moment after the server.
    const second = await spawnGavelGroup(env);
    cleanups.push(() => second.killGroup("SIGKILL"));
    // Each auction's last seq stored by the first life (the newest bid in its history).
    const seqAtKill = new Map<number, number>();
    for (const { id } of auctions) {
      const page = (await (await fetch(`${second.httpUrl}/v1/auctions/${id}/bids?limit=1`)).json()) as { bids: { seq: number }[] };
      seqAtKill.set(id, page.bids[0]?.seq ?? 0);
    }
    await bid(second.port, auctions, 10, 1_000_000);
    receiver.start();

    const expected = await expectedEvents(second.port, auctions);
    await waitForEvents(receiver, expected, DELIVERY_TIMEOUT_MS);
    checkDeliveries(receiver.delivered, expected);
    // Events of the first life's bids, stored before the kill and never delivered by it, came
    // out of the second process.
    const beforeKill = new Set(receiver.delivered.slice(0, deliveredBeforeKill).map((e) => e.id));
    const firstLifeDeliveredLater = receiver.delivered
      .slice(deliveredBeforeKill)
      .filter((e) => e.type !== "closed" && e.type !== "won" && e.seq <= seqAtKill.get(e.auction)! && !beforeKill.has(e.id));
    expect(firstLifeDeliveredLater.length).toBeGreaterThan(0);
  });

  test("redis: two nodes on one Redis; each event is delivered, by one node while both run, and by the survivor after a kill -9", async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const receiver = new WebhookReceiver(SECRET);
    receiver.start();
    cleanups.push(() => receiver.stop());
    receiver.failWhen = (n) => n % 7 === 0;
    const env = { ...webhookEnv(receiver), GAVEL_STORE: "redis", REDIS_URL: redis.url, GAVEL_REDIS_SHARDS: "4", GAVEL_WEBHOOK_LEASE_MS: "1000" };
    const nodes: GavelProcess[] = [];
    for (let i = 0; i < 2; i++) {
      const node = await spawnGavel(env);
      cleanups.push(() => node.kill("SIGKILL"));
      nodes.push(node);
    }
    const [a, b] = nodes as [GavelProcess, GavelProcess];

    // Steady state: both nodes run; bids reach both.
    const steady = await createAuctions(a, 1_500, 3_000);
    await Promise.all([bid(a.port, steady, 10, 100), bid(b.port, steady, 10, 100_000)]);
    const steadyExpected = await expectedEvents(a.port, steady);
    await waitForEvents(receiver, steadyExpected, DELIVERY_TIMEOUT_MS);
    checkDeliveries(receiver.delivered, steadyExpected);
    // Exactly one delivery per event: the two nodes' delivered counts add up to the distinct events.
    const delivered = async (node: GavelProcess) => {
      const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
      return Number(/^gavel_webhooks_total\{result="delivered"\} (\d+)/m.exec(text)?.[1] ?? "0");
    };
    // The first node started took every group's lease; the second waits as a standby.
    expect(await delivered(a)).toBeGreaterThan(0);
    expect((await delivered(a)) + (await delivered(b))).toBe(receiver.distinctIds().size);
    expect(receiver.delivered.length).toBe(receiver.distinctIds().size);

    // The delivering node dies with events read and unacknowledged (the receiver is down): the
    // other takes its groups over once the leases expire and claims those events (XAUTOCLAIM).
    const later = await createAuctions(a, 2_000, 3_500);
    receiver.stop();
    await bid(a.port, later, 10, 1_000);
    await a.kill("SIGKILL");
    receiver.start();
    const laterExpected = await expectedEvents(b.port, later);
    await waitForEvents(receiver, laterExpected, DELIVERY_TIMEOUT_MS);
    checkDeliveries(receiver.delivered, new Map([...steadyExpected, ...laterExpected]));
  });
});
