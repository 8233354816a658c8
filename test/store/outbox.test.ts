// The webhook outbox of each store: the same bids, closes and cancels write the same events on
// memory, SQLite and Redis (the Lua scripts held to src/auction/notification.ts); nothing is
// written with webhooks off; the memory outbox is bounded; an older SQLite file gains the table.

import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import type { StoreKind } from "../../src/config.ts";
import { BidKind } from "../../src/auction/bid-rule.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { MemoryOutbox } from "../../src/store/outbox-memory.ts";
import { RedisStore, outboxKey } from "../../src/store/redis.ts";
import { SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { startRedis } from "../support/redis.ts";

const HOUR = 3_600_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(kind: StoreKind, webhooks: boolean): Promise<{ store: Store; dir: string; redisUrl: string }> {
  const dir = mkdtempSync(join(tmpdir(), "gavel-outbox-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  let store: Store;
  let redisUrl = "";
  if (kind === "memory") store = new MemoryStore({ webhooks });
  else if (kind === "sqlite") store = new SqliteStore({ path: join(dir, "gavel.db"), webhooks });
  else {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    redisUrl = redis.url;
    store = await RedisStore.connect({ url: redis.url, shards: 2, webhooks });
  }
  cleanups.push(() => store.close());
  return { store, dir, redisUrl };
}

function spec(id: number, fields: Partial<AuctionSpec> = {}): AuctionSpec {
  const now = Date.now();
  return { id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields };
}

async function apply(store: Store, bids: [auction: number, user: number, amount: number][]): Promise<void> {
  const batch = new BidBatch(bids.length);
  bids.forEach(([auction, user, amount], i) => {
    batch.auction[i] = auction;
    batch.user[i] = user;
    batch.amount[i] = amount;
  });
  batch.count = bids.length;
  await store.applyBids(batch);
}

/** A run touching every event type; returns the events each store wrote, without ids and times. */
async function scenario(store: Store): Promise<string[]> {
  const now = Date.now();
  // 1: outbid back and forth, one user raising their own bid, then closed with a sale.
  await store.createAuction(spec(1, { endsAt: now + 700 }));
  // 2: anti-sniping (every bid lands inside the window): the first moves the end to the cap,
  // the later ones cannot move it further (no `extended`); reserve not met: no sale.
  await store.createAuction(spec(2, { endsAt: now + 700, antiSnipeMs: 10 * HOUR, maxEndsAt: now + 1500, reserve: 10_000 }));
  // 3: cancelled after a bid.
  await store.createAuction(spec(3));
  // 4: no bid at all, then closed.
  await store.createAuction(spec(4, { endsAt: now + 700 }));
  await apply(store, [[1, 7, 100], [1, 8, 110], [1, 8, 130], [1, 7, 140], [2, 7, 100], [2, 9, 200], [3, 5, 100], [1, 7, 90]]);
  await apply(store, [[2, 7, 300]]);
  expect((await store.cancel(3)).cancelled).toBe(true);
  const deadline = Date.now() + 10_000;
  let closed = 0;
  while (closed < 3 && Date.now() < deadline) {
    closed += (await store.closeDue(100)).length;
    await Bun.sleep(50);
  }
  expect(closed).toBe(3);
  // Redis hands out a group's events from the read after the one that took its lease.
  const entries = [...(await store.outbox!.take(1000)), ...(await store.outbox!.take(1000))];
  expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);
  // Per auction in order; auctions may interleave differently (Redis keeps a stream per group).
  return entries
    .map(({ event: e }) => `${e.auction} ${e.seq} ${e.type} user=${e.user} amount=${e.amount} leader=${e.leader} extended=${e.endsAt > 0} ${e.outcome}`)
    .toSorted((a, b) => Number(a.split(" ")[0]) - Number(b.split(" ")[0]));
}

const EXPECTED = [
  "1 2 outbid user=7 amount=110 leader=8 extended=false ",
  "1 4 outbid user=8 amount=140 leader=7 extended=false ",
  "1 4 won user=7 amount=140 leader=0 extended=false ",
  "1 4 closed user=7 amount=140 leader=0 extended=false sold",
  "2 1 extended user=0 amount=0 leader=0 extended=true ",
  "2 2 outbid user=7 amount=200 leader=9 extended=false ",
  "2 3 outbid user=9 amount=300 leader=7 extended=false ",
  "2 3 closed user=0 amount=0 leader=0 extended=false no_sale",
  "3 1 closed user=0 amount=0 leader=0 extended=false cancelled",
  "4 0 closed user=0 amount=0 leader=0 extended=false no_sale",
];

describe("the webhook outbox", () => {
  for (const kind of ["memory", "sqlite", "redis"] as const) {
    test(`${kind}: bids, closes and a cancel write the events of the one rule, in order per auction`, async () => {
      const { store } = await open(kind, true);
      const events = await scenario(store);
      expect(events).toEqual(EXPECTED);
    });
  }

  for (const kind of ["memory", "sqlite", "redis"] as const) {
    test(`${kind}: steps made by maxima write the same events: outbid when the lead changes hands, extended on an OUTBID step`, async () => {
      const { store } = await open(kind, true);
      const now = Date.now();
      await store.createAuction(spec(1, { endsAt: now + HOUR, antiSnipeMs: 2 * HOUR, maxEndsAt: now + 4 * HOUR }));
      // 7 leaves a maximum (step 1, extends the end); 8 bids under it a moment later (an OUTBID
      // step: no outbid event, but it extends again); 9's maximum takes the lead (outbid 7, the
      // same instant: no further extension); 9 raises it (no step, no event).
      const send = async (bids: [number, number, number][]) => {
        const batch = new BidBatch(bids.length);
        bids.forEach(([user, kindOfBid, amount], i) => {
          batch.auction[i] = 1;
          batch.user[i] = user;
          batch.amount[i] = amount;
          batch.kind[i] = kindOfBid;
        });
        batch.count = bids.length;
        await store.applyBids(batch);
      };
      await send([[7, BidKind.MAX, 5000]]);
      await Bun.sleep(20);
      await send([[8, BidKind.BID, 300], [9, BidKind.MAX, 9000], [9, BidKind.MAX, 9500]]);
      const entries = [...(await store.outbox!.take(100)), ...(await store.outbox!.take(100))];
      expect(entries.map(({ event: e }) => `${e.seq} ${e.type} user=${e.user} amount=${e.amount} leader=${e.leader}`)).toEqual([
        "1 extended user=0 amount=0 leader=0",
        "2 extended user=0 amount=0 leader=0",
        "3 outbid user=7 amount=5010 leader=9",
      ]);
    });
  }

  test("webhooks off: no store writes an event", async () => {
    const memory = await open("memory", false);
    const sqlite = await open("sqlite", false);
    const redis = await open("redis", false);
    for (const { store } of [memory, sqlite, redis]) {
      expect(store.outbox).toBeUndefined();
      await store.createAuction(spec(1, { antiSnipeMs: 10 * HOUR }));
      await apply(store, [[1, 7, 100], [1, 8, 110]]);
      await store.cancel(1);
    }
    const db = new Database(join(sqlite.dir, "gavel.db"), { readonly: true });
    expect((db.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n).toBe(0);
    db.close();
    const client = new Redis(redis.redisUrl);
    expect(await client.exists(outboxKey(0), outboxKey(1))).toBe(0);
    client.disconnect();
  });

  test("an acknowledged event is gone; one not acknowledged is read again after a restart (SQLite)", async () => {
    const { store, dir } = await open("sqlite", true);
    await store.createAuction(spec(1));
    await apply(store, [[1, 7, 100], [1, 8, 110], [1, 7, 120]]);
    const [first, second] = await store.outbox!.take(10);
    expect([first?.event.seq, second?.event.seq]).toEqual([2, 3]);
    await store.outbox!.ack(first!);
    expect(store.outbox!.backlog()).toBe(1);
    await store.close();
    const again = new SqliteStore({ path: join(dir, "gavel.db"), webhooks: true });
    cleanups.push(() => again.close());
    const left = await again.outbox!.take(10);
    expect(left.map((e) => e.id)).toEqual([second!.id]);
  });

  test("the memory outbox keeps at most its bound, dropping the oldest", async () => {
    const outbox = new MemoryOutbox(3);
    for (let seq = 1; seq <= 5; seq++) outbox.add({ type: "outbid", auction: 1, seq, at: 0, user: 1, amount: 0, leader: 2, endsAt: 0, outcome: "" });
    expect(outbox.backlog()).toBe(3);
    expect(outbox.dropped).toBe(2);
    expect((await outbox.take(10)).map((e) => e.event.seq)).toEqual([3, 4, 5]);
  });

  test("a version 2 SQLite file gains the outbox and this build's version", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gavel-outbox-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "gavel.db");
    const first = new SqliteStore({ path });
    await first.createAuction(spec(1));
    await first.close();
    const db = new Database(path);
    db.exec("DROP TABLE outbox; PRAGMA user_version = 2");
    db.close();
    const store = new SqliteStore({ path, webhooks: true });
    cleanups.push(() => store.close());
    await apply(store, [[1, 7, 100], [1, 8, 110]]);
    expect((await store.outbox!.take(10)).map((e) => e.event.type)).toEqual(["outbid"]);
    const check = new Database(path, { readonly: true });
    expect((check.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
    check.close();
  });
});
