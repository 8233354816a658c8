// What one listing page and one idle closer tick cost on Redis, counted by Redis itself
// (INFO commandstats, commands run inside scripts included): a page of each phase reads about a
// page of auctions however many auctions of the other phases share the id range, and a closer
// tick with nothing due reads no auction at all (and each group at most once a second), and
// neither does a retention pass.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { Phase } from "../../src/protocol/constants.ts";
import { GROUP_RECHECK_MS, RedisStore } from "../../src/store/redis.ts";
import { OPEN_READ_EXTRA } from "../../src/store/redis-listing.ts";
import { REDIS_RETENTION_BACKFILL_STEP, RedisRetention } from "../../src/store/redis-retention.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const HOUR = 3_600_000;
const SHARDS = 16;
/** Open auctions on the low ids, closed ones above: a closed page must not walk the open ones. */
const OPEN = 2_000;
const CLOSED = 2_000;
const PAGE = 100;
/** Each cost is the least of this many runs (see costOf). */
const COST_TRIES = 3;
/** Auctions that start in an hour, on ids above all the others: a scheduled page must not walk the open ones. */
const SCHEDULED = 150;
const FIRST_SCHEDULED = 5_001;
/** The first of the auctions that all sit in group 0 (a multiple of SHARDS), above every other id. */
const ONE_GROUP_FIRST = 400_000;
/** Creates in flight at once while building the data. */
const CREATE_CONCURRENCY = 100;
/** Reads a page may cost besides its auctions: a few id reads per group, a second round. */
const ID_READS_PER_PAGE = 4 * SHARDS;

let redis: RedisHandle;
let admin: Redis;
let store: RedisStore;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  store = await RedisStore.connect({ url: redis.url, shards: SHARDS });
  const now = Date.now();
  const spec = (id: number, fields: Partial<AuctionSpec>): AuctionSpec => ({
    id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0,
    startsAt: now - HOUR, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields,
  });
  const ids = Array.from({ length: OPEN + CLOSED }, (_, i) => i + 1);
  for (let i = 0; i < ids.length; i += CREATE_CONCURRENCY) {
    await Promise.all(
      ids.slice(i, i + CREATE_CONCURRENCY).map((id) => store.createAuction(spec(id, id > OPEN ? { startsAt: now - 2 * HOUR, endsAt: now - HOUR } : {}))),
    );
  }
  let closed = 0;
  for (let page; (page = await store.closeDue(1_000)).length > 0; ) closed += page.length;
  expect(closed).toBe(CLOSED);
  // One more past its end that the closer has not reached: listed as closed all the same.
  await store.createAuction(spec(OPEN + CLOSED + 1, { startsAt: now - 2 * HOUR, endsAt: now - HOUR }));
});

afterAll(async () => {
  await store.close();
  admin.disconnect();
  await redis.stop();
});

/**
 * The scheduled auctions on ids above all the others, each starting a millisecond after the one
 * before; created by the first test that needs them (after the pages of the other phases).
 */
async function createScheduled(): Promise<void> {
  const now = Date.now();
  const ids = Array.from({ length: SCHEDULED }, (_, i) => FIRST_SCHEDULED + i);
  await Promise.all(
    ids.map((id) =>
      store.createAuction({
        id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0,
        startsAt: now + HOUR + id, endsAt: now + 3 * HOUR, antiSnipeMs: 0, maxEndsAt: 0,
      }),
    ),
  );
}

/** Calls per command since the last CONFIG RESETSTAT, without the INFO asking and the reset itself. */
async function commandCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await admin.info("commandstats")).split("\r\n")) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match !== null && match[1] !== "info" && !match[1]!.startsWith("config")) counts.set(match[1]!, Number(match[2]));
  }
  return counts;
}

/**
 * What `work` (a read, or a pass with nothing to do: the same each time) costs in Redis
 * commands: the least of COST_TRIES runs, because the store's own timers (its clock refresh,
 * its policy and epoch re-checks) may land inside one run's window, never inside all of them.
 */
async function costOf(work: () => Promise<unknown>): Promise<{ total: number; auctionReads: number; scriptCalls: number }> {
  let least: { total: number; auctionReads: number; scriptCalls: number } | null = null;
  for (let i = 0; i < COST_TRIES; i++) {
    await admin.config("RESETSTAT");
    await work();
    const counts = await commandCounts();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const cost = { total, auctionReads: (counts.get("hgetall") ?? 0) + (counts.get("hmget") ?? 0), scriptCalls: counts.get("evalsha") ?? 0 };
    if (least === null || cost.total < least.total) least = cost;
  }
  return least!;
}

test("one page of each phase costs about a page, whatever lies around it", async () => {
  const cases: [Phase | null, number, number[]][] = [
    [Phase.CLOSED, 0, [OPEN + 1, OPEN + PAGE]],
    [Phase.CLOSED, OPEN + CLOSED - 50, [OPEN + CLOSED - 49, OPEN + CLOSED + 1]],
    [Phase.OPEN, 0, [1, PAGE]],
    [Phase.OPEN, OPEN - 50, [OPEN - 49, OPEN]],
    [null, OPEN - 50, [OPEN - 49, OPEN + 50]],
  ];
  for (const [phase, after, [first, last]] of cases) {
    let page: { id: number }[] = [];
    const cost = await costOf(async () => (page = await store.listAuctions(phase, after, PAGE)));
    expect([page[0]?.id, page.at(-1)?.id]).toEqual([first, last]);
    expect(page.length).toBe(last! - first! + 1);
    // An open page reads a tenth more (the :live sets hold scheduled auctions too).
    const reads = phase === Phase.OPEN ? Math.ceil(PAGE * (1 + OPEN_READ_EXTRA)) : PAGE + 1;
    expect(cost.auctionReads).toBeLessThanOrEqual(reads);
    expect(cost.total).toBeLessThanOrEqual(reads + ID_READS_PER_PAGE);
  }
});

test("a scheduled page reads about a page, not the open auctions it shares the live ids with", async () => {
  await createScheduled();
  const last = FIRST_SCHEDULED + SCHEDULED - 1;
  const cases: [number, number[]][] = [
    [0, [FIRST_SCHEDULED, FIRST_SCHEDULED + PAGE - 1]],
    [FIRST_SCHEDULED + PAGE - 1, [FIRST_SCHEDULED + PAGE, last]],
  ];
  for (const [after, [first, end]] of cases) {
    let page: { id: number }[] = [];
    const cost = await costOf(async () => (page = await store.listAuctions(Phase.SCHEDULED, after, PAGE)));
    expect([page[0]?.id, page.at(-1)?.id]).toEqual([first, end]);
    expect(page.length).toBe(end! - first! + 1);
    // The page's auctions and one read of each group's scheduled ids (116 commands for the
    // first page), none of the open ones (a walk of the live ids read all 2,000: 2,133).
    expect(cost.auctionReads).toBe(page.length);
    expect(cost.total).toBeLessThanOrEqual(page.length + ID_READS_PER_PAGE);
  }
  // An open page still finds the open auctions among the scheduled ones.
  expect((await store.listAuctions(Phase.OPEN, OPEN - 1, PAGE)).map((a) => a.id)).toEqual([OPEN]);
});

test("a page whose ids sit in one group reads its auctions in one round trip, not one per id read", async () => {
  // Every id in group 0, above all the others: the first id read (a group's share of the page
  // from each group) finds too few to fill the page.
  const ids = Array.from({ length: PAGE + 20 }, (_, i) => ONE_GROUP_FIRST + i * SHARDS);
  const now = store.now();
  await Promise.all(
    ids.map((id) =>
      store.createAuction({
        id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0,
        startsAt: now + HOUR, endsAt: now + 3 * HOUR, antiSnipeMs: 0, maxEndsAt: 0,
      }),
    ),
  );
  try {
    let page: { id: number }[] = [];
    const cost = await costOf(async () => (page = await store.listAuctions(Phase.SCHEDULED, ONE_GROUP_FIRST - 1, PAGE)));
    expect(page.map((a) => a.id)).toEqual(ids.slice(0, PAGE));
    // Two id reads (a group's share, then a page from each group), then the page's auctions
    // in one call; reading the auctions after each id read took four.
    expect(cost.scriptCalls).toBe(3);
    expect(cost.auctionReads).toBe(PAGE);
  } finally {
    for (const id of ids) expect((await store.cancel(id)).cancelled).toBe(true);
  }
});

/** Bytes Redis sent to its clients (INFO stats) while `work` ran: the least of COST_TRIES runs. */
async function bytesSentDuring(work: () => Promise<unknown>): Promise<number> {
  const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await admin.info("stats"))![1]);
  let least = Infinity;
  for (let i = 0; i < COST_TRIES; i++) {
    const before = await sent();
    await work();
    // This INFO's own reply is counted after its figure is taken, as the first one's is before.
    least = Math.min(least, (await sent()) - before);
  }
  return least;
}

test("a scheduled page reads the same whether a few or many auctions are scheduled after it", async () => {
  await createScheduled(); // taken ids stay as they are
  const pageBytes = () => bytesSentDuring(() => store.listAuctions(Phase.SCHEDULED, FIRST_SCHEDULED - 1, PAGE));
  const few = await pageBytes();
  // Many more scheduled ids past the page (ids only, as a big catalogue's look to the id reads:
  // the page never reaches them). A read of every scheduled id would send each (~6 bytes).
  const MANY = 20_000;
  const startsAt = store.now() + 2 * HOUR;
  for (let group = 0; group < SHARDS; group++) {
    const ids = Array.from({ length: MANY / SHARDS }, (_, i) => 100_000 + i * SHARDS + group);
    await admin.zadd(store.keys.scheduled(group), ...ids.flatMap((id) => [id, id]));
    await admin.zadd(store.keys.starts(group), ...ids.flatMap((id) => [startsAt, id]));
  }
  try {
    const many = await pageBytes();
    expect(many).toBeLessThan(few * 1.2);
    expect(few).toBeGreaterThan(PAGE * 100); // the page itself: a hundred auctions' fields
  } finally {
    for (let group = 0; group < SHARDS; group++) {
      await admin.zremrangebyscore(store.keys.scheduled(group), 100_000, "+inf");
      await admin.zremrangebyscore(store.keys.starts(group), startsAt, startsAt);
    }
  }
});

test("a closer with nothing due reads no auction, and each group at most once a recheck interval", async () => {
  expect((await store.closeDue(64)).map((c) => c.id)).toEqual([OPEN + CLOSED + 1]);
  // Every group was just read, and nothing ends within the next interval: a tick reads nothing.
  expect((await costOf(() => store.closeDue(64))).total).toBe(0);
  // Once the interval passed, each group's closing step reads its due ids (one ZRANGEBYSCORE on
  // its ends set) and, with none due, calls no close.lua.
  let least: Map<string, number> | null = null;
  for (let i = 0; i < COST_TRIES; i++) {
    await Bun.sleep(GROUP_RECHECK_MS + 50);
    await admin.config("RESETSTAT");
    expect(await store.closeDue(64)).toEqual([]);
    const counts = await commandCounts();
    if (least === null || [...counts.values()].reduce((a, b) => a + b, 0) < [...least.values()].reduce((a, b) => a + b, 0)) least = counts;
  }
  expect(Object.fromEntries(least!)).toEqual({ zrangebyscore: SHARDS });
});

test("an auction created on this node is closed on the next tick after its end, not a recheck interval later", async () => {
  const endsAt = store.now() + 200;
  const id = OPEN + CLOSED + 2;
  await store.createAuction({ id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: endsAt - HOUR, endsAt, antiSnipeMs: 0, maxEndsAt: 0 });
  expect(await store.closeDue(64)).toEqual([]);
  while (store.now() <= endsAt) await Bun.sleep(10);
  expect((await store.closeDue(64)).map((c) => c.id)).toEqual([id]);
});

test("a retention pass with nothing due reads no auction: one read per group", async () => {
  const client = new Redis(redis.url);
  const script = await Bun.file(new URL("../../lua/retire.lua", import.meta.url)).text();
  const retention = RedisRetention.start(client, { keys: store.keys, retentionMs: 24 * HOUR, now: () => store.now(), log: () => {}, script })!;
  try {
    // The first passes walk the closed ids once (the backfill of auctions closed before the
    // retire set existed; here they are all in it already); after that a pass reads what is due.
    const walkPasses = Math.ceil(CLOSED / SHARDS / REDIS_RETENTION_BACKFILL_STEP) + 2;
    for (let i = 0; i < walkPasses && (await costOf(() => retention.pass())).total > SHARDS; i++);
    const cost = await costOf(() => retention.pass());
    expect(cost.auctionReads).toBe(0);
    expect(cost.total).toBe(SHARDS);
  } finally {
    retention.stop();
    client.disconnect();
  }
});
