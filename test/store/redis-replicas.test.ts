// The Redis store's replica wait (GAVEL_REDIS_WAIT_REPLICAS) on one primary and its replica, and
// the choice of key layout: the plain {g<n>} tags of a Redis that already holds them, else
// balanced tags.

import { afterEach, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { Status } from "../../src/protocol/constants.ts";
import { KeyLayout, RedisStore } from "../../src/store/redis.ts";
import { StoreUnconfirmedError } from "../../src/store/errors.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const MINUTE = 60_000;
/** Generous: a replica that just synced may take a moment to acknowledge on a busy machine. */
const WAIT_TIMEOUT_MS = 1_000;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function redis(args: string[] = []): Promise<RedisHandle> {
  const handle = await startRedis({ args: ["--repl-diskless-sync-delay", "0", ...args] });
  cleanups.push(() => handle.stop());
  return handle;
}

async function connect(url: string, options: { waitReplicas?: number; log?: (m: string) => void } = {}): Promise<RedisStore> {
  const store = await RedisStore.connect({ url, waitReplicas: options.waitReplicas ?? 0, waitTimeoutMs: WAIT_TIMEOUT_MS, log: options.log ?? (() => {}) });
  cleanups.push(() => store.close());
  return store;
}

async function bid(store: RedisStore, auction: number, amount: number): Promise<number> {
  const batch = new BidBatch(1);
  batch.count = 1;
  batch.auction[0] = auction;
  batch.user[0] = 7;
  batch.amount[0] = amount;
  try {
    await store.applyBids(batch);
  } catch (error) {
    if (error instanceof StoreUnconfirmedError) return Status.UNCONFIRMED;
    throw error;
  }
  return batch.status[0]!;
}

async function createOpen(store: RedisStore, id: number): Promise<void> {
  const now = store.now();
  const result = await store.createAuction({
    id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0,
    startsAt: now - MINUTE, endsAt: now + MINUTE, antiSnipeMs: 0, maxEndsAt: 0,
  });
  expect(result.created).toBe(true);
}

async function waitSynced(replica: RedisHandle): Promise<void> {
  const raw = new Redis(replica.url);
  try {
    while (!/master_link_status:up/.test(await raw.info("replication"))) await Bun.sleep(20);
  } finally {
    raw.disconnect();
  }
}

describe("GAVEL_REDIS_WAIT_REPLICAS", () => {
  test("a bid is ACCEPTED once the replica holds it; with the replica gone it is UNCONFIRMED", async () => {
    const primary = await redis();
    const replica = await redis(["--replicaof", "127.0.0.1", String(primary.port)]);
    await waitSynced(replica);
    const store = await connect(primary.url, { waitReplicas: 1 });
    await createOpen(store, 1);
    expect(await bid(store, 1, 100)).toBe(Status.ACCEPTED);
    // The replica holds it: what the reply promised survives a failover to it.
    const copy = new Redis(replica.url);
    try {
      expect(await copy.hget(store.keys.auction(1), "am")).toBe("100");
    } finally {
      copy.disconnect();
    }

    await replica.kill();
    // Applied on the primary, but no replica confirmed it within the WAIT timeout.
    expect(await bid(store, 1, 110)).toBe(Status.UNCONFIRMED);
    expect((await store.getAuction(1))!.amount).toBe(110);
  });

  test("a create and a cancel wait for the replica too; with it gone they fail unconfirmed", async () => {
    const primary = await redis();
    const replica = await redis(["--replicaof", "127.0.0.1", String(primary.port)]);
    await waitSynced(replica);
    const store = await connect(primary.url, { waitReplicas: 1 });
    await createOpen(store, 1);
    await createOpen(store, 2);
    expect((await store.cancel(2)).cancelled).toBe(true);
    // The replica holds the create and the cancel as soon as they are acknowledged.
    const copy = new Redis(replica.url);
    try {
      expect(await copy.exists(store.keys.auction(1))).toBe(1);
      expect(await copy.hget(store.keys.auction(2), "cl")).toBe("1");
    } finally {
      copy.disconnect();
    }

    await replica.kill();
    await expect(createOpen(store, 3)).rejects.toBeInstanceOf(StoreUnconfirmedError);
    await expect(store.cancel(1)).rejects.toBeInstanceOf(StoreUnconfirmedError);
  });

  test("a primary with fewer replicas than asked for is named in a start-up warning", async () => {
    const primary = await redis();
    const lines: string[] = [];
    await connect(primary.url, { waitReplicas: 1, log: (line) => lines.push(line) });
    expect(lines.some((line) => line.includes("GAVEL_REDIS_WAIT_REPLICAS is 1 but a Redis master has 0 connected replicas"))).toBe(true);
  });
});

describe("key layout", () => {
  test("a fresh Redis gets balanced tags; one holding plain {g<n>} keys keeps them", async () => {
    const fresh = await redis();
    expect((await connect(fresh.url)).keys.layout).toBe(KeyLayout.BALANCED);

    const old = await redis();
    const raw = new Redis(old.url);
    try {
      // What an earlier release wrote: its epochs and an auction under the plain tags.
      await raw.set("gavel:{g0}:epoch", "earlier");
      await raw.zadd("gavel:auctions", 5, "5");
    } finally {
      raw.disconnect();
    }
    const store = await connect(old.url);
    expect(store.keys.layout).toBe(KeyLayout.LEGACY);
    expect(store.keys.auction(5)).toBe("gavel:{g5}:a:5");
  });
});
