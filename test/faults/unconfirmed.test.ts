// UNAVAILABLE against UNCONFIRMED, over a real redis-server (docs/protocol.md, RESULT status):
// UNAVAILABLE promises nothing was stored, so it is answered only when the store was certainly
// not asked (connection down, circuit breaker); a call that reached Redis and got no answer is
// UNCONFIRMED. Each fault below makes the real thing happen: a paused Redis that runs a
// timed-out call when it resumes (stored), and a paused Redis killed before it read the call
// (not stored); then the SDK's resolveUnconfirmed tells the two apart by resending the bid.

import { afterEach, describe, expect, test } from "bun:test";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { GavelClient } from "../../src/client/index.ts";
import { Status } from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { failedBatchStatus } from "../../src/queue/drain.ts";
import { StoreUnavailableError, StoreUnconfirmedError } from "../../src/store/errors.ts";
import { RedisStore } from "../../src/store/redis.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

/** The batch deadline in these tests: short, so a pause outlasts it quickly. */
const DEADLINE_MS = 500;
/** Slack on top of a bound, for a shared 2-core machine. */
const SLACK_MS = 1_500;
/** How long a restarted Redis may take to be usable again (reconnect back-off, breaker probe). */
const RECOVERY_MS = 10_000;
const POLL_MS = 50;
const MINUTE = 60_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startPersistentRedis(): Promise<RedisHandle> {
  // AOF with fsync always: what Redis ran before a kill is still there after the restart.
  const redis = await startRedis({ appendonly: true });
  cleanups.push(async () => {
    redis.resume();
    await redis.stop();
  });
  return redis;
}

function batchOf(bids: [auction: number, user: number, amount: number][]): BidBatch {
  const batch = new BidBatch(bids.length);
  batch.count = bids.length;
  bids.forEach(([auction, user, amount], i) => {
    batch.auction[i] = auction;
    batch.user[i] = user;
    batch.amount[i] = amount;
  });
  return batch;
}

/** The batch's failure and how long it took to come. */
async function failureOf(pending: Promise<void>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await pending;
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error("the batch did not fail");
}

async function until<T>(probe: () => Promise<T | null>, timeoutMs = RECOVERY_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await Bun.sleep(POLL_MS);
  }
}

describe("RedisStore: which failures are UNCONFIRMED and which UNAVAILABLE", () => {
  test("past the deadline on a paused Redis: UNCONFIRMED, and Redis applies it on resuming; in flight when Redis dies: UNCONFIRMED; while it is down: UNAVAILABLE at once", async () => {
    const redis = await startPersistentRedis();
    const store = await RedisStore.connect({ url: redis.url, commandTimeoutMs: DEADLINE_MS, log: () => {} });
    cleanups.push(() => store.close());
    const now = store.now();
    const spec: AuctionSpec = { id: 1, title: "", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - MINUTE, endsAt: now + MINUTE, antiSnipeMs: 0, maxEndsAt: 0 };
    expect((await store.createAuction(spec)).created).toBe(true);

    // Sent, not answered in time: UNCONFIRMED. The paused Redis runs it when it resumes.
    redis.pause();
    const timedOut = await failureOf(store.applyBids(batchOf([[1, 7, 100]])));
    expect(timedOut.error).toBeInstanceOf(StoreUnconfirmedError);
    expect(failedBatchStatus(timedOut.error)).toBe(Status.UNCONFIRMED);
    expect(timedOut.ms).toBeGreaterThanOrEqual(DEADLINE_MS * 0.9);
    redis.resume();
    await until(async () => ((await store.history(1, 0, 10)).length === 1 ? true : null));
    expect((await store.history(1, 0, 10)).map((e) => [e.user, e.amount])).toEqual([[7, 100]]);

    // Written to a Redis that dies before it reads it: the close fails it, UNCONFIRMED (the
    // store cannot know it was never read), and it was not stored.
    redis.pause();
    const inFlight = failureOf(store.applyBids(batchOf([[1, 8, 200]])));
    await Bun.sleep(POLL_MS);
    await redis.kill();
    const lost = await inFlight;
    expect(lost.error).toBeInstanceOf(StoreUnconfirmedError);
    expect(failedBatchStatus(lost.error)).toBe(Status.UNCONFIRMED);
    expect(lost.ms).toBeLessThan(DEADLINE_MS);

    // While the connection is down nothing is sent: UNAVAILABLE, at once.
    const refused = await failureOf(store.applyBids(batchOf([[1, 9, 300]])));
    expect(refused.error).toBeInstanceOf(StoreUnavailableError);
    expect(failedBatchStatus(refused.error)).toBe(Status.UNAVAILABLE);
    expect(refused.ms).toBeLessThan(SLACK_MS);

    await redis.restart();
    const history = await until(() => store.history(1, 0, 10));
    expect(history.map((e) => [e.user, e.amount])).toEqual([[7, 100]]);
  });
});

describe("the server and the SDK: a real UNCONFIRMED, resolved by resubmitting", () => {
  async function startNode(redis: RedisHandle): Promise<{ node: GavelProcess; client: GavelClient; auction: number }> {
    const node = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redis.url, GAVEL_REDIS_TIMEOUT_MS: String(DEADLINE_MS) });
    cleanups.push(() => node.kill("SIGKILL"));
    const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ starting_price: 100, min_increment: 10, ends_at: Date.now() + 3_600_000 }) });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: number };
    const client = await GavelClient.connect({ port: node.port });
    cleanups.push(() => client.close());
    return { node, client, auction: id };
  }

  async function storedBids(node: GavelProcess, auction: number): Promise<[user: number, amount: number][]> {
    const response = await fetch(`${node.httpUrl}/v1/auctions/${auction}/bids?limit=500`);
    const { bids } = (await response.json()) as { bids: { user: number; amount: number }[] };
    return bids.reverse().map((b) => [b.user, b.amount]);
  }

  test("stored: Redis paused past the deadline, then resumed: resolveUnconfirmed says stored, OUTBID with this user leading", async () => {
    const redis = await startPersistentRedis();
    const { node, client, auction } = await startNode(redis);
    expect((await client.bid(auction, 1, 100)).status).toBe(Status.ACCEPTED);

    redis.pause();
    const sent = Date.now();
    const first = await client.bid(auction, 2, 200);
    expect(first).toEqual({ status: Status.UNCONFIRMED, auction, amount: 0, leader: 0 });
    expect(Date.now() - sent).toBeGreaterThanOrEqual(DEADLINE_MS * 0.9);
    redis.resume();

    const { stored, result } = await until(async () => {
      const resolution = await client.resolveUnconfirmed(auction, 2, 200);
      return resolution.stored === null ? null : resolution;
    });
    expect(stored).toBe(true);
    expect(result).toEqual({ status: Status.OUTBID, auction, amount: 200, leader: 2 });
    // Applied once, by the paused Redis as it resumed; the resubmission changed nothing.
    expect(await storedBids(node, auction)).toEqual([
      [1, 100],
      [2, 200],
    ]);
  });

  test("not stored: Redis paused, then killed before it read the bid: resolveUnconfirmed says not stored, and the resubmission is ACCEPTED", async () => {
    const redis = await startPersistentRedis();
    const { node, client, auction } = await startNode(redis);
    expect((await client.bid(auction, 1, 100)).status).toBe(Status.ACCEPTED);

    redis.pause();
    const first = client.bid(auction, 3, 300);
    await Bun.sleep(POLL_MS);
    await redis.kill();
    // The connection closed with the call written: the server cannot know Redis never read it.
    expect((await first).status).toBe(Status.UNCONFIRMED);
    // While Redis is down, a bid certainly reaches no store: UNAVAILABLE, not UNCONFIRMED.
    expect((await client.bid(auction, 4, 400)).status).toBe(Status.UNAVAILABLE);
    await redis.restart();

    const { stored, result } = await until(async () => {
      const resolution = await client.resolveUnconfirmed(auction, 3, 300);
      return resolution.stored === null ? null : resolution;
    });
    expect(stored).toBe(false);
    expect(result).toEqual({ status: Status.ACCEPTED, auction, amount: 300, leader: 3 });
    expect(await storedBids(node, auction)).toEqual([
      [1, 100],
      [3, 300],
    ]);
  });
});
