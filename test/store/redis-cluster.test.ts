// The Redis store on a real Redis Cluster that asks for a password, moving one group's slot by hand (CLUSTER SETSLOT and
// MIGRATE, as redis-cli --cluster reshard does) to meet each refusal at a known moment: MOVED
// (the slot moved, the client's map is stale), TRYAGAIN (the call's keys are split between the
// two nodes mid-move) and ASK (every key already moved). Each refusal means the script did not
// run, so the bids are sent again and ACCEPTED, in order (or UNAVAILABLE when resending could
// reorder them).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { Status } from "../../src/protocol/constants.ts";
import { RedisStore, shardGroup } from "../../src/store/redis.ts";
import { keySlot } from "../../src/store/redis-slots.ts";
import { StoreUnavailableError } from "../../src/store/errors.ts";
import { startRedisCluster, type ClusterHandle } from "../support/redis-cluster.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const HOUR = 3_600_000;
/**
 * The pause between the steps of the hand-made slot move: long enough for the store to meet
 * each refusal, far inside the store's resend budget (half its 2 s batch deadline), so a busy
 * machine does not turn the resent bid into UNAVAILABLE.
 */
const MOVE_STEP_MS = 60;
const MIGRATE_TIMEOUT_MS = 5_000;
/** The cluster asks for a password, so the store's credentials are tested on every node too. */
const PASSWORD = "cluster-secret";

let cluster: ClusterHandle;
let store: RedisStore;

beforeAll(async () => {
  cluster = await startRedisCluster({ password: PASSWORD });
  store = await RedisStore.connect({ url: cluster.url });
});

afterAll(async () => {
  await store?.close();
  await cluster?.stop();
});

let nextId = 1;

async function create(): Promise<number> {
  const id = nextId++;
  const now = store.now();
  const result = await store.createAuction({
    id,
    title: "lot",
    startingPrice: 100,
    minIncrement: 10,
    reserve: 0,
    buyNowPrice: 0,
    startsAt: now - 1000,
    endsAt: now + HOUR,
    antiSnipeMs: 0,
    maxEndsAt: 0,
  });
  expect(result.created).toBe(true);
  return id;
}

function batchOf(bids: [number, number, number][]): BidBatch {
  const batch = new BidBatch(bids.length);
  bids.forEach(([auction, user, amount], i) => {
    batch.auction[i] = auction;
    batch.user[i] = user;
    batch.amount[i] = amount;
  });
  batch.count = bids.length;
  return batch;
}

/** The master holding `slot` and another master, as direct connections, with their ids. */
async function ownerAndOther(slot: number) {
  const view = await cluster.cli("CLUSTER", "NODES");
  const masters = view
    .split("\n")
    .map((line) => line.trim().split(" "))
    .filter((f) => f[2]!.includes("master") && !f[2]!.includes("fail"));
  const owns = (f: string[]) =>
    f.slice(8).some((range) => {
      const [lo, hi] = range.split("-").map(Number);
      return slot >= lo! && slot <= (hi ?? lo)!;
    });
  const source = masters.find(owns)!;
  const target = masters.find((f) => !owns(f))!;
  const port = (f: string[]) => Number(f[1]!.split("@")[0]!.split(":")[1]);
  return {
    source: { id: source[0]!, port: port(source), redis: new Redis(port(source), { password: PASSWORD }) },
    target: { id: target[0]!, port: port(target), redis: new Redis(port(target), { password: PASSWORD }) },
  };
}

/** Moves `keys` (all in `slot`) from source to target, as a reshard does for each batch of keys. */
async function migrate(source: Redis, targetPort: number, keys: string[]): Promise<void> {
  if (keys.length > 0) await source.migrate("127.0.0.1", targetPort, "", 0, MIGRATE_TIMEOUT_MS, "AUTH", PASSWORD, "KEYS", ...keys);
}

/** Ends a slot's move: every node is told the target owns it. */
async function finishMove(slot: number, targetId: string): Promise<void> {
  const ports = (await cluster.masterPorts()).concat(cluster.nodes.map((n) => n.port));
  for (const port of new Set(ports)) {
    const node = new Redis(port, { password: PASSWORD });
    try {
      await node.cluster("SETSLOT", slot, "NODE", targetId);
    } catch {
      // A replica refuses SETSLOT; it learns from its master.
    } finally {
      node.disconnect();
    }
  }
}

describe("RedisStore on a cluster", () => {
  test("the password in REDIS_URL reaches every node, for bids and for the sharded feed", async () => {
    const id = await create();
    const frames: Uint8Array[] = [];
    store.feed.onFrames((message) => frames.push(message));
    const deadline = Date.now() + 10_000;
    while (!store.feed.live && Date.now() < deadline) await Bun.sleep(20);
    expect(store.feed.live).toBe(true);
    expect(await applyOne(id, 150)).toEqual({ status: Status.ACCEPTED, seq: 1 });
    while (frames.length === 0 && Date.now() < deadline) await Bun.sleep(20);
    // One UPDATE (type 6) of that auction, published on the group's shard channel.
    expect(frames.length).toBe(1);
    expect(frames[0]![0]).toBe(6);
  });

  test("auctions of every group ending together close in one step, each group's close routed by its own keys", async () => {
    // One auction per group (16 groups over the 3 masters), all due at once: the groups' close
    // calls are made in the same tick, with the same number of keys.
    const groups = new Map<number, number>();
    for (let id = 5_000; groups.size < 16; id++) if (!groups.has(shardGroup(id, 16))) groups.set(shardGroup(id, 16), id);
    const ids = [...groups.values()].sort((a, b) => a - b);
    const endsAt = store.now() + 300;
    for (const id of ids) {
      const created = await store.createAuction({ id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: endsAt - HOUR, endsAt, antiSnipeMs: 0, maxEndsAt: 0 });
      expect(created.created).toBe(true);
    }
    while (store.now() <= endsAt + 100) await Bun.sleep(20);
    const closed = await store.closeDue(100);
    expect(closed.map((c) => c.id).sort((a, b) => a - b)).toEqual(ids);
  });
});

describe("RedisStore on a cluster whose slot moves", () => {
  test("MOVED, TRYAGAIN and ASK: the bids are sent again and applied once, in order", async () => {
    const id = await create();
    const group = shardGroup(id, store.shards);
    const slot = keySlot(store.keys.ends(group));
    let first = await applyOne(id, 200);
    expect(first).toEqual({ status: Status.ACCEPTED, seq: 1 });

    // 1. MOVED: the whole slot moves while the store's map still names the old master.
    let { source, target } = await ownerAndOther(slot);
    try {
      await target.redis.cluster("SETSLOT", slot, "IMPORTING", source.id);
      await source.redis.cluster("SETSLOT", slot, "MIGRATING", target.id);
      await migrate(source.redis, target.port, await source.redis.cluster("GETKEYSINSLOT", slot, 1000) as string[]);
      await finishMove(slot, target.id);
      first = await applyOne(id, 210);
      expect(first).toEqual({ status: Status.ACCEPTED, seq: 2 });
    } finally {
      source.redis.disconnect();
      target.redis.disconnect();
    }

    // 2. TRYAGAIN, then ASK: the slot is moving back; only the history has moved when the bid
    // comes (its keys are split: TRYAGAIN); the rest moves MOVE_STEP_MS later (every key on the
    // target: ASK there), then the move ends.
    ({ source, target } = await ownerAndOther(slot));
    try {
      await target.redis.cluster("SETSLOT", slot, "IMPORTING", source.id);
      await source.redis.cluster("SETSLOT", slot, "MIGRATING", target.id);
      await migrate(source.redis, target.port, [store.keys.history(id)]);
      const later = (async () => {
        await Bun.sleep(MOVE_STEP_MS);
        await migrate(source.redis, target.port, await source.redis.cluster("GETKEYSINSLOT", slot, 1000) as string[]);
        await Bun.sleep(MOVE_STEP_MS);
        await finishMove(slot, target.id);
      })();
      // Two batches in flight: the first is refused, but the second was sent before its refusal
      // came back, so resending the first could apply it after the second: it is UNAVAILABLE
      // (not stored) instead; the second, the group's last call, is resent until it runs.
      const [a, b] = await Promise.all([applyOne(id, 220), applyOne(id, 230)]);
      await later;
      expect(a).toEqual({ status: Status.UNAVAILABLE, seq: 0 });
      expect(b).toEqual({ status: Status.ACCEPTED, seq: 3 });
    } finally {
      source.redis.disconnect();
      target.redis.disconnect();
    }
    const history = await store.history(id, 0, 100);
    expect(history.map((h) => h.amount)).toEqual([200, 210, 230]);
  });
});

/** One bid as its own batch: its status (a batch that failed whole answers with the error's). */
async function applyOne(id: number, amount: number): Promise<{ status: number; seq: number }> {
  const batch = batchOf([[id, 7, amount]]);
  try {
    await store.applyBids(batch);
  } catch (error) {
    if (error instanceof StoreUnavailableError) return { status: Status.UNAVAILABLE, seq: 0 };
    throw error;
  }
  return { status: batch.status[0]!, seq: batch.seq[0]! };
}
