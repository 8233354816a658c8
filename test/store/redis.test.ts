// RedisStore and its scripts against a real redis-server: the bid rule status by status, batches
// across shard groups, history, UPDATE publishing, exact big amounts, closing (three nodes
// racing), cancel, listing by phase, the update feed and its resync, and a Redis that dies,
// hangs and comes back.

import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { AuctionTable } from "../../src/store/memory.ts";
import { encodeClosed, encodeUpdate } from "../../src/protocol/codec.ts";
import {
  FrameType,
  HEADER_SIZE,
  MAX_AMOUNT,
  PayloadLength,
  Phase,
  Status,
  UPDATE_FRAME_SIZE,
} from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import {
  AUCTION_INDEX_KEY,
  FEED_CONNECTION_NAME,
  RedisStore,
  shardGroup,
  type RedisKeys,
} from "../../src/store/redis.ts";
import type { ClosedAuction } from "../../src/store/store.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { seededRandom } from "../support/random.ts";

allowSlowTests();

const MINUTE = 60_000;
/** How long a dead or hung Redis may keep a batch waiting before it must have failed. */
const FAIL_WITHIN_MS = 3_000;
/** store.now() is Redis TIME through a measured offset, good to a millisecond or two. */
const CLOCK_SLACK_MS = 5;

type Bid = [auction: number, user: number, amount: number];

function batchOf(bids: Bid[]): BidBatch {
  const batch = new BidBatch(Math.max(1, bids.length));
  batch.count = bids.length;
  bids.forEach(([auction, user, amount], i) => {
    batch.auction[i] = auction;
    batch.user[i] = user;
    batch.amount[i] = amount;
  });
  return batch;
}

interface Outcome {
  status: number;
  amount: number;
  leader: number;
  seq: number;
  endsAt: number;
}

function outcome(batch: BidBatch, i: number): Outcome {
  return {
    status: batch.status[i]!,
    amount: batch.resultAmount[i]!,
    leader: batch.resultLeader[i]!,
    seq: batch.seq[i]!,
    endsAt: batch.endsAt[i]!,
  };
}

async function bid(store: RedisStore, auction: number, user: number, amount: number): Promise<Outcome> {
  const batch = batchOf([[auction, user, amount]]);
  await store.applyBids(batch);
  return outcome(batch, 0);
}

/** An auction open for a minute around the store's clock, no reserve, buy-now or anti-snipe. */
function openSpec(store: RedisStore, id: number, overrides: Partial<AuctionSpec> = {}): AuctionSpec {
  const now = store.now();
  return {
    id,
    title: `lot ${id}`,
    startingPrice: 100,
    minIncrement: 10,
    reserve: 0,
    buyNowPrice: 0,
    startsAt: now - MINUTE,
    endsAt: now + MINUTE,
    antiSnipeMs: 0,
    maxEndsAt: 0,
    ...overrides,
  };
}

async function create(store: RedisStore, spec: AuctionSpec): Promise<number> {
  const result = await store.createAuction(spec);
  if (!result.created) throw new Error(`auction ${spec.id} exists`);
  return result.auction.id;
}

const CLOSED_FRAME_SIZE = HEADER_SIZE + PayloadLength.CLOSED;

/** Makes an open auction due for the closer: ends_at (hash and ends set) 1 ms in the past. */
async function endNow(raw: Redis, store: RedisStore, id: number): Promise<void> {
  const endsAt = store.now() - 1;
  await raw.hset(store.keys.auction(id), "en", String(endsAt));
  await raw.zadd(store.keys.ends(shardGroup(id, store.shards)), endsAt, String(id));
}

/** The CLOSED frame bytes the closer must publish for `closed`. */
function closedFrame({ id, seq, winner, amount }: ClosedAuction): Uint8Array {
  const bytes = new Uint8Array(CLOSED_FRAME_SIZE);
  encodeClosed(bytes, 0, id, seq, winner, amount);
  return bytes;
}

/** Splits a published message into its frames (copies: the feed's buffer is only lent). */
function framesOf(message: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let at = 0; at < message.length; ) {
    const end = at + HEADER_SIZE + message[at + 1]!;
    frames.push(message.slice(at, end));
    at = end;
  }
  return frames;
}

/** A plain subscriber to every group's channel, collecting the frames published. */
async function listen(url: string, keys: RedisKeys): Promise<{ frames: Uint8Array[]; stop(): void }> {
  const subscriber = new Redis(url);
  const frames: Uint8Array[] = [];
  subscriber.on("messageBuffer", (_channel: Buffer, payload: Buffer) => {
    frames.push(...framesOf(payload));
  });
  await subscriber.subscribe(...Array.from({ length: keys.shards }, (_, g) => keys.channel(g)));
  return { frames, stop: () => subscriber.disconnect() };
}

/** Resolves with how long `promise` took to reject; fails the test if it resolves. */
async function rejectionTime(promise: Promise<unknown>): Promise<number> {
  const started = performance.now();
  let rejected = false;
  try {
    await promise;
  } catch {
    rejected = true;
  }
  expect(rejected).toBe(true);
  return performance.now() - started;
}


/** The fields create.lua packs into `fx` for bid.lua, in order (each u64). */
const FIXED_FIELDS = ["sp", "mi", "rs", "bn", "st", "as", "mx"] as const;

/** Changes one of the never-changing fields behind the store's back, in both places it lives. */
async function setFixedField(raw: Redis, key: string, field: (typeof FIXED_FIELDS)[number], value: number): Promise<void> {
  const values = (await raw.hmget(key, ...FIXED_FIELDS)).map(Number);
  values[FIXED_FIELDS.indexOf(field)] = value;
  const packed = Buffer.alloc(8 * FIXED_FIELDS.length);
  values.forEach((v, i) => packed.writeBigUInt64BE(BigInt(v), 8 * i));
  await raw.hset(key, field, String(value), "fx", packed);
}

describe("RedisStore", () => {
  let redis: RedisHandle;
  let store: RedisStore;
  let raw: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
  });

  afterAll(async () => {
    raw.disconnect();
    await store.close();
    await redis.stop();
  });

  beforeEach(async () => {
    await raw.flushall();
    // To a store that saw the data, a flush is lost acknowledged data (it would refuse the next
    // call and reset its subscribers): each test starts its own store on the empty Redis, as a
    // new deployment would.
    await store?.close();
    store = await RedisStore.connect({ url: redis.url });
  });

  describe("createAuction and getAuction", () => {
    test("round-trips every field of an explicit id", async () => {
      const spec = openSpec(store, 7, { title: "Träumerei, 1st ed.", reserve: 500, buyNowPrice: 9_000, antiSnipeMs: 30_000 });
      spec.maxEndsAt = spec.endsAt + MINUTE;
      const result = await store.createAuction(spec);
      expect(result).toEqual({
        created: true,
        auction: { ...spec, seq: 0, amount: 0, leader: 0, top: 0, closed: false, winner: 0 },
      });
      expect(await store.getAuction(7)).toEqual({ ...spec, seq: 0, amount: 0, leader: 0, top: 0, closed: false, winner: 0 });
      expect(Number(await raw.zscore(store.keys.ends(shardGroup(7, store.shards)), "7"))).toBe(spec.endsAt);
    });

    test("an id that exists is refused and left as it was", async () => {
      await create(store, openSpec(store, 5, { title: "first" }));
      expect(await store.createAuction(openSpec(store, 5, { title: "second" }))).toEqual({ created: false, reason: "exists" });
      expect((await store.getAuction(5))!.title).toBe("first");
    });

    test("id 0 takes fresh ids from the shared counter, skipping taken ones", async () => {
      expect(await create(store, openSpec(store, 0))).toBe(1);
      await create(store, openSpec(store, 2));
      expect(await create(store, openSpec(store, 0))).toBe(3);
      expect(await create(store, openSpec(store, 0))).toBe(4);
      expect((await store.getAuction(3))!.id).toBe(3);
    });

    test("two stores on one Redis never hand out the same id", async () => {
      const other = await RedisStore.connect({ url: redis.url });
      try {
        const ids = await Promise.all(
          Array.from({ length: 20 }, (_, k) => create(k % 2 === 0 ? store : other, openSpec(store, 0))),
        );
        expect(new Set(ids).size).toBe(20);
      } finally {
        await other.close();
      }
    });

    test("an unknown auction is null", async () => {
      expect(await store.getAuction(424242)).toBeNull();
    });

    test("a history left under a reused id does not block the new auction", async () => {
      await create(store, openSpec(store, 9));
      await bid(store, 9, 1, 100);
      await bid(store, 9, 2, 110);
      await raw.del(store.keys.auction(9));
      await create(store, openSpec(store, 9));
      expect(await bid(store, 9, 3, 100)).toMatchObject({ status: Status.ACCEPTED, seq: 1 });
      expect((await store.history(9, 0, 100)).map((h) => h.user)).toEqual([3]);
    });
  });

  describe("the bid rule, status by status", () => {
    test("UNKNOWN: no such auction, nothing reported", async () => {
      expect(await bid(store, 99, 1, 500)).toMatchObject({ status: Status.UNKNOWN, amount: 0, leader: 0 });
      expect(await raw.exists(store.keys.auction(99))).toBe(0);
    });

    test("NOT_STARTED before starts_at", async () => {
      const now = store.now();
      await create(store, openSpec(store, 1, { startsAt: now + MINUTE, endsAt: now + 2 * MINUTE }));
      expect(await bid(store, 1, 1, 500)).toMatchObject({ status: Status.NOT_STARTED, amount: 0, leader: 0, seq: 0 });
    });

    test("CLOSED at or after ends_at, and when the closed flag is set", async () => {
      const now = store.now();
      await create(store, openSpec(store, 1, { endsAt: now - 1 }));
      expect(await bid(store, 1, 1, 500)).toMatchObject({ status: Status.CLOSED, seq: 0 });

      await create(store, openSpec(store, 2));
      expect((await bid(store, 2, 1, 500)).status).toBe(Status.ACCEPTED);
      await raw.hset(store.keys.auction(2), "cl", "1");
      expect(await bid(store, 2, 2, 900)).toMatchObject({ status: Status.CLOSED, amount: 500, leader: 1, seq: 1 });
    });

    test("NOT_STARTED wins over CLOSED, as in the rule's order", async () => {
      const now = store.now();
      await create(store, openSpec(store, 1, { startsAt: now + MINUTE, endsAt: now + 2 * MINUTE }));
      await raw.hset(store.keys.auction(1), "cl", "1");
      expect((await bid(store, 1, 1, 500)).status).toBe(Status.NOT_STARTED);
    });

    test("OUTBID: a first bid below the starting price", async () => {
      await create(store, openSpec(store, 1, { startingPrice: 1_000 }));
      expect(await bid(store, 1, 1, 999)).toMatchObject({ status: Status.OUTBID, amount: 0, leader: 0, seq: 0 });
      expect(await bid(store, 1, 1, 1_000)).toMatchObject({ status: Status.ACCEPTED, amount: 1_000, leader: 1, seq: 1 });
    });

    test("OUTBID: a later bid below current + min increment reports the standing leader", async () => {
      await create(store, openSpec(store, 1));
      await bid(store, 1, 1, 200);
      expect(await bid(store, 1, 2, 209)).toMatchObject({ status: Status.OUTBID, amount: 200, leader: 1, seq: 1 });
      expect(await bid(store, 1, 2, 210)).toMatchObject({ status: Status.ACCEPTED, amount: 210, leader: 2, seq: 2 });
    });

    test("ACCEPTED moves amount, leader and seq, and stores them", async () => {
      const spec = openSpec(store, 1);
      await create(store, spec);
      expect(await bid(store, 1, 8, 150)).toEqual({ status: Status.ACCEPTED, amount: 150, leader: 8, seq: 1, endsAt: spec.endsAt });
      expect(await store.getAuction(1)).toMatchObject({ amount: 150, leader: 8, seq: 1, endsAt: spec.endsAt });
    });

    test("anti-snipe extends on accepted bids only, and never past max_ends_at", async () => {
      const key = store.keys.auction(1);
      const ends = store.keys.ends(shardGroup(1, store.shards));
      const now = store.now();
      const spec = openSpec(store, 1, { endsAt: now + 2_000, antiSnipeMs: 20_000, maxEndsAt: now + 40_000 });
      await create(store, spec);

      expect(await bid(store, 1, 1, 50)).toMatchObject({ status: Status.OUTBID, endsAt: spec.endsAt });
      const first = await bid(store, 1, 1, 100);
      expect(first.status).toBe(Status.ACCEPTED);
      expect(first.endsAt).toBeGreaterThanOrEqual(now + 20_000 - CLOCK_SLACK_MS);
      expect(first.endsAt).toBeLessThanOrEqual(store.now() + 20_000 + CLOCK_SLACK_MS);
      expect(Number(await raw.zscore(ends, "1"))).toBe(first.endsAt);

      // With 15 s left an OUTBID still does not extend.
      await raw.hset(key, "en", String(store.now() + 15_000));
      const shortened = Number(await raw.hget(key, "en"));
      expect(await bid(store, 1, 2, 105)).toMatchObject({ status: Status.OUTBID, endsAt: shortened });

      // Time has passed (as far as the hash knows): the cap is 17 s away, an extension 20 s.
      const cap = store.now() + 17_000;
      await setFixedField(raw, key, "mx", cap);
      expect(await bid(store, 1, 2, 120)).toMatchObject({ status: Status.ACCEPTED, endsAt: cap });
      expect(await bid(store, 1, 3, 130)).toMatchObject({ status: Status.ACCEPTED, endsAt: cap });
      expect((await store.getAuction(1))!.endsAt).toBe(cap);
      expect(Number(await raw.zscore(ends, "1"))).toBe(cap);
    });

    test("anti-snipe without a cap extends to now + anti_snipe_ms", async () => {
      const now = store.now();
      await create(store, openSpec(store, 1, { endsAt: now + 1_000, antiSnipeMs: 10_000 }));
      const result = await bid(store, 1, 1, 100);
      expect(result.endsAt).toBeGreaterThanOrEqual(now + 10_000 - CLOCK_SLACK_MS);
      expect(result.endsAt).toBeLessThanOrEqual(store.now() + 10_000 + CLOCK_SLACK_MS);
    });

    test("buy-now wins at exactly the buy-now price and ends the auction", async () => {
      await create(store, openSpec(store, 1, { buyNowPrice: 5_000 }));
      const before = store.now();
      const result = await bid(store, 1, 4, 7_000);
      expect(result).toMatchObject({ status: Status.ACCEPTED, amount: 5_000, leader: 4, seq: 1 });
      expect(result.endsAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
      expect(result.endsAt).toBeLessThanOrEqual(store.now() + CLOCK_SLACK_MS);
      expect(await bid(store, 1, 5, 9_000)).toMatchObject({ status: Status.CLOSED, amount: 5_000, leader: 4 });
      expect(Number(await raw.zscore(store.keys.ends(shardGroup(1, store.shards)), "1"))).toBe(result.endsAt);
    });

    test("buy-now stays open until a bid meets the reserve, and is gone after", async () => {
      await create(store, openSpec(store, 1, { reserve: 1_000, buyNowPrice: 5_000 }));
      await bid(store, 1, 1, 500); // below the reserve: buy-now still open
      expect(await bid(store, 1, 2, 5_000)).toMatchObject({ status: Status.ACCEPTED, amount: 5_000, leader: 2 });

      await create(store, openSpec(store, 2, { reserve: 1_000, buyNowPrice: 5_000 }));
      await bid(store, 2, 1, 1_000); // meets the reserve: buy-now closed, an ordinary bid follows
      expect(await bid(store, 2, 2, 6_000)).toMatchObject({ status: Status.ACCEPTED, amount: 6_000, leader: 2, seq: 2 });
    });

    test("without a reserve, buy-now is gone after the first bid", async () => {
      await create(store, openSpec(store, 1, { buyNowPrice: 5_000 }));
      await bid(store, 1, 1, 200);
      expect(await bid(store, 1, 2, 8_000)).toMatchObject({ status: Status.ACCEPTED, amount: 8_000, leader: 2 });
    });
  });

  describe("batches", () => {
    test("many bids on one auction apply in order, each seeing the ones before", async () => {
      await create(store, openSpec(store, 1));
      const bids: Bid[] = [];
      for (let k = 0; k < 100; k++) bids.push([1, 1 + (k % 3), 100 + k * 10]); // every one accepted
      bids.push([1, 9, 500], [1, 9, 1_100]); // stale, then one more
      const batch = batchOf(bids);
      await store.applyBids(batch);
      for (let k = 0; k < 100; k++) {
        expect(outcome(batch, k)).toMatchObject({ status: Status.ACCEPTED, amount: 100 + k * 10, seq: k + 1 });
      }
      expect(outcome(batch, 100)).toMatchObject({ status: Status.OUTBID, amount: 1_090, leader: 1, seq: 100 });
      expect(outcome(batch, 101)).toMatchObject({ status: Status.ACCEPTED, amount: 1_100, leader: 9, seq: 101 });
      expect(await store.getAuction(1)).toMatchObject({ amount: 1_100, leader: 9, seq: 101 });
    });

    test("bids spread over every shard group come back to their own slots", async () => {
      const ids = Array.from({ length: 3 * store.shards + 5 }, (_, k) => k + 1);
      for (const id of ids) await create(store, openSpec(store, id, { startingPrice: id }));
      // Interleaved: each auction gets a too-low bid, a first bid, and a raise, in that order.
      const bids: Bid[] = [];
      for (const id of ids) bids.push([id, 1, id - 1]);
      for (const id of ids) bids.push([id, 2, id * 100]);
      bids.push([1_000_000, 3, 50]); // unknown, in a group of its own
      for (const id of ids) bids.push([id, 3, id * 100 + 10]);
      const batch = batchOf(bids);
      await store.applyBids(batch);

      const n = ids.length;
      ids.forEach((id, k) => {
        expect(outcome(batch, k)).toMatchObject({ status: Status.OUTBID, amount: 0, leader: 0 });
        expect(outcome(batch, n + k)).toMatchObject({ status: Status.ACCEPTED, amount: id * 100, leader: 2, seq: 1 });
        expect(outcome(batch, 2 * n + 1 + k)).toMatchObject({ status: Status.ACCEPTED, amount: id * 100 + 10, leader: 3, seq: 2 });
      });
      expect(outcome(batch, 2 * n)).toMatchObject({ status: Status.UNKNOWN, amount: 0, leader: 0 });
      expect(await raw.exists(store.keys.auction(3))).toBe(1);
    });

    test("an empty batch resolves without asking Redis", async () => {
      await store.applyBids(new BidBatch(4));
    });

    test("the same outcomes as the reference rule on a random mix", async () => {
      const table = new AuctionTable();
      const random = seededRandom(42);
      for (let id = 1; id <= 24; id++) {
        const buyNow = random() < 0.4 ? 2_000 + Math.floor(random() * 3_000) : 0;
        const spec = openSpec(store, id, {
          startingPrice: 50 + Math.floor(random() * 200),
          minIncrement: 1 + Math.floor(random() * 50),
          reserve: random() < 0.5 ? Math.floor(random() * 3_000) : 0,
          buyNowPrice: buyNow,
        });
        if (random() < 0.1) spec.startsAt = spec.endsAt - 1_000; // not started yet
        await create(store, spec);
        table.insert(spec);
      }
      for (let round = 0; round < 20; round++) {
        const bids: Bid[] = [];
        for (let k = 0; k < 64; k++) {
          bids.push([1 + Math.floor(random() * 26), 1 + Math.floor(random() * 5), 1 + Math.floor(random() * 6_000)]);
        }
        const got = batchOf(bids);
        const want = batchOf(bids);
        await store.applyBids(got);
        const now = store.now();
        for (let i = 0; i < want.count; i++) table.applyOne(want, i, now);
        for (let i = 0; i < want.count; i++) {
          const { endsAt: _g, ...g } = outcome(got, i);
          const { endsAt: _w, ...w } = outcome(want, i);
          expect(g).toEqual(w);
        }
      }
    });
  });

  describe("history and updates", () => {
    test("the history stream holds exactly the accepted bids, with seq as the entry id", async () => {
      const spec = openSpec(store, 1);
      await create(store, spec);
      const batch = batchOf([
        [1, 1, 50],
        [1, 1, 100],
        [1, 2, 105],
        [1, 2, 110],
        [2, 2, 110],
        [1, 3, 200],
      ]);
      const before = store.now();
      await store.applyBids(batch);
      const history = await store.history(1, 0, 100);
      expect(history.map(({ seq, amount, user, endsAt }) => ({ seq, amount, user, endsAt }))).toEqual([
        { seq: 1, amount: 100, user: 1, endsAt: spec.endsAt },
        { seq: 2, amount: 110, user: 2, endsAt: spec.endsAt },
        { seq: 3, amount: 200, user: 3, endsAt: spec.endsAt },
      ]);
      for (const h of history) {
        expect(h.at).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect(h.at).toBeLessThanOrEqual(store.now() + CLOCK_SLACK_MS);
      }
      expect((await store.history(1, 2, 100)).map((h) => h.seq)).toEqual([3]);
      expect(await store.history(1, 3, 100)).toEqual([]);
      expect((await store.history(1, 0, 2)).map((h) => h.seq)).toEqual([1, 2]);
      expect((await raw.xrange(store.keys.history(1), "-", "+")).map(([id]) => id)).toEqual(["0-1", "0-2", "0-3"]);
    });

    test("each call publishes its accepted bids' UPDATE frames in one message, and nothing else", async () => {
      const now = store.now();
      const groupOf = (id: number) => shardGroup(id, store.shards);
      // 1 and 17 share a group (with 16 shards); 2 is in another.
      await create(store, openSpec(store, 1));
      await create(store, openSpec(store, 17, { buyNowPrice: 1_000 }));
      await create(store, openSpec(store, 2, { endsAt: now + 1_000, antiSnipeMs: 5_000 }));
      expect(groupOf(17)).toBe(groupOf(1));

      const subscriber = new Redis(redis.url);
      const messages: { channel: string; payload: Buffer }[] = [];
      subscriber.on("messageBuffer", (channel: Buffer, payload: Buffer) => {
        messages.push({ channel: channel.toString(), payload });
      });
      await subscriber.subscribe(store.keys.channel(groupOf(1)), store.keys.channel(groupOf(2)));
      try {
        await store.applyBids(batchOf([[1, 1, 10], [2, 1, 10]])); // nothing accepted: no message
        const batch = batchOf([
          [1, 5, 100],
          [2, 6, MAX_AMOUNT],
          [17, 7, 3_000],
          [1, 8, 105],
          [1, 9, 110],
        ]);
        await store.applyBids(batch);
        await waitUntil(() => messages.length >= 2);
        await Bun.sleep(50);
        expect(messages.length).toBe(2);

        const expected = (indices: number[]) => {
          const bytes = new Uint8Array(indices.length * UPDATE_FRAME_SIZE);
          indices.forEach((i, k) => {
            encodeUpdate(bytes, k * UPDATE_FRAME_SIZE, batch.auction[i]!, batch.seq[i]!, batch.resultAmount[i]!, batch.resultLeader[i]!, batch.endsAt[i]!);
          });
          return Buffer.from(bytes);
        };
        const byChannel = new Map(messages.map((m) => [m.channel, m.payload]));
        expect(byChannel.get(store.keys.channel(groupOf(1)))).toEqual(expected([0, 2, 4]));
        expect(byChannel.get(store.keys.channel(groupOf(2)))).toEqual(expected([1]));
        expect(batch.resultAmount[2]).toBe(1_000); // the buy-now price
        expect(batch.resultAmount[1]).toBe(MAX_AMOUNT);
      } finally {
        subscriber.disconnect();
      }
    });
  });

  describe("closing", () => {
    test("three stores racing close each due auction exactly once, and publish one CLOSED each", async () => {
      const others = await Promise.all([RedisStore.connect({ url: redis.url }), RedisStore.connect({ url: redis.url })]);
      const stores = [store, ...others];
      const listener = await listen(redis.url, store.keys);
      try {
        const now = store.now();
        const ids = Array.from({ length: 60 }, (_, k) => k + 1);
        // A third (no bids) are due already; the rest get a bid and fall due over the next few
        // hundred ms, while the stores race.
        for (const id of ids) {
          const sold = id % 3 !== 0;
          await create(store, openSpec(store, id, { endsAt: sold ? now + 300 + 3 * id : now - 1 }));
          if (sold) expect((await bid(store, id, id, 100 + id)).status).toBe(Status.ACCEPTED);
        }

        const returned: ClosedAuction[] = [];
        const deadline = Date.now() + 5_000;
        while (returned.length < ids.length && Date.now() < deadline) {
          // A small limit, so that each group needs several rounds.
          const rounds = await Promise.all(stores.map((s) => s.closeDue(2)));
          for (const closed of rounds) returned.push(...closed);
          await Bun.sleep(10);
        }
        // A few more rounds after everything closed must find nothing.
        for (let k = 0; k < 3; k++) {
          for (const closed of await Promise.all(stores.map((s) => s.closeDue(100)))) returned.push(...closed);
        }

        expect(returned.map((c) => c.id).sort((a, b) => a - b)).toEqual(ids);
        for (const c of returned) {
          const sold = c.id % 3 !== 0;
          expect(c).toEqual({ id: c.id, seq: sold ? 1 : 0, winner: sold ? c.id : 0, amount: sold ? 100 + c.id : 0 });
          expect(await store.getAuction(c.id)).toMatchObject({ closed: true, winner: c.winner });
        }
        await waitUntil(() => listener.frames.length >= ids.length);
        await Bun.sleep(50);
        const closedFrames = listener.frames.filter((f) => f[0] === FrameType.CLOSED);
        expect(closedFrames.length).toBe(ids.length);
        const expected = new Map(returned.map((c) => [c.id, closedFrame(c)]));
        for (const frame of closedFrames) {
          const id = new DataView(frame.buffer, frame.byteOffset).getUint32(HEADER_SIZE);
          expect(frame).toEqual(expected.get(id)!);
        }
      } finally {
        listener.stop();
        await Promise.all(others.map((s) => s.close()));
      }
    });

    test("the winner is the leader when the reserve is met, else no sale", async () => {
      await create(store, openSpec(store, 1, { reserve: 500 }));
      await bid(store, 1, 11, 400);
      await bid(store, 1, 12, 500); // exactly the reserve: sold
      await create(store, openSpec(store, 2, { reserve: 500 }));
      await bid(store, 2, 21, 490); // below the reserve
      await create(store, openSpec(store, 3)); // no bids
      await create(store, openSpec(store, 4)); // no reserve
      await bid(store, 4, 41, 100);
      await create(store, openSpec(store, 5, { reserve: MAX_AMOUNT - 1, startingPrice: MAX_AMOUNT - 1 }));
      await bid(store, 5, 51, MAX_AMOUNT); // big amounts survive the reply split
      for (const id of [1, 2, 3, 4, 5]) await endNow(raw, store, id);

      const closed = (await store.closeDue(100)).sort((a, b) => a.id - b.id);
      expect(closed).toEqual([
        { id: 1, seq: 2, winner: 12, amount: 500 },
        { id: 2, seq: 1, winner: 0, amount: 0 },
        { id: 3, seq: 0, winner: 0, amount: 0 },
        { id: 4, seq: 1, winner: 41, amount: 100 },
        { id: 5, seq: 1, winner: 51, amount: MAX_AMOUNT },
      ]);
      expect(await store.getAuction(2)).toMatchObject({ closed: true, winner: 0, amount: 490, leader: 21 });
      expect(await store.getAuction(1)).toMatchObject({ closed: true, winner: 12 });
      expect(await store.closeDue(100)).toEqual([]);
      expect(await raw.zcard(store.keys.ends(shardGroup(1, store.shards)))).toBe(0);
    });

    test("an auction not yet due is left alone, and a stale score is put right", async () => {
      const spec = openSpec(store, 1);
      await create(store, spec);
      await create(store, openSpec(store, 2));
      const ends = store.keys.ends(shardGroup(1, store.shards));
      // The ends set says due, the hash says a minute from now (as if a moved end lost its ZADD).
      await raw.zadd(ends, store.now() - 1_000, "1");
      expect(await store.closeDue(100)).toEqual([]);
      expect(Number(await raw.zscore(ends, "1"))).toBe(spec.endsAt);
      expect(await store.getAuction(1)).toMatchObject({ closed: false });
    });

    test("an auction that ends by time closes at the next closeDue, and bids then get CLOSED", async () => {
      await create(store, openSpec(store, 1, { endsAt: store.now() + 150 }));
      await bid(store, 1, 7, 100);
      expect(await store.closeDue(100)).toEqual([]);
      await Bun.sleep(200);
      expect(await store.closeDue(100)).toEqual([{ id: 1, seq: 1, winner: 7, amount: 100 }]);
      expect(await bid(store, 1, 8, 500)).toMatchObject({ status: Status.CLOSED, amount: 100, leader: 7 });
    });

    test("buy-now closes at the next closeDue, at the buy-now price", async () => {
      await create(store, openSpec(store, 1, { buyNowPrice: 2_000 }));
      await bid(store, 1, 3, 150);
      expect(await store.closeDue(100)).toEqual([]);
      // No reserve and a bid already in: buy-now is gone, so raise a reserve to reopen it.
      await create(store, openSpec(store, 2, { buyNowPrice: 2_000, reserve: 1_000 }));
      await bid(store, 2, 3, 150);
      expect(await bid(store, 2, 4, 2_500)).toMatchObject({ status: Status.ACCEPTED, amount: 2_000, leader: 4, seq: 2 });
      expect(await store.closeDue(100)).toEqual([{ id: 2, seq: 2, winner: 4, amount: 2_000 }]);
      expect(await store.getAuction(2)).toMatchObject({ closed: true, winner: 4 });
      expect((await store.getAuction(1))!.closed).toBe(false);
    });
  });

  describe("cancel", () => {
    test("an open auction closes with no sale and publishes CLOSED with winner 0", async () => {
      await create(store, openSpec(store, 1));
      await bid(store, 1, 5, 100);
      await bid(store, 1, 6, 200);
      const listener = await listen(redis.url, store.keys);
      try {
        const before = store.now();
        const result = await store.cancel(1);
        expect(result).toEqual({ cancelled: true, closed: { id: 1, seq: 2, winner: 0, amount: 0 } });
        await waitUntil(() => listener.frames.length >= 1);
        expect(listener.frames).toEqual([closedFrame({ id: 1, seq: 2, winner: 0, amount: 0 })]);

        const auction = (await store.getAuction(1))!;
        expect(auction).toMatchObject({ closed: true, winner: 0, amount: 200, leader: 6 });
        expect(auction.endsAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect(auction.endsAt).toBeLessThanOrEqual(store.now() + CLOCK_SLACK_MS);
        expect(await bid(store, 1, 7, 900)).toMatchObject({ status: Status.CLOSED, amount: 200, leader: 6 });
        expect(await store.closeDue(100)).toEqual([]); // the closer never announces it again
        expect(await store.cancel(1)).toEqual({ cancelled: false, reason: "closed" });
        await Bun.sleep(50);
        expect(listener.frames.length).toBe(1);
      } finally {
        listener.stop();
      }
    });

    test("a scheduled auction can be cancelled", async () => {
      const now = store.now();
      await create(store, openSpec(store, 1, { startsAt: now + MINUTE, endsAt: now + 2 * MINUTE }));
      expect(await store.cancel(1)).toEqual({ cancelled: true, closed: { id: 1, seq: 0, winner: 0, amount: 0 } });
      expect(await store.getAuction(1)).toMatchObject({ closed: true, winner: 0 });
    });

    test("an unknown auction is unknown", async () => {
      expect(await store.cancel(31337)).toEqual({ cancelled: false, reason: "unknown" });
    });

    test("an auction past ends_at is closed, and the closer still decides its winner", async () => {
      await create(store, openSpec(store, 1));
      await bid(store, 1, 5, 100);
      await endNow(raw, store, 1);
      expect(await store.cancel(1)).toEqual({ cancelled: false, reason: "closed" });
      expect(await store.closeDue(100)).toEqual([{ id: 1, seq: 1, winner: 5, amount: 100 }]);
    });
  });

  describe("listAuctions", () => {
    test("filters by phase in ascending id order, page by page", async () => {
      const now = store.now();
      // 1 open, 2 scheduled, 0 ended, by id % 3; plus a cancelled one among the open.
      const count = 250;
      for (let id = 1; id <= count; id++) {
        const kind = id % 3;
        const overrides =
          kind === 1 ? {} : kind === 2 ? { startsAt: now + MINUTE, endsAt: now + 2 * MINUTE } : { startsAt: now - 2 * MINUTE, endsAt: now - MINUTE };
        await create(store, openSpec(store, id, overrides));
      }
      await store.cancel(100); // 100 % 3 == 1: was open
      await raw.zadd(AUCTION_INDEX_KEY, 1_000, "1000"); // an index entry without an auction

      const idsOf = (phase: Phase | null) =>
        Array.from({ length: count }, (_, k) => k + 1).filter((id) => {
          if (phase === null) return true;
          const kind = id === 100 ? 0 : id % 3;
          return kind === (phase === Phase.OPEN ? 1 : phase === Phase.SCHEDULED ? 2 : 0);
        });

      for (const phase of [Phase.OPEN, Phase.SCHEDULED, Phase.CLOSED, null]) {
        // More than one index page per call (limit 50 of a third), and small pages too.
        for (const limit of [50, 7]) {
          const seen: number[] = [];
          let after = 0;
          for (;;) {
            const page = await store.listAuctions(phase, after, limit);
            expect(page.length).toBeLessThanOrEqual(limit);
            seen.push(...page.map((a) => a.id));
            if (page.length < limit) break;
            after = page[page.length - 1]!.id;
          }
          expect(seen).toEqual(idsOf(phase));
        }
      }
      const [first] = await store.listAuctions(Phase.OPEN, 0, 1);
      expect(first).toEqual((await store.getAuction(1))!);
      expect(await store.listAuctions(Phase.OPEN, 0, 0)).toEqual([]);
      expect(await store.listAuctions(null, count, 10)).toEqual([]);
    });

    test("a scheduled page pages the group's scheduled set by id; cancelled and started auctions leave it", async () => {
      const now = store.now();
      const startsSoon = now + 1_500;
      // 1, 17, 33 and 49 share group 1 (16 groups), so one starts set and one scheduled set hold them all.
      const group = shardGroup(1, store.shards);
      const starts = store.keys.starts(group);
      const scheduled = store.keys.scheduled(group);
      await create(store, openSpec(store, 49, { startsAt: now + MINUTE, endsAt: now + 2 * MINUTE }));
      await create(store, openSpec(store, 1, { startsAt: now + MINUTE + 1, endsAt: now + 2 * MINUTE }));
      await create(store, openSpec(store, 17, { startsAt: startsSoon, endsAt: now + 2 * MINUTE }));
      await create(store, openSpec(store, 33));
      const scheduledIds = async (after = 0, limit = 10) => (await store.listAuctions(Phase.SCHEDULED, after, limit)).map((a) => a.id);
      expect(await scheduledIds()).toEqual([1, 17, 49]);
      expect(await scheduledIds(1, 1)).toEqual([17]);
      expect(await scheduledIds(17, 10)).toEqual([49]);
      // By id in the scheduled set, by starts_at in the starts set; an open auction in neither.
      expect(await raw.zrange(scheduled, "0", "-1")).toEqual(["1", "17", "49"]);
      expect(await raw.zrange(starts, "0", "-1")).toEqual(["17", "49", "1"]);

      expect((await store.cancel(1)).cancelled).toBe(true);
      expect([await raw.zscore(starts, "1"), await raw.zscore(scheduled, "1")]).toEqual([null, null]);

      while (store.now() <= startsSoon) await Bun.sleep(startsSoon - store.now() + 1);
      // Started: not listed, and the page itself dropped it from both sets.
      expect(await scheduledIds()).toEqual([49]);
      expect(await raw.zrange(scheduled, "0", "-1")).toEqual(["49"]);
      expect(await raw.zrange(starts, "0", "-1")).toEqual(["49"]);
      expect((await store.listAuctions(Phase.OPEN, 0, 10)).map((a) => a.id)).toEqual([17, 33]);
      expect((await store.listAuctions(null, 0, 10)).map((a) => a.id)).toEqual([1, 17, 33, 49]);
    });

    test("scheduled auctions stored before the scheduled sets existed are listed at once, and added to the sets by one walk of the live ids", async () => {
      const now = store.now();
      const later = { startsAt: now + MINUTE, endsAt: now + 2 * MINUTE };
      // 2 and 18 share group 2; 5 is of group 5.
      for (const id of [2, 18, 5]) await create(store, openSpec(store, id, later));
      await create(store, openSpec(store, 34));
      const groupOf = (id: number) => shardGroup(id, store.shards);
      // What earlier releases left: 2 only in the starts set, 18 and 5 in neither, and no walk yet.
      await raw.zrem(store.keys.scheduled(groupOf(2)), "2", "18");
      await raw.zrem(store.keys.starts(groupOf(18)), "18");
      await raw.zrem(store.keys.scheduled(groupOf(5)), "5");
      await raw.zrem(store.keys.starts(groupOf(5)), "5");
      const cursors = Array.from({ length: store.shards }, (_, g) => store.keys.scheduledBackfill(g));
      expect(await raw.mget(...cursors)).toEqual(cursors.map(() => "done"));
      await raw.del(...cursors);

      const upgraded = await RedisStore.connect({ url: redis.url });
      try {
        // Listed from the first page on, while the walk may still be under way.
        expect((await upgraded.listAuctions(Phase.SCHEDULED, 0, 10)).map((a) => a.id)).toEqual([2, 5, 18]);
        const deadline = Date.now() + 10_000;
        while ((await raw.mget(...cursors)).some((c) => c !== "done") && Date.now() < deadline) await Bun.sleep(20);
        expect(await raw.mget(...cursors)).toEqual(cursors.map(() => "done"));
        expect(await raw.zrange(store.keys.scheduled(groupOf(2)), "0", "-1")).toEqual(["2", "18"]);
        expect(await raw.zrange(store.keys.scheduled(groupOf(5)), "0", "-1")).toEqual(["5"]);
        for (const id of ["2", "18"]) expect(await raw.zscore(store.keys.starts(groupOf(2)), id)).toBe(String(later.startsAt));
        expect(await raw.zscore(store.keys.starts(groupOf(5)), "5")).toBe(String(later.startsAt));
        expect(await raw.zscore(store.keys.scheduled(groupOf(34)), "34")).toBeNull();
        expect((await upgraded.listAuctions(Phase.SCHEDULED, 0, 10)).map((a) => a.id)).toEqual([2, 5, 18]);
        expect((await upgraded.listAuctions(Phase.OPEN, 0, 10)).map((a) => a.id)).toEqual([34]);
      } finally {
        await upgraded.close();
      }
    });

    test("auctions with generated ids are listed too", async () => {
      const a = await create(store, openSpec(store, 0));
      const b = await create(store, openSpec(store, 0));
      expect((await store.listAuctions(Phase.OPEN, 0, 10)).map((x) => x.id)).toEqual([a, b]);
    });
  });

  describe("history paging", () => {
    test("newest first, page by page, with an exclusive bound", async () => {
      await create(store, openSpec(store, 1, { minIncrement: 1 }));
      for (let k = 1; k <= 25; k++) await bid(store, 1, k, 100 + k);
      const seqs = async (before: number, limit: number) => (await store.historyNewestFirst(1, before, limit)).map((h) => h.seq);

      const range = (from: number, to: number) => Array.from({ length: from - to + 1 }, (_, k) => from - k);
      expect(await seqs(0xffffffff, 10)).toEqual(range(25, 16));
      expect(await seqs(2 ** 53, 10)).toEqual(range(25, 16));
      expect(await seqs(16, 10)).toEqual(range(15, 6));
      expect(await seqs(6, 10)).toEqual(range(5, 1));
      expect(await seqs(1, 10)).toEqual([]);
      expect(await seqs(0, 10)).toEqual([]);
      expect(await seqs(26, 0)).toEqual([]);
      const [top] = await store.historyNewestFirst(1, 0xffffffff, 1);
      expect(top).toMatchObject({ seq: 25, amount: 125, user: 25 });

      expect((await store.history(1, 20, 3)).map((h) => h.seq)).toEqual([21, 22, 23]);
      expect((await store.history(1, 23, 100)).map((h) => h.seq)).toEqual([24, 25]);
      expect(await store.history(1, 0xffffffff, 100)).toEqual([]);
      expect(await store.historyNewestFirst(2, 0xffffffff, 10)).toEqual([]); // no such auction
    });
  });

  test("2^53-1 is exact in the reply, the hash and the history", async () => {
    await create(store, openSpec(store, 1, { startingPrice: MAX_AMOUNT - 20, minIncrement: 1 }));
    // The top few values below 2^53 are the ones a digit-by-digit decoder rounds.
    for (let k = 10; k >= 0; k--) {
      expect(await bid(store, 1, 1 + k, MAX_AMOUNT - k)).toMatchObject({ status: Status.ACCEPTED, amount: MAX_AMOUNT - k, leader: 1 + k });
    }
    expect(await bid(store, 1, 99, MAX_AMOUNT)).toMatchObject({ status: Status.OUTBID, amount: MAX_AMOUNT, leader: 1 });
    expect(await store.getAuction(1)).toMatchObject({ startingPrice: MAX_AMOUNT - 20, amount: MAX_AMOUNT, seq: 11 });
    expect(await raw.hget(store.keys.auction(1), "am")).toBe("9007199254740991");
    expect(await raw.hget(store.keys.auction(1), "sp")).toBe("9007199254740971");
    expect((await store.history(1, 0, 100)).map((h) => h.amount)).toEqual(Array.from({ length: 11 }, (_, k) => MAX_AMOUNT - 10 + k));
    // The packed entry starts with the amount as u64: 0x001fffffffffffff.
    const [, fields] = (await raw.xrangeBuffer(store.keys.history(1), "0-11", "0-11"))[0]!;
    expect(fields[0]!.toString()).toBe("d");
    expect(fields[1]!.subarray(0, 8).toString("hex")).toBe("001fffffffffffff");

    await create(store, openSpec(store, 2, { buyNowPrice: MAX_AMOUNT }));
    expect(await bid(store, 2, 1, MAX_AMOUNT)).toMatchObject({ status: Status.ACCEPTED, amount: MAX_AMOUNT });
    expect(await store.getAuction(2)).toMatchObject({ buyNowPrice: MAX_AMOUNT, amount: MAX_AMOUNT });
  });

  test("an auction stored before proxy bidding (no hidden maximum field) reads with its amount as the maximum", async () => {
    await create(store, openSpec(store, 3));
    expect(await bid(store, 3, 5, 100)).toMatchObject({ status: Status.ACCEPTED, amount: 100 });
    expect(await raw.hdel(store.keys.auction(3), "tp")).toBe(1);
    const expected = { id: 3, amount: 100, leader: 5, seq: 1, top: 100 };
    expect(await store.getAuction(3)).toMatchObject(expected);
    expect(await store.listAuctions(null, 2, 1)).toMatchObject([expected]);
    expect(await store.getAuction(4)).toBeNull();
  });

  test("now() follows Redis TIME", async () => {
    const [seconds, micros] = await raw.time();
    const redisMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    expect(Math.abs(store.now() - redisMs)).toBeLessThan(100);
  });

  test("a flushed script cache is reloaded (EVALSHA, then EVAL on NOSCRIPT)", async () => {
    await create(store, openSpec(store, 1));
    await raw.script("FLUSH");
    expect((await bid(store, 1, 1, 100)).status).toBe(Status.ACCEPTED);
  });
});

describe("RedisStore feed", () => {
  let redis: RedisHandle;
  let raw: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
  });

  afterAll(async () => {
    raw.disconnect();
    await redis.stop();
  });

  beforeEach(async () => {
    await raw.flushall();
  });

  /** A store whose feed is connected and subscribed, collecting every frame it hands out. */
  async function feedStore(): Promise<{ store: RedisStore; frames: Uint8Array[]; resyncs: { count: number } }> {
    const store = await RedisStore.connect({ url: redis.url, log: () => {} });
    const frames: Uint8Array[] = [];
    const resyncs = { count: 0 };
    store.feed.onResync(() => resyncs.count++);
    store.feed.onFrames((message) => frames.push(...framesOf(message)));
    await waitUntil(() => store.feed.live);
    return { store, frames, resyncs };
  }

  test("delivers the UPDATE frames of bids accepted on another node, byte for byte, and CLOSED", async () => {
    const { store, frames, resyncs } = await feedStore();
    const other = await RedisStore.connect({ url: redis.url });
    try {
      await create(other, openSpec(other, 1));
      await create(other, openSpec(other, 2, { buyNowPrice: 5_000 }));
      const batch = batchOf([[1, 1, 100], [2, 2, 9_000], [1, 3, 110], [1, 4, 50]]);
      await other.applyBids(batch);

      const update = (i: number) => {
        const bytes = new Uint8Array(UPDATE_FRAME_SIZE);
        encodeUpdate(bytes, 0, batch.auction[i]!, batch.seq[i]!, batch.resultAmount[i]!, batch.resultLeader[i]!, batch.endsAt[i]!);
        return bytes;
      };
      await waitUntil(() => frames.length >= 3);
      // Groups publish separately, so only the order within an auction is fixed.
      const ofAuction = (id: number) => frames.filter((f) => new DataView(f.buffer, f.byteOffset).getUint32(HEADER_SIZE) === id);
      expect(ofAuction(1)).toEqual([update(0), update(2)]);
      expect(ofAuction(2)).toEqual([update(1)]);

      const closed = await other.closeDue(100); // the buy-now
      expect(closed).toEqual([{ id: 2, seq: 1, winner: 2, amount: 5_000 }]);
      expect(await other.cancel(1)).toEqual({ cancelled: true, closed: { id: 1, seq: 2, winner: 0, amount: 0 } });
      await waitUntil(() => frames.length >= 5);
      expect(ofAuction(2)).toEqual([update(1), closedFrame(closed[0]!)]);
      expect(ofAuction(1)).toEqual([update(0), update(2), closedFrame({ id: 1, seq: 2, winner: 0, amount: 0 })]);
      expect(resyncs.count).toBe(0); // the first connect is no resync
    } finally {
      await other.close();
      await store.close();
    }
  });

  test("after CLIENT KILL TYPE pubsub it resubscribes, calls onResync once, and keeps delivering", async () => {
    const { store, frames, resyncs } = await feedStore();
    try {
      expect(String(await raw.call("CLIENT", "LIST"))).toContain(`name=${FEED_CONNECTION_NAME}`);
      await create(store, openSpec(store, 1));
      await bid(store, 1, 1, 100);
      await waitUntil(() => frames.length >= 1);

      expect(Number(await raw.call("CLIENT", "KILL", "TYPE", "pubsub"))).toBe(1);
      await waitUntil(() => resyncs.count >= 1);
      expect(store.feed.live).toBe(true);

      await bid(store, 1, 2, 200);
      await waitUntil(() => frames.length >= 2);
      expect(new DataView(frames[1]!.buffer, frames[1]!.byteOffset).getUint32(HEADER_SIZE + 4)).toBe(2); // seq 2

      // A second cut is a second resync.
      await raw.call("CLIENT", "KILL", "TYPE", "pubsub");
      await waitUntil(() => resyncs.count >= 2);
      await bid(store, 1, 3, 300);
      await waitUntil(() => frames.length >= 3);
      await Bun.sleep(50);
      expect(resyncs.count).toBe(2);
      expect(frames.length).toBe(3);
    } finally {
      await store.close();
    }
  });

  test("resubscribes after Redis restarts, and close() ends the feed connection", async () => {
    const own = await startRedis();
    const store = await RedisStore.connect({ url: own.url, log: () => {} });
    const frames: Uint8Array[] = [];
    let resyncs = 0;
    store.feed.onResync(() => resyncs++);
    store.feed.onFrames((message) => frames.push(...framesOf(message)));
    try {
      await waitUntil(() => store.feed.live);
      await own.kill();
      await own.restart();
      await waitUntil(() => resyncs === 1);
      await waitUntil(async () => (await store.createAuction(openSpec(store, 1)).catch(() => null)) !== null);
      await bid(store, 1, 1, 100);
      await waitUntil(() => frames.length === 1);

      await store.close();
      const plain = new Redis(own.url);
      await waitUntil(async () => !String(await plain.call("CLIENT", "LIST")).includes(`name=${FEED_CONNECTION_NAME}`));
      plain.disconnect();
    } finally {
      await store.close();
      await own.stop();
    }
  });
});

describe("RedisStore when Redis fails", () => {
  test("killed: bids reject at once, in flight or new, and work again after a restart", async () => {
    const redis = await startRedis();
    // A long command timeout, so a quick rejection must come from noticing the dead connection.
    const store = await RedisStore.connect({ url: redis.url, commandTimeoutMs: 30_000, log: () => {} });
    try {
      await create(store, openSpec(store, 1));
      expect((await bid(store, 1, 1, 100)).status).toBe(Status.ACCEPTED);

      // In flight: the server is frozen while the call is on the wire, then dies.
      redis.pause();
      const inFlight = rejectionTime(store.applyBids(batchOf([[1, 2, 200]])));
      await Bun.sleep(50);
      await redis.kill();
      expect(await inFlight).toBeLessThan(FAIL_WITHIN_MS);

      // New bids while it is down.
      expect(await rejectionTime(store.applyBids(batchOf([[1, 2, 300]])))).toBeLessThan(FAIL_WITHIN_MS);
      expect(await rejectionTime(store.getAuction(1))).toBeLessThan(FAIL_WITHIN_MS);
      expect(await rejectionTime(store.closeDue(10))).toBeLessThan(FAIL_WITHIN_MS);

      await redis.restart();
      // No persistence: the restarted server is empty. The scripts load again by themselves;
      // bids are refused until the store has read the epochs and handled the loss, then the
      // auction is unknown.
      await waitUntil(async () => {
        try {
          return (await bid(store, 1, 1, 100)).status === Status.UNKNOWN;
        } catch {
          return false;
        }
      });
      await create(store, openSpec(store, 1));
      expect((await bid(store, 1, 1, 100)).status).toBe(Status.ACCEPTED);
    } finally {
      await store.close();
      await redis.stop();
    }
  });

  test("hung: a bid fails after the command timeout, and the store recovers", async () => {
    const redis = await startRedis();
    const store = await RedisStore.connect({ url: redis.url, commandTimeoutMs: 500, log: () => {} });
    try {
      await create(store, openSpec(store, 1));
      redis.pause();
      const took = await rejectionTime(store.applyBids(batchOf([[1, 1, 100]])));
      expect(took).toBeGreaterThanOrEqual(400);
      expect(took).toBeLessThan(FAIL_WITHIN_MS);
      redis.resume();
      // The late reply is drained in order; the next bid sees the first one, which Redis did apply.
      expect(await bid(store, 1, 2, 100)).toMatchObject({ status: Status.OUTBID, amount: 100, leader: 1 });
    } finally {
      redis.resume();
      await store.close();
      await redis.stop();
    }
  });

  test("with appendfsync always, accepted bids survive a kill", async () => {
    const redis = await startRedis({ appendonly: true });
    const store = await RedisStore.connect({ url: redis.url, log: () => {} });
    try {
      await create(store, openSpec(store, 1));
      await store.applyBids(batchOf([[1, 1, 100], [1, 2, 150]]));
      await redis.kill();
      await redis.restart();
      await waitUntil(async () => (await store.getAuction(1).catch(() => null)) !== null);
      expect(await store.getAuction(1)).toMatchObject({ amount: 150, leader: 2, seq: 2 });
      expect((await store.history(1, 0, 100)).map((h) => h.amount)).toEqual([100, 150]);
    } finally {
      await store.close();
      await redis.stop();
    }
  });

  test("connect rejects when nothing listens", async () => {
    const redis = await startRedis();
    await redis.stop();
    expect(await rejectionTime(RedisStore.connect({ url: redis.url, log: () => {} }))).toBeLessThan(FAIL_WITHIN_MS);
  });
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
}

