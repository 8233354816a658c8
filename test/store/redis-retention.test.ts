// GAVEL_RETENTION on Redis, against a real redis-server: closed auctions whose ends_at is older
// than the retention go with their history and every entry that listed them, so nothing of
// them is left in Redis; open, scheduled and recently closed ones stay; two nodes retiring the
// same auctions at once delete each once and fail nothing. Through a real server process too,
// with the admin API answering 404.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { Status } from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { AUCTION_INDEX_KEY, KeyLayout, RedisKeys, RedisStore, shardGroup } from "../../src/store/redis.ts";
import { REDIS_RETENTION_INTERVAL_MS, REDIS_RETENTION_STEP, type RedisRetention } from "../../src/store/redis-retention.ts";
import { spawnGavel } from "../support/process.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const RETENTION_MS = MINUTE;
const SHARDS = 4;
/** More than a step per group, so a pass takes several rounds. */
const OLD = SHARDS * REDIS_RETENTION_STEP + 37;
/** Long enough to create them all first, on a loaded machine. */
const ENDS_IN_MS = 4_000;
/** The keys of a deployment that starts on an empty Redis (each test's store checks it has them). */
const keys = new RedisKeys(SHARDS, KeyLayout.BALANCED);

let redis: RedisHandle;
let admin: Redis;
const stores: RedisStore[] = [];
const warnings: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});
beforeEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  warnings.length = 0;
  await admin.flushall();
});

async function connect(retentionMs: number): Promise<RedisStore> {
  const store = await RedisStore.connect({ url: redis.url, shards: SHARDS, retentionMs, log: (message) => warnings.push(message) });
  stores.push(store);
  expect(store.keys.tags).toEqual(keys.tags);
  return store;
}

function retentionOf(store: RedisStore): RedisRetention {
  return (store as unknown as { retention: RedisRetention }).retention;
}

function spec(id: number, fields: Partial<AuctionSpec>): AuctionSpec {
  const now = Date.now();
  return { id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 2 * HOUR, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields };
}

async function bid(store: RedisStore, auction: number, amount: number): Promise<number> {
  const batch = new BidBatch(1);
  batch.auction[0] = auction;
  batch.user[0] = 9;
  batch.amount[0] = amount;
  batch.count = 1;
  await store.applyBids(batch);
  return batch.status[0]!;
}

/** Every key and sorted-set entry that mentions the auction. */
async function tracesOf(id: number): Promise<string[]> {
  const group = shardGroup(id, SHARDS);
  const traces: string[] = [];
  if ((await admin.exists(keys.auction(id))) === 1) traces.push("hash");
  if ((await admin.exists(keys.history(id))) === 1) traces.push("history");
  if ((await admin.zscore(keys.retire(group), String(id))) !== null) traces.push("retire");
  if ((await admin.zscore(keys.closed(group), String(id))) !== null) traces.push("closed");
  if ((await admin.zscore(keys.starts(group), String(id))) !== null) traces.push("starts");
  if ((await admin.zscore(AUCTION_INDEX_KEY, String(id))) !== null) traces.push("index");
  return traces;
}

/** Makes closed auctions `age` ms old where Redis keeps ends_at (a test cannot wait the retention). */
async function age(ids: number[], ageMs: number): Promise<void> {
  const endsAt = Date.now() - ageMs;
  for (const id of ids) {
    await admin.hset(keys.auction(id), "en", endsAt);
    await admin.zadd(keys.retire(shardGroup(id, SHARDS)), endsAt, id);
  }
}

async function closeAll(store: RedisStore): Promise<number> {
  let closed = 0;
  for (let page; (page = await store.closeDue(1000)).length > 0; ) closed += page.length;
  return closed;
}

test("closed auctions past the retention go with their history and every listing entry; the rest stay", async () => {
  const store = await connect(RETENTION_MS);
  const endsSoon = Date.now() + ENDS_IN_MS;
  const old = Array.from({ length: OLD }, (_, i) => i + 1);
  for (const id of old) {
    await store.createAuction(spec(id, { endsAt: endsSoon }));
    expect(await bid(store, id, 100 + id)).toBe(Status.ACCEPTED);
  }
  const open = OLD + 1;
  const scheduled = OLD + 2;
  const recent = OLD + 3;
  const cancelled = OLD + 4;
  await store.createAuction(spec(open, {}));
  await store.createAuction(spec(scheduled, { startsAt: Date.now() + HOUR, endsAt: Date.now() + 2 * HOUR }));
  await store.createAuction(spec(recent, { endsAt: endsSoon }));
  expect(await bid(store, recent, 500)).toBe(Status.ACCEPTED);
  await store.createAuction(spec(cancelled, {}));
  expect((await store.cancel(cancelled)).cancelled).toBe(true);
  await Bun.sleep(Math.max(0, endsSoon - Date.now() + 50));
  expect(await closeAll(store)).toBe(OLD + 1);
  expect(await tracesOf(1)).toEqual(["hash", "history", "retire", "closed", "index"]);

  // An entry of a closed auction left in its group's starts set (one stored with starts_at past
  // its ends_at): retiring the auction removes it too.
  await admin.zadd(keys.starts(shardGroup(cancelled, SHARDS)), Date.now() + HOUR, cancelled);
  await age([...old, cancelled], RETENTION_MS + MINUTE);
  const deadline = Date.now() + 10 * REDIS_RETENTION_INTERVAL_MS;
  while ((await store.getAuction(OLD)) !== null && Date.now() < deadline) await Bun.sleep(50);

  for (const id of [1, OLD / 2 + 1, OLD, cancelled]) {
    expect(await store.getAuction(id)).toBeNull();
    expect(await store.history(id, 0, 10)).toEqual([]);
    expect(await bid(store, id, 10_000)).toBe(Status.UNKNOWN);
  }
  for (const id of [...old, cancelled]) expect(await tracesOf(id)).toEqual([]);
  expect((await store.listAuctions(null, 0, 1000)).map((a) => a.id)).toEqual([open, scheduled, recent]);
  expect((await store.history(recent, 0, 10)).length).toBe(1);
  expect((await store.getAuction(recent))!.closed).toBe(true);
  expect(await tracesOf(recent)).toEqual(["hash", "history", "retire", "closed", "index"]);
  // Nothing per retired auction is left: the keys are those of the three kept auctions and
  // the groups' own (ends, live, closed, retire, epoch) and the id counter's index.
  const stored = await admin.keys("*");
  expect(stored.filter((k) => k.includes(":a:")).sort()).toEqual(
    [open, scheduled, recent].flatMap((id) => [keys.auction(id), ...(id === recent ? [keys.history(id)] : [])]).sort(),
  );
  expect(warnings.filter((w) => w.includes("RETENTION"))).toEqual([]);
});

test("two nodes retiring the same auctions at once delete each once and fail nothing; an id used again stays", async () => {
  const [a, b] = [await connect(DAY), await connect(DAY)];
  // Ended two days ago: closed as they are created.
  const ended = Date.now() - 2 * DAY;
  const ids = Array.from({ length: OLD }, (_, i) => i + 1);
  for (const id of ids) await a.createAuction(spec(id, { startsAt: ended - HOUR, endsAt: ended }));
  expect(await closeAll(b)).toBe(OLD);
  // One of them is retired, then its id is taken by a new auction before the other node's
  // stale read of the retire set reaches it: a stale entry put back by hand.
  const reused = 7;
  await retentionOf(a).pass();
  await a.createAuction(spec(reused, {}));
  await admin.zadd(keys.retire(shardGroup(reused, SHARDS)), ended, reused);
  for (const id of ids.slice(0, 100)) await admin.zadd(keys.retire(shardGroup(id, SHARDS)), ended, id);
  const more = Array.from({ length: OLD }, (_, i) => OLD + 1 + i);
  for (const id of more) await b.createAuction(spec(id, { startsAt: ended - HOUR, endsAt: ended }));
  expect(await closeAll(a)).toBe(OLD);

  await Promise.all([retentionOf(a).pass(), retentionOf(b).pass()]);
  // Their timers' passes too may have run by now: counted together, each auction went once.
  expect(retentionOf(a).deleted + retentionOf(b).deleted).toBe(2 * OLD);
  for (const id of more) expect(await tracesOf(id)).toEqual([]);
  const again = await a.getAuction(reused);
  expect(again?.closed).toBe(false);
  expect(await tracesOf(reused)).toEqual(["hash", "index"]);
  expect((await a.listAuctions(null, 0, 1000)).map((x) => x.id)).toEqual([reused]);
  expect(warnings.filter((w) => w.includes("RETENTION"))).toEqual([]);
});

test("auctions closed before the retire set existed are found by walking the closed ids once", async () => {
  const before = await connect(0);
  const ended = Date.now() - 2 * DAY;
  const old = Array.from({ length: OLD }, (_, i) => i + 1);
  for (const id of old) await before.createAuction(spec(id, { startsAt: ended - HOUR, endsAt: ended }));
  const recent = OLD + 1;
  await before.createAuction(spec(recent, { startsAt: ended, endsAt: Date.now() - HOUR }));
  expect(await closeAll(before)).toBe(OLD + 1);
  // What an earlier release left: closed auctions, no retire set.
  for (let group = 0; group < SHARDS; group++) await admin.del(keys.retire(group));
  const store = await connect(DAY);
  const deadline = Date.now() + 10 * REDIS_RETENTION_INTERVAL_MS;
  const walked = async () => (await Promise.all(Array.from({ length: SHARDS }, (_, g) => admin.get(keys.retireBackfill(g))))).every((c) => c === "done");
  while (((await store.listAuctions(null, 0, 1000)).length > 1 || !(await walked())) && Date.now() < deadline) await Bun.sleep(100);
  for (const id of old) expect(await tracesOf(id)).toEqual([]);
  expect((await store.listAuctions(null, 0, 1000)).map((a) => a.id)).toEqual([recent]);
  expect(await tracesOf(recent)).toEqual(["hash", "retire", "closed", "index"]);
  expect(await walked()).toBe(true);
});

test("GAVEL_RETENTION with the redis store: a server answers 404 for an auction past it, 200 for the rest", async () => {
  const store = await connect(0);
  const twoDaysAgo = Date.now() - 2 * DAY;
  await store.createAuction(spec(5, { startsAt: twoDaysAgo - HOUR, endsAt: twoDaysAgo }));
  await store.createAuction(spec(6, {}));
  expect((await store.closeDue(10)).map((c) => c.id)).toEqual([5]);
  const server = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redis.url, GAVEL_REDIS_SHARDS: String(SHARDS), GAVEL_RETENTION: "1d" });
  try {
    const deadline = Date.now() + 10 * REDIS_RETENTION_INTERVAL_MS;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await fetch(`${server.httpUrl}/v1/auctions/5`)).status;
      if (status === 200) await Bun.sleep(100);
    }
    expect(status).toBe(404);
    expect((await fetch(`${server.httpUrl}/v1/auctions/5/bids`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/v1/auctions/6`)).status).toBe(200);
  } finally {
    await server.kill("SIGKILL");
  }
});
