// A master of a real Redis Cluster killed with SIGKILL while bidders bid, with
// GAVEL_REDIS_WAIT_REPLICAS=1: bids on its groups get UNAVAILABLE or UNCONFIRMED while its
// replica is promoted (and, with WAIT 1, until the restarted node has rejoined as that new
// master's replica), then ACCEPTED again; the consistency and linearizability checker over the
// whole run finds no acknowledged bid lost. And a master that restarts empty before its replica
// is promoted: the epoch notices, and the subscribers of its groups' auctions get ERROR RESET.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeBid } from "../../src/protocol/codec.ts";
import { encodeSubscribe } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, HEADER_SIZE, PayloadLength, Status } from "../../src/protocol/constants.ts";
import { shardGroup } from "../../src/store/redis.ts";
import { balancedTags, keySlot } from "../../src/store/redis-slots.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { startRedisCluster, type ClusterHandle } from "../support/redis-cluster.ts";
import { assertConsistent, ClientLog, fetchFinalState } from "../support/consistency.ts";
import { bidInRounds, loggedBidder, type LoggedBidder } from "../support/bid-rounds.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTIONS = 16;
const BIDDERS = 3;
const ROUND_GAP_MS = 30;
const HOUR = 3_600_000;
/** Bidding goes on this long after the cluster is whole again, so bids are seen to succeed. */
const AFTER_MS = 1_000;

let cluster: ClusterHandle;
let node: GavelProcess;

beforeAll(async () => {
  cluster = await startRedisCluster();
  node = await spawnGavel({ REDIS_URL: cluster.url, GAVEL_REDIS_WAIT_REPLICAS: "1", GAVEL_BREAKER_FAILURES: "0" });
});

afterAll(async () => {
  await node?.kill("SIGKILL");
  await cluster?.stop();
});

async function createAuction(fields: Record<string, unknown>): Promise<number> {
  const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(fields) });
  const body = (await response.json()) as { id: number };
  if (response.status !== 201) throw new Error(`create auction: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

test("kill -9 of a master under load with WAIT 1: no acknowledged bid is lost", async () => {
  const auctions: number[] = [];
  for (let i = 0; i < AUCTIONS; i++) auctions.push(await createAuction({ ends_at: Date.now() + HOUR }));
  const log = new ClientLog();
  const bidders: LoggedBidder[] = [];
  for (let b = 0; b < BIDDERS; b++) bidders.push(loggedBidder(await connectRaw(node.port), log.bidder(`bidder ${b}`), 100 + b));

  const scenario = (async () => {
    await Bun.sleep(500);
    const [victimPort] = await cluster.masterPorts();
    const victim = cluster.nodes.find((n) => n.port === victimPort)!;
    await victim.kill();
    await cluster.waitFailover(victimPort!, 20_000);
    // The promoted replica has no replica of its own until the old master comes back as one:
    // until then WAIT 1 cannot be met and its groups' bids are UNCONFIRMED.
    await victim.restart();
    await cluster.waitHealthy(20_000);
    await cluster.waitReplicasSynced(20_000);
    await Bun.sleep(AFTER_MS);
  })();
  await bidInRounds(bidders, auctions, scenario, { gapMs: ROUND_GAP_MS, step: 30 });

  const final = await fetchFinalState(node.httpUrl, auctions);
  assertConsistent(log, final);

  const records = log.bidders.flatMap((b) => b.records);
  const count = (status: number) => records.filter((r) => r.status === status).length;
  console.log(
    `failover with WAIT 1: ${records.length} bids: ${count(Status.ACCEPTED)} ACCEPTED, ${count(Status.OUTBID)} OUTBID, ` +
      `${count(Status.UNAVAILABLE)} UNAVAILABLE, ${count(Status.UNCONFIRMED)} UNCONFIRMED`,
  );
  // The outage was seen, and bids were ACCEPTED again once the cluster was whole.
  expect(count(Status.UNAVAILABLE) + count(Status.UNCONFIRMED)).toBeGreaterThan(0);
  const last = bidders.flatMap((b) => b.log.records.slice(-AUCTIONS));
  expect(last.some((r) => r.status === Status.ACCEPTED)).toBe(true);
  for (const b of bidders) b.client.close();
}, 120_000);

test("a master restarted empty before any failover: its groups' subscribers get ERROR RESET, the others nothing", async () => {
  const auctions: number[] = [];
  for (let i = 0; i < AUCTIONS; i++) auctions.push(await createAuction({ ends_at: Date.now() + HOUR }));
  const tags = balancedTags(16);
  const victimPort = (await cluster.masterPorts())[0]!;
  const view = await cluster.cli("CLUSTER", "NODES");
  const victimRanges = view
    .split("\n")
    .map((line) => line.trim().split(" "))
    .find((f) => f[1]!.includes(`:${victimPort}@`))!
    .slice(8)
    .map((range) => range.split("-").map(Number) as [number, number?]);
  const onVictim = (id: number) => {
    const slot = keySlot(`{${tags[shardGroup(id, 16)]}}`);
    return victimRanges.some(([lo, hi]) => slot >= lo && slot <= (hi ?? lo));
  };
  const lost = auctions.filter(onVictim);
  const kept = auctions.filter((id) => !onVictim(id));
  expect(lost.length).toBeGreaterThan(0);
  expect(kept.length).toBeGreaterThan(0);

  // One bid on each, then a subscriber per auction (its own connection: a RESET closes it).
  const bidder = await connectRaw(node.port);
  const bytes = new Uint8Array(auctions.length * BID_FRAME_SIZE);
  auctions.reduce((offset, id, i) => encodeBid(bytes, offset, i + 1, id, 7, 5_000), 0);
  bidder.send(bytes);
  await bidder.waitFor(auctions.length, 10_000);
  const subscribers = new Map<number, RawClient>();
  for (const id of auctions) {
    const client = await connectRaw(node.port);
    const frame = new Uint8Array(HEADER_SIZE + PayloadLength.SUBSCRIBE);
    encodeSubscribe(frame, 0, 1, id, 0);
    client.send(frame);
    await client.waitFor(2, 10_000); // STATE, the replayed UPDATE
    subscribers.set(id, client);
  }

  // Slow failure detection down, so the restarted (empty) master is back before any failover.
  for (const n of cluster.nodes) await Bun.$`redis-cli -p ${n.port} CONFIG SET cluster-node-timeout 15000`.quiet();
  const victim = cluster.nodes.find((n) => n.port === victimPort)!;
  await victim.restart();
  await cluster.waitHealthy(20_000);

  for (const id of lost) {
    const client = subscribers.get(id)!;
    await client.closed;
    expect(client.frames.slice(2)).toEqual([{ type: FrameType.ERROR, req: 0, code: ErrorCode.RESET, message: expect.any(String) }]);
  }
  // The others are still subscribed and were told nothing.
  await Bun.sleep(200);
  for (const id of kept) {
    expect(subscribers.get(id)!.isClosed()).toBe(false);
    expect(subscribers.get(id)!.frames.length).toBe(2);
  }
  for (const client of [bidder, ...subscribers.values()]) client.close();
}, 60_000);
