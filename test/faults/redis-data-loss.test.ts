// Redis that loses or mixes Gavel's data, over real processes: a Gavel node (`bun run start`)
// on a real redis-server. An eviction policy that can drop Gavel's keys is refused at start-up
// and, when a Redis comes back with one, bids and writes stop until it is safe again. A Redis
// that restarted empty (or was flushed) ends the lost auctions' subscriptions with ERROR RESET
// instead of mixing an old auction's history with a new auction under the same id, and ids a
// node handed out are not handed out again. Generated ids stay within u32.

import { afterEach, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { encodeBid, encodeSubscribe, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, HEADER_SIZE, NO_REPLAY, PayloadLength, Status } from "../../src/protocol/constants.ts";
import { AUCTION_IDS_KEY, DEFAULT_SHARDS, KeyLayout, RedisKeys } from "../../src/store/redis.ts";
import { runGavelExpectingFailure, spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const SUBSCRIBE_FRAME_SIZE = HEADER_SIZE + PayloadLength.SUBSCRIBE;
const MAX_AUCTION_ID = 0xffffffff;
/** createAuction's bounded search for a free generated id (src/store/redis.ts). */
const MAX_ID_ATTEMPTS = 1_000;
const HOUR_MS = 3_600_000;
/** A node notices a restarted Redis within its reconnect back-off (at most 1 s) and a check. */
const NOTICE_MS = 8_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisServer(options: Parameters<typeof startRedis>[0] = {}): Promise<RedisHandle> {
  const redis = await startRedis(options);
  cleanups.push(() => redis.stop());
  return redis;
}

async function node(redis: RedisHandle): Promise<GavelProcess> {
  const gavel = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redis.url });
  cleanups.push(() => gavel.kill("SIGKILL"));
  return gavel;
}

function rawRedis(redis: RedisHandle): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  cleanups.push(() => client.disconnect());
  return client;
}

async function client(gavel: GavelProcess): Promise<RawClient> {
  const raw = await connectRaw(gavel.port);
  cleanups.push(() => raw.close());
  return raw;
}

async function createAuction(gavel: GavelProcess, body: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${gavel.httpUrl}/v1/auctions`, {
    method: "POST",
    body: JSON.stringify({ ends_at: Date.now() + HOUR_MS, ...body }),
  });
}

async function createdId(gavel: GavelProcess, body: Record<string, unknown> = {}): Promise<number> {
  const response = await createAuction(gavel, body);
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

/** Sends one BID and returns its RESULT. */
async function bid(raw: RawClient, req: number, auction: number, user: number, amount: number): Promise<Frame & { type: typeof FrameType.RESULT }> {
  const frame = new Uint8Array(BID_FRAME_SIZE);
  encodeBid(frame, 0, req, auction, user, amount);
  raw.send(frame);
  for (;;) {
    await raw.waitFor(raw.frames.length + 1, 5_000);
    const result = raw.frames.find((f) => f.type === FrameType.RESULT && f.req === req);
    if (result !== undefined) return result as Frame & { type: typeof FrameType.RESULT };
  }
}

function subscribe(raw: RawClient, req: number, auction: number, since = NO_REPLAY): void {
  const frame = new Uint8Array(SUBSCRIBE_FRAME_SIZE);
  encodeSubscribe(frame, 0, req, auction, since);
  raw.send(frame);
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe("Redis eviction policy", () => {
  test("allkeys-lru: Gavel refuses to start, naming maxmemory-policy and the value", async () => {
    const redis = await redisServer({ args: ["--maxmemory-policy", "allkeys-lru"] });
    const { code, output } = await runGavelExpectingFailure({ GAVEL_STORE: "redis", REDIS_URL: redis.url });
    expect(code).toBe(1);
    expect(output).toContain("gavel: cannot start:");
    expect(output).toContain("maxmemory-policy allkeys-lru");
    expect(output).not.toContain("listening on");
  });

  test("noeviction and volatile-lru (Gavel's keys have no TTL): it starts", async () => {
    for (const policy of ["noeviction", "volatile-lru"]) {
      const redis = await redisServer({ args: ["--maxmemory-policy", policy] });
      const gavel = await node(redis);
      expect(await createdId(gavel)).toBe(1);
      expect(gavel.output()).not.toContain("maxmemory-policy");
    }
  });

  test("CONFIG disabled: a warning that the policy cannot be read, and it starts", async () => {
    const redis = await redisServer({ args: ["--rename-command", "CONFIG", ""] });
    const gavel = await node(redis);
    expect(gavel.output()).toContain("gavel: warning: cannot read Redis's maxmemory-policy");
    expect(await createdId(gavel)).toBe(1);
  });

  test("a Redis that comes back with allkeys-lru: bids UNAVAILABLE and admin writes 503 until the policy is safe again", async () => {
    const redis = await redisServer();
    const gavel = await node(redis);
    const auction = await createdId(gavel);
    const bidder = await client(gavel);
    expect((await bid(bidder, 1, auction, 7, 100)).status).toBe(Status.ACCEPTED);

    // As if Redis restarted with a new config: the setting changes and every connection drops.
    const admin = rawRedis(redis);
    await admin.config("SET", "maxmemory-policy", "allkeys-lru");
    await admin.call("CLIENT", "KILL", "TYPE", "normal");
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    // From the lost connection on, nothing is acknowledged: first because the policy is not
    // read yet, then because it can evict.
    let req = 2;
    for (let i = 0; i < 3; i++) expect((await bid(bidder, req++, auction, 7, 200 + i)).status).toBe(Status.UNAVAILABLE);
    let refusal = "";
    await waitUntil(
      async () => {
        const response = await createAuction(gavel);
        expect(response.status).toBe(503);
        refusal = ((await response.json()) as { error: string }).error;
        return refusal.includes("maxmemory-policy allkeys-lru");
      },
      NOTICE_MS,
      "the policy refusal",
    );
    for (let i = 0; i < 5; i++) expect((await bid(bidder, req++, auction, 7, 300 + i)).status).toBe(Status.UNAVAILABLE);
    expect(occurrences(gavel.output(), "redis: Redis runs with maxmemory-policy allkeys-lru")).toBe(1);

    await admin.config("SET", "maxmemory-policy", "noeviction");
    await admin.call("CLIENT", "KILL", "TYPE", "normal");
    await waitUntil(async () => (await bid(bidder, req++, auction, 7, 1_000)).status === Status.ACCEPTED, NOTICE_MS, "ACCEPTED");
    expect(await createdId(gavel)).toBe(auction + 1);
    await waitUntil(() => gavel.output().includes("maxmemory-policy is noeviction: accepting bids and writes again"), NOTICE_MS, "the line saying writes are accepted again");
    // The one bid accepted before the change and the one after: nothing in between was stored.
    const stored = (await (await fetch(`${gavel.httpUrl}/v1/auctions/${auction}`)).json()) as { seq: number; amount: number };
    expect(stored).toMatchObject({ seq: 2, amount: 1_000 });
  });
});

describe("Redis that lost its data", () => {
  test("restarted empty: the subscriber gets ERROR RESET and is closed, never another auction's UPDATE; ids are not handed out again", async () => {
    const redis = await redisServer(); // no persistence: a restart comes back empty
    const gavel = await node(redis);
    const first = await createdId(gavel);
    const second = await createdId(gavel);
    expect([first, second]).toEqual([1, 2]);
    const subscriber = await client(gavel);
    subscribe(subscriber, 1, first);
    await subscriber.waitFor(1);
    const bidder = await client(gavel);
    for (const [i, amount] of [100, 102, 103].entries()) expect((await bid(bidder, i + 1, first, 7, amount)).status).toBe(Status.ACCEPTED);
    await subscriber.waitFor(4); // STATE, then UPDATE seq 1..3

    await redis.restart();
    await Promise.race([subscriber.closed, Bun.sleep(NOTICE_MS)]);
    expect(subscriber.isClosed()).toBe(true);
    const after = subscriber.frames.slice(4);
    expect(after).toEqual([{ type: FrameType.ERROR, req: 0, code: ErrorCode.RESET, message: expect.stringContaining("lost acknowledged data") }]);
    // The log line is written in the same turn as the RESET, but reaches this process by another pipe.
    await waitUntil(() => gavel.output().includes("redis: DATA LOST"), NOTICE_MS, "the DATA LOST line");

    // New auctions: no id this node handed out before is used again.
    let next = 0;
    await waitUntil(
      async () => {
        const response = await createAuction(gavel);
        if (response.status === 201) next = ((await response.json()) as { id: number }).id;
        return next !== 0;
      },
      NOTICE_MS,
      "a create after the loss",
    );
    expect(next).toBeGreaterThan(second);
    // The old ids are gone, not reused: a bid on one is UNKNOWN.
    expect((await bid(bidder, 10, first, 7, 40)).status).toBe(Status.UNKNOWN);
    // A new subscriber of a new auction sees it from seq 0, and its bids.
    const fresh = await client(gavel);
    subscribe(fresh, 1, next);
    await fresh.waitFor(1);
    expect((await bid(bidder, 11, next, 8, 40)).status).toBe(Status.ACCEPTED);
    await fresh.waitFor(2);
    expect(fresh.frames[1]).toMatchObject({ type: FrameType.UPDATE, auction: next, seq: 1, amount: 40 });
    expect(occurrences(gavel.output(), "redis: DATA LOST")).toBe(1);
    expect(gavel.proc.exitCode).toBeNull();
  });

  test("flushed under two nodes: a subscriber on the other node is reset before an auction created since under the same id reaches it", async () => {
    const redis = await redisServer();
    const [a, b] = [await node(redis), await node(redis)];
    const old = await createdId(a);
    const subscriber = await client(b);
    subscribe(subscriber, 1, old);
    await subscriber.waitFor(1);
    const bidder = await client(a);
    expect((await bid(bidder, 1, old, 7, 100)).status).toBe(Status.ACCEPTED);
    await subscriber.waitFor(2);

    // FLUSHALL cuts no connection: node A finds the loss when it next writes, B from A's notice.
    await rawRedis(redis).flushall();
    const reused = await createdId(a, { id: old, starting_price: 1 });
    expect(reused).toBe(old);
    expect((await bid(bidder, 2, old, 9, 5)).status).toBe(Status.ACCEPTED);
    await Promise.race([subscriber.closed, Bun.sleep(NOTICE_MS)]);
    expect(subscriber.isClosed()).toBe(true);
    expect(subscriber.frames.slice(2)).toEqual([{ type: FrameType.ERROR, req: 0, code: ErrorCode.RESET, message: expect.any(String) }]);
    await waitUntil(() => b.output().includes("redis: DATA LOST"), NOTICE_MS, "node B's log line");
    await waitUntil(() => a.output().includes("redis: DATA LOST"), NOTICE_MS, "node A's log line");
  });
});

describe("generated auction ids stay within u32", () => {
  test("past 4294967295 the counter wraps to the next free id; none free within the bounded search: 503", async () => {
    const redis = await redisServer();
    const gavel = await node(redis);
    const raw = rawRedis(redis);
    await raw.set(AUCTION_IDS_KEY, String(MAX_AUCTION_ID - 1));
    expect(await createdId(gavel, { id: MAX_AUCTION_ID })).toBe(MAX_AUCTION_ID);
    await createdId(gavel, { id: 1 });
    // MAX_AUCTION_ID is taken, then the search starts again from 1 (taken): 2.
    expect(await createdId(gavel)).toBe(2);
    expect(await createdId(gavel)).toBe(3);

    // Every id the bounded search would try is taken.
    await raw.set(AUCTION_IDS_KEY, String(MAX_AUCTION_ID - 1));
    const taken = Array.from({ length: MAX_ID_ATTEMPTS - 1 }, (_, i) => i + 1);
    await raw.eval(
      "for i = 1, #KEYS do redis.call('HSET', KEYS[i], 'sp', '1') end",
      taken.length,
      ...taken.map((id) => new RedisKeys(DEFAULT_SHARDS, KeyLayout.BALANCED).auction(id)),
    );
    const exhausted = await createAuction(gavel);
    expect(exhausted.status).toBe(503);
    expect(((await exhausted.json()) as { error: string }).error).toStartWith("auction ids exhausted: ");
    expect(gavel.proc.exitCode).toBeNull();
  });
});
