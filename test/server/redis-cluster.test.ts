// Gavel on a real Redis Cluster (3 masters, 3 replicas): the groups spread evenly over the
// masters; two server processes, bidders and subscribers on each; every UPDATE reaches both,
// each auction is CLOSED once; and a live reshard (slots moved while bidders bid) loses,
// repeats or inverts no bid, by the consistency and linearizability checker.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeSubscribe } from "../../src/protocol/codec.ts";
import { HEADER_SIZE, PayloadLength, Status } from "../../src/protocol/constants.ts";
import { RedisStore, RedisTopology } from "../../src/store/redis.ts";
import { keySlot } from "../../src/store/redis-slots.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { startRedisCluster, type ClusterHandle } from "../support/redis-cluster.ts";
import { assertConsistent, ClientLog, fetchFinalState, settle, type SubscriberLog } from "../support/consistency.ts";
import { bidInRounds, loggedBidder, type LoggedBidder } from "../support/bid-rounds.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const SUBSCRIBE_FRAME = HEADER_SIZE + PayloadLength.SUBSCRIBE;
const HOUR = 3_600_000;
/** One auction per shard group (16 groups by default), so every master and channel is used. */
const AUCTIONS = 16;
const BIDDERS_PER_NODE = 2;
const ROUND_GAP_MS = 40;
/** Shard groups: 256, so a group's slice is 64 slots and a short reshard moves several. */
const SHARDS = 256;
/** A reshard refused because the nodes do not agree yet (nothing moved) is asked again this often. */
const RESHARD_TRIES = 20;
const RESHARD_RETRY_MS = 100;
/** Slots moved per reshard step, from slot 0 up: the slices of groups 0 to 3. */
const RESHARD_SLOTS = 250;

let cluster: ClusterHandle;
const nodes: GavelProcess[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  const env = { REDIS_URL: cluster.url, GAVEL_CLOSE_INTERVAL_MS: "100", GAVEL_REDIS_SHARDS: String(SHARDS) };
  for (let i = 0; i < 2; i++) nodes.push(await spawnGavel(env));
});

afterAll(async () => {
  for (const node of nodes) await node.kill("SIGKILL");
  await cluster?.stop();
});

/** A subscriber connection and how many of its frames are in its log already. */
interface Tracked {
  client: RawClient;
  log: SubscriberLog;
  seen: number;
}

function sync(tracked: Tracked): void {
  for (; tracked.seen < tracked.client.frames.length; tracked.seen++) tracked.log.observe(tracked.client.frames[tracked.seen]!);
}

async function subscribeAll(port: number, log: SubscriberLog, auctions: number[]): Promise<Tracked> {
  const client = await connectRaw(port);
  const bytes = new Uint8Array(auctions.length * SUBSCRIBE_FRAME);
  let offset = 0;
  auctions.forEach((auction, i) => {
    offset = encodeSubscribe(bytes, offset, i + 1, auction, 0);
    log.subscribed(auction, 0);
  });
  client.send(bytes);
  return { client, log, seen: 0 };
}

async function createAuction(node: GavelProcess, fields: Record<string, unknown>): Promise<number> {
  const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(fields) });
  const body = (await response.json()) as { id: number };
  if (response.status !== 201) throw new Error(`create auction: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** The node ids of the master serving slot 0 and of another master. */
async function slotZeroOwnerAndOther(): Promise<[string, string]> {
  const masters = (await cluster.cli("CLUSTER", "NODES"))
    .split("\n")
    .map((line) => line.trim().split(" "))
    .filter((f) => f[2]!.includes("master") && f.length > 8);
  const owner = masters.find((f) => f.slice(8).some((range) => range === "0" || range.startsWith("0-")))!;
  const other = masters.find((f) => f[0] !== owner[0])!;
  return [owner[0]!, other[0]!];
}

/**
 * Bidders on every node send rising and random bids to every auction, round after round, while
 * `during` runs; then the run is settled and checked by the consistency checker.
 */
async function bidWhile(auctions: number[], during: () => Promise<void>, minRounds: number) {
  const log = new ClientLog();
  const subscribers: Tracked[] = [];
  for (const [n, node] of nodes.entries()) subscribers.push(await subscribeAll(node.port, log.subscriber(`sub node ${n}`), auctions));
  const bidders: LoggedBidder[] = [];
  for (const [n, node] of nodes.entries()) {
    for (let b = 0; b < BIDDERS_PER_NODE; b++) bidders.push(loggedBidder(await connectRaw(node.port), log.bidder(`node ${n} bidder ${b}`), 100 + n * 10 + b));
  }
  await bidInRounds(bidders, auctions, during(), { gapMs: ROUND_GAP_MS, step: 50, minRounds, stray: true });
  const final = await settle(
    log,
    async () => {
      for (const tracked of subscribers) sync(tracked);
      return fetchFinalState(nodes[0]!.httpUrl, auctions);
    },
    15_000,
  );
  for (const tracked of subscribers) sync(tracked);
  for (const bidder of bidders) bidder.client.close();
  for (const tracked of subscribers) tracked.client.close();
  return { log, final };
}

describe("Gavel on a Redis Cluster", () => {
  test("cluster mode is detected from any one node, and the shard groups spread evenly over the masters", async () => {
    const store = await RedisStore.connect({ url: cluster.nodes[4]!.url, shards: SHARDS });
    try {
      expect(store.topology).toBe(RedisTopology.CLUSTER);
      const view = await cluster.cli("CLUSTER", "NODES");
      const perMaster = new Map<string, number>();
      for (const tag of store.keys.tags) {
        const slot = keySlot(`{${tag}}`);
        const owner = view.split("\n").find((line) => {
          const fields = line.trim().split(" ");
          return fields[2]!.includes("master") && fields.slice(8).some((range) => {
            const [lo, hi] = range.split("-").map(Number);
            return slot >= lo! && slot <= (hi ?? lo)!;
          });
        });
        expect(owner).toBeDefined();
        perMaster.set(owner!.split(" ")[0]!, (perMaster.get(owner!.split(" ")[0]!) ?? 0) + 1);
      }
      const counts = [...perMaster.values()].sort();
      expect(counts.length).toBe(3);
      // 256 groups over 3 masters: 85 or 86 each, give or take the group whose slice straddles
      // a master's boundary (plain CRC16 tags scatter by about ±9).
      for (const count of counts) expect(Math.abs(count - SHARDS / 3)).toBeLessThanOrEqual(1.5);
    } finally {
      await store.close();
    }
  });

  test("two nodes: every UPDATE reaches the subscribers of both, and each auction is CLOSED once", async () => {
    const endsAt = Date.now() + 2_500;
    const auctions: number[] = [];
    for (let i = 0; i < AUCTIONS; i++) auctions.push(await createAuction(nodes[i % 2]!, { ends_at: endsAt }));
    // Bidding goes on past the end: the last bids are answered CLOSED.
    const { log, final } = await bidWhile(auctions, () => Bun.sleep(Math.max(0, endsAt - Date.now()) + 500), 10);
    assertConsistent(log, final);
    const stats = log.stats();
    expect(stats.answered).toBe(stats.sent);
    // Both subscribers (one per node) saw every auction's CLOSED, exactly once each.
    expect(stats.closed).toBe(2 * AUCTIONS);
    for (const auction of final as readonly { seq: number; closed: boolean }[]) {
      expect(auction.closed).toBe(true);
      expect(auction.seq).toBeGreaterThan(0);
    }
  });

  test("a live reshard under load: every bid answered, none lost, repeated or inverted", async () => {
    const auctions: number[] = [];
    for (let i = 0; i < AUCTIONS; i++) auctions.push(await createAuction(nodes[i % 2]!, { ends_at: Date.now() + HOUR }));
    // Auctions 1..16 are in groups 1..16; groups 1 to 3 live in the slots that move.
    const [from, to] = await slotZeroOwnerAndOther();
    const { log, final } = await bidWhile(
      auctions,
      async () => {
        await Bun.sleep(200);
        // There and back: the groups of those slots move twice while bids land on them.
        await reshard(from, to);
        await reshard(to, from);
        await Bun.sleep(200);
      },
      10,
    );
    assertConsistent(log, final);
    const records = log.bidders.flatMap((b) => b.records);
    expect(records.filter((r) => r.status === Status.ACCEPTED).length).toBeGreaterThan(AUCTIONS);
    // Only statuses the contract allows: refused-before-run bids say UNAVAILABLE, none are lost.
    const allowed: number[] = [Status.ACCEPTED, Status.OUTBID, Status.CLOSED, Status.UNAVAILABLE, Status.UNCONFIRMED];
    const counts = new Map<number, number>();
    for (const r of records) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    console.log(`reshard under load: ${records.length} bids, by status ${JSON.stringify(Object.fromEntries(counts))}`);
    expect(records.every((r) => allowed.includes(r.status))).toBe(true);
    const stats = log.stats();
    expect(stats.answered).toBe(stats.sent);
  });
});

/**
 * `redis-cli --cluster reshard` of RESHARD_SLOTS slots. redis-cli first checks that every node
 * agrees on the configuration and refuses before moving anything when one has not heard of the
 * last move yet (gossip takes a moment on a busy machine): then wait and ask again.
 */
async function reshard(from: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await cluster.admin("reshard", "--cluster-from", from, "--cluster-to", to, "--cluster-slots", String(RESHARD_SLOTS), "--cluster-yes", "--cluster-pipeline", "5");
      return;
    } catch (error) {
      if (attempt === RESHARD_TRIES || !String(error).includes("Nodes don't agree about configuration")) throw error;
      await cluster.waitHealthy();
      await Bun.sleep(RESHARD_RETRY_MS);
    }
  }
}
