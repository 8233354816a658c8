// The webhook outbox of each store: the same bids, closes and cancels write the same events on
// memory, SQLite and Redis (the Lua scripts held to src/auction/notification.ts); nothing is
// written with webhooks off; the memory outbox is bounded; an older SQLite file gains the table.

import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import type { StoreKind } from "../../src/config.ts";
import { BidKind } from "../../src/auction/bid-rule.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { MemoryOutbox } from "../../src/store/outbox-memory.ts";
import { RedisStore } from "../../src/store/redis.ts";
import { SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { startRedis } from "../support/redis.ts";
import { apply, EXPECTED, scenario, spec } from "../support/outbox-scenario.ts";

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
    const keys = (redis.store as RedisStore).keys;
    expect(await client.exists(keys.outbox(0), keys.outbox(1))).toBe(0);
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
