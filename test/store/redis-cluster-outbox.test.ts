// Webhooks and GAVEL_RETENTION on a real Redis Cluster (3 masters, 3 replicas), with the shard
// groups spread over every master: the outbox scenario writes the same events as on one Redis;
// a node that gives its leases up hands the events it read and did not acknowledge to the next
// (lease script, XAUTOCLAIM), which acknowledges and deletes them (XACK, XDEL); a retention
// pass copies closed auctions into the retire sets (the backfill) and deletes them with every
// key and index entry that named them. Each of these commands and scripts is refused by the
// cluster (CROSSSLOT) if it names keys of two slots.

import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { Cluster, type Redis } from "ioredis";
import { Phase } from "../../src/protocol/constants.ts";
import { AUCTION_INDEX_KEY, RedisStore, RedisTopology, shardGroup, type RedisStoreOptions } from "../../src/store/redis.ts";
import { OUTBOX_GROUP } from "../../src/store/outbox-redis.ts";
import { RedisRetention } from "../../src/store/redis-retention.ts";
import { keySlot } from "../../src/store/redis-slots.ts";
import { apply, EXPECTED, scenario, spec } from "../support/outbox-scenario.ts";
import { startRedisCluster, type ClusterHandle } from "../support/redis-cluster.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** 4 groups on 3 masters: balanced tags put them on every master (2/1/1). */
const SHARDS = 4;
const CLOSE_DEADLINE_MS = 10_000;

let cluster: ClusterHandle;
let admin: Cluster;
const stores: RedisStore[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = await openCluster();
});

afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

beforeEach(async () => {
  await Promise.all(admin.nodes("master").map((node) => node.flushall()));
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** An ioredis Cluster client of the test's own, once it knows the slots. */
async function openCluster(): Promise<Cluster> {
  const client = new Cluster(cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })));
  if (client.status !== "ready") await new Promise((resolve) => client.once("ready", resolve));
  return client;
}

async function connect(options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const store = await RedisStore.connect({ url: cluster.url, shards: SHARDS, ...options });
  stores.push(store);
  expect(store.topology).toBe(RedisTopology.CLUSTER);
  return store;
}

/** The master (host:port) serving the slot of `key`, as the cluster says now. */
async function ownerOf(key: string): Promise<string> {
  const slot = keySlot(key);
  const ranges = await admin.cluster("SLOTS");
  const [, , master] = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)!;
  return `${master![0]}:${master![1]}`;
}

/** Closes what is due until `count` auctions have closed. */
async function closeAll(store: RedisStore, count: number): Promise<void> {
  const deadline = Date.now() + CLOSE_DEADLINE_MS;
  let closed = 0;
  while (closed < count && Date.now() < deadline) {
    closed += (await store.closeDue(100)).length;
    if (closed < count) await Bun.sleep(50);
  }
  expect(closed).toBe(count);
}

test("webhooks: every event written on the cluster; a node giving its leases up hands its unacknowledged events to the next", async () => {
  const first = await connect({ webhooks: true });
  const masters = new Set(await Promise.all(Array.from({ length: SHARDS }, (_, g) => ownerOf(first.keys.outbox(g)))));
  expect(masters.size).toBe(3);

  // bid.lua, close.lua and cancel.lua write the events (the first takes read them, unacknowledged).
  expect(await scenario(first)).toEqual(EXPECTED);
  await first.outbox!.close();

  // The second node takes the free leases and claims what the first read and never acknowledged.
  const second = await connect({ webhooks: true });
  const taken = await second.outbox!.take(1_000);
  const described = taken
    .map(({ event: e }) => `${e.auction} ${e.seq} ${e.type} user=${e.user} amount=${e.amount} leader=${e.leader} extended=${e.endsAt > 0} ${e.outcome}`)
    .toSorted((a, b) => Number(a.split(" ")[0]) - Number(b.split(" ")[0]));
  expect(described).toEqual(EXPECTED);
  expect(second.outbox!.consumer).not.toBe(first.outbox!.consumer);

  for (const entry of taken) await second.outbox!.ack(entry);
  for (let g = 0; g < SHARDS; g++) {
    expect(await admin.xlen(second.keys.outbox(g))).toBe(0);
    const [pending] = (await admin.xpending(second.keys.outbox(g), OUTBOX_GROUP)) as [number];
    expect(pending).toBe(0);
    expect(await admin.get(second.keys.outboxLease(g))).toBe(second.outbox!.consumer);
  }
  // Nothing more to hand out.
  expect(await second.outbox!.take(1_000)).toEqual([]);
});

test("retention: a pass copies older closed auctions into the retire sets, then deletes every trace of them", async () => {
  const store = await connect();
  const now = store.now();
  const closing = Array.from({ length: 3 * SHARDS }, (_, i) => i + 1);
  for (const id of closing) await store.createAuction(spec(id, { startsAt: now - 1_000, endsAt: now + 500 }));
  const open = closing.length + 1;
  await store.createAuction(spec(open));
  await apply(store, [...closing.map((id): [number, number, number] => [id, 7, 100]), [open, 7, 100]]);
  await closeAll(store, closing.length);

  // Ended two days ago, as Redis keeps it; groups 0 and 1 as if closed by a release that wrote
  // no retire set (the backfill finds them), groups 2 and 3 with their retire entries.
  const endedAt = Date.now() - 2 * DAY;
  for (const id of closing) {
    await admin.hset(store.keys.auction(id), "en", endedAt);
    const group = shardGroup(id, SHARDS);
    if (group < 2) await admin.zrem(store.keys.retire(group), String(id));
    else await admin.zadd(store.keys.retire(group), endedAt, String(id));
  }

  const client = await openCluster();
  const warnings: string[] = [];
  const script = await Bun.file(new URL("../../lua/retire.lua", import.meta.url)).text();
  const retention = RedisRetention.start(client as unknown as Redis, { keys: store.keys, retentionMs: DAY, now: () => store.now(), log: (m) => warnings.push(m), script })!;
  try {
    expect(await retention.pass()).toBe(closing.length);
  } finally {
    retention.stop();
    client.disconnect();
  }
  expect(warnings).toEqual([]);

  for (const id of closing) {
    const group = shardGroup(id, SHARDS);
    expect(await admin.exists(store.keys.auction(id))).toBe(0);
    expect(await admin.exists(store.keys.history(id))).toBe(0);
    expect(await admin.zscore(store.keys.retire(group), String(id))).toBeNull();
    expect(await admin.zscore(store.keys.closed(group), String(id))).toBeNull();
    expect(await admin.zscore(AUCTION_INDEX_KEY, String(id))).toBeNull();
    expect(await store.getAuction(id)).toBeNull();
  }
  expect((await store.getAuction(open))!.amount).toBe(100);
  expect(await store.listAuctions(Phase.CLOSED, 0, 100)).toEqual([]);
  expect((await store.listAuctions(null, 0, 100)).map((a) => a.id)).toEqual([open]);
});
