// GAVEL_REDIS_FEED=subscribed on real Redis processes: a node listens only to the channels of the
// shard groups its subscribers follow (PUBSUB CHANNELS on one Redis, PUBSUB SHARDCHANNELS on each
// master of a Cluster), gets every UPDATE of those groups with no gap from the first SUBSCRIBE on,
// and lets a group's channel go once its last subscriber has been gone for the linger.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { encodeBid, encodeSubscribe } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, FrameType, HEADER_SIZE, NO_REPLAY, PayloadLength, Status } from "../../src/protocol/constants.ts";
import { KeyLayout, RedisKeys, shardGroup } from "../../src/store/redis-keys.ts";
import { runGavelExpectingFailure, spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw } from "../support/raw-client.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { startRedisCluster, type ClusterHandle } from "../support/redis-cluster.ts";
import { expectSeqRun, subscribe, type Update } from "../support/subscriber.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

/** GAVEL_REDIS_SHARDS's default: the groups the channels belong to. */
const SHARDS = 16;
/** Short, so the test sees a channel go without waiting the default 30 s. */
const LINGER_MS = "300";
const BIDS = 300;
/** SUBSCRIBEs of one auction sent at once from as many connections, on a group not listened to yet. */
const RACERS = 8;
const HOUR = 3_600_000;
/** The racing test's bids during the SUBSCRIBEs, and after them. */
const STREAM = 2_000;
const TAIL = 10;

const channelOf = (auction: number) => new RedisKeys(SHARDS, KeyLayout.BALANCED).channel(shardGroup(auction, SHARDS));

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

async function createAuction(node: GavelProcess): Promise<number> {
  const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + HOUR }) });
  const body = (await response.json()) as { id: number };
  if (response.status !== 201) throw new Error(`create auction: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** Two auctions of one group and one of another, created on `node`. */
async function auctionsInTwoGroups(node: GavelProcess): Promise<{ a1: number; a2: number; b: number }> {
  const ids: number[] = [];
  for (;;) {
    ids.push(await createAuction(node));
    const a1 = ids[0]!;
    const a2 = ids.find((id) => id !== a1 && shardGroup(id, SHARDS) === shardGroup(a1, SHARDS));
    const b = ids.find((id) => shardGroup(id, SHARDS) !== shardGroup(a1, SHARDS));
    if (a2 !== undefined && b !== undefined) return { a1, a2, b };
  }
}

/** Sends `count` rising ACCEPTED bids (from `start`) on `auction` through `node`; resolves once all are answered. */
async function bid(node: GavelProcess, auction: number, count: number, start = 100): Promise<void> {
  const client = await connectRaw(node.port);
  const bytes = new Uint8Array(count * BID_FRAME_SIZE);
  let offset = 0;
  for (let i = 0; i < count; i++) offset = encodeBid(bytes, offset, i + 1, auction, 5, start + i);
  client.send(bytes);
  const results = await client.waitFor(count, 30_000);
  client.close();
  expect(results.filter((f) => f.type !== FrameType.RESULT || f.status !== Status.ACCEPTED).length).toBe(0);
}

describe("GAVEL_REDIS_FEED=subscribed on one Redis", () => {
  let redis: RedisHandle;
  let admin: Redis;
  /** Listens only to what its subscribers follow; the bidders' node, following nothing, listens to nothing. */
  let watcher: GavelProcess;
  let bidder: GavelProcess;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    const env = { REDIS_URL: redis.url, GAVEL_REDIS_FEED: "subscribed", GAVEL_REDIS_FEED_LINGER_MS: LINGER_MS };
    watcher = await spawnGavel(env);
    bidder = await spawnGavel(env);
  });

  afterAll(async () => {
    await watcher?.kill("SIGKILL");
    await bidder?.kill("SIGKILL");
    admin?.disconnect();
    await redis?.stop();
  });

  const channels = async () => ((await admin.call("PUBSUB", "CHANNELS", "gavel:*")) as string[]).sort();
  const numsub = async (channel: string) => Number(((await admin.call("PUBSUB", "NUMSUB", channel)) as [string, number])[1]);

  test("a node following nothing listens to nothing and is ready", async () => {
    expect(await channels()).toEqual([]);
    for (const node of [watcher, bidder]) expect((await fetch(`${node.httpUrl}/readyz`)).status).toBe(200);
  });

  test("subscribers on one group's auctions: only that group's channel, every UPDATE from the first on; it goes after the linger", async () => {
    const { a1, a2, b } = await auctionsInTwoGroups(bidder);
    const first = await subscribe(watcher.port, [a1]);
    const second = await subscribe(watcher.port, [a2, a1]);
    expect(await channels()).toEqual([channelOf(a1)]);
    expect(await numsub(channelOf(a1))).toBe(1);
    expect(await numsub(channelOf(b))).toBe(0);

    await bid(bidder, a1, BIDS);
    await bid(bidder, b, BIDS);
    await first.waitForSeq(a1, BIDS);
    await second.waitForSeq(a1, BIDS);
    expectSeqRun(first.updates(a1), 1, BIDS);
    expectSeqRun(second.updates(a1), 1, BIDS);
    // Still only group A's channel: the bids on B reached no node.
    expect(await channels()).toEqual([channelOf(a1)]);
    expect(await numsub(channelOf(b))).toBe(0);

    // One subscriber left: the channel stays while the other follows the group.
    first.close();
    await Bun.sleep(Number(LINGER_MS) * 3);
    expect(await channels()).toEqual([channelOf(a1)]);
    second.close();
    await until(async () => (await channels()).length === 0, "the channel to go after the linger");
    expect((await fetch(`${watcher.httpUrl}/readyz`)).status).toBe(200);

    // Back on the group: subscribed again before the STATE, so the next bids all arrive.
    const again = await subscribe(watcher.port, [a1], 0);
    try {
      expect(await channels()).toEqual([channelOf(a1)]);
      await again.waitForSeq(a1, BIDS);
      await bid(bidder, a1, BIDS, 100 + BIDS);
      await again.waitForSeq(a1, 2 * BIDS);
      expectSeqRun(again.updates(a1), 1, 2 * BIDS);
    } finally {
      again.close();
    }
  });

  test("SUBSCRIBEs racing on a group not listened to share one channel subscription and miss nothing of a stream", async () => {
    const { b: auction } = await auctionsInTwoGroups(bidder);
    await until(async () => (await channels()).length === 0, "the earlier channels to go");
    // Bids flow while the SUBSCRIBEs race: each sees one seq run from its STATE on.
    const bidding = bid(bidder, auction, STREAM);
    const frame = new Uint8Array(HEADER_SIZE + PayloadLength.SUBSCRIBE);
    encodeSubscribe(frame, 0, 1, auction, NO_REPLAY);
    const clients = await Promise.all(Array.from({ length: RACERS }, () => connectRaw(watcher.port)));
    for (const client of clients) client.send(frame);
    try {
      await bidding;
      for (const client of clients) await client.waitFor(1);
      expect(await channels()).toEqual([channelOf(auction)]);
      expect(await numsub(channelOf(auction))).toBe(1);
      // And after the stream, so every one has live UPDATEs to show.
      await bid(bidder, auction, TAIL, 10_000);
      for (const client of clients) {
        await until(() => client.frames.some((f) => f.type === FrameType.UPDATE && f.seq === STREAM + TAIL), "the last UPDATE");
        const state = client.frames.find((f) => f.type === FrameType.STATE);
        if (state?.type !== FrameType.STATE) throw new Error("no STATE");
        const updates = client.frames.filter((f): f is Update => f.type === FrameType.UPDATE);
        expectSeqRun(updates, state.seq + 1, STREAM + TAIL);
      }
    } finally {
      for (const client of clients) client.close();
    }
  });

  test("a bad GAVEL_REDIS_FEED stops start-up naming it", async () => {
    const { code, output } = await runGavelExpectingFailure({ REDIS_URL: redis.url, GAVEL_REDIS_FEED: "some" });
    expect(code).toBe(2);
    expect(output).toContain("GAVEL_REDIS_FEED");
  });
});

describe("GAVEL_REDIS_FEED=subscribed on a Redis Cluster", () => {
  let cluster: ClusterHandle;
  let masters: Redis[] = [];
  let watcher: GavelProcess;
  let bidder: GavelProcess;

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 0 });
    masters = (await cluster.masterPorts()).map((port) => new Redis(port, "127.0.0.1"));
    const env = { REDIS_URL: cluster.url, GAVEL_REDIS_FEED: "subscribed", GAVEL_REDIS_FEED_LINGER_MS: LINGER_MS };
    watcher = await spawnGavel(env);
    bidder = await spawnGavel(env);
  });

  afterAll(async () => {
    await watcher?.kill("SIGKILL");
    await bidder?.kill("SIGKILL");
    for (const master of masters) master.disconnect();
    await cluster?.stop();
  });

  /** Every master's shard channels of Gavel, together. */
  const shardChannels = async () =>
    (await Promise.all(masters.map((m) => m.call("PUBSUB", "SHARDCHANNELS", "gavel:*") as Promise<string[]>))).flat().sort();

  test("subscribers on one group's auctions: only that group's shard channel, every UPDATE; it goes after the linger", async () => {
    expect(await shardChannels()).toEqual([]);
    const { a1, b } = await auctionsInTwoGroups(bidder);
    const watching = await subscribe(watcher.port, [a1]);
    try {
      expect(await shardChannels()).toEqual([channelOf(a1)]);
      await bid(bidder, a1, BIDS);
      await bid(bidder, b, BIDS);
      await watching.waitForSeq(a1, BIDS);
      expectSeqRun(watching.updates(a1), 1, BIDS);
      expect(await shardChannels()).toEqual([channelOf(a1)]);
    } finally {
      watching.close();
    }
    await until(async () => (await shardChannels()).length === 0, "the shard channel to go after the linger");
  });

  test("the sharded subscriber cut while bids flow: the followed group is subscribed again and the gap healed", async () => {
    const { a1: auction } = await auctionsInTwoGroups(bidder);
    const watching = await subscribe(watcher.port, [auction]);
    try {
      await bid(bidder, auction, BIDS);
      const killed = (await Promise.all(masters.map((m) => m.call("CLIENT", "KILL", "TYPE", "pubsub")))).reduce((a, b) => Number(a) + Number(b), 0);
      expect(Number(killed)).toBeGreaterThanOrEqual(1);
      // Published while the watcher's subscriber reconnects: only its resync can bring them.
      await bid(bidder, auction, BIDS, 100 + BIDS);
      await watching.waitForSeq(auction, 2 * BIDS);
      expectSeqRun(watching.updates(auction), 1, 2 * BIDS);
      await until(async () => (await shardChannels()).length === 1, "the channel to be subscribed again");
      expect(await shardChannels()).toEqual([channelOf(auction)]);
    } finally {
      watching.close();
    }
  });
});
