// A master of a real Redis Cluster killed with SIGKILL while bidders bid, with
// GAVEL_REDIS_WAIT_REPLICAS=1: bids on its groups get UNAVAILABLE or UNCONFIRMED while its
// replica is promoted (and, with WAIT 1, until the restarted node has rejoined as that new
// master's replica), then ACCEPTED again; the consistency and linearizability checker over the
// whole run finds no acknowledged bid lost.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeBid } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, Status } from "../../src/protocol/constants.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { startRedisCluster, type ClusterHandle } from "../support/redis-cluster.ts";
import { assertConsistent, ClientLog, fetchFinalState, type BidderLog } from "../support/consistency.ts";
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
  const bidders: { client: RawClient; log: BidderLog; user: number; req: number; seen: number }[] = [];
  for (let b = 0; b < BIDDERS; b++) bidders.push({ client: await connectRaw(node.port), log: log.bidder(`bidder ${b}`), user: 100 + b, req: 0, seen: 0 });

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
  let done = false;
  void scenario.finally(() => {
    done = true;
  });

  let round = 0;
  while (!done) {
    for (const bidder of bidders) {
      const bytes = new Uint8Array(AUCTIONS * BID_FRAME_SIZE);
      let offset = 0;
      for (const auction of auctions) {
        const amount = 1000 + round * 30 + bidder.user;
        offset = encodeBid(bytes, offset, ++bidder.req, auction, bidder.user, amount);
        bidder.log.sent(bidder.req, auction, bidder.user, amount);
      }
      bidder.client.send(bytes);
    }
    round++;
    await Bun.sleep(ROUND_GAP_MS);
  }
  await scenario;
  await Promise.all(bidders.map((b) => b.client.waitFor(b.req, 30_000)));
  for (const b of bidders) for (; b.seen < b.client.frames.length; b.seen++) b.log.observe(b.client.frames[b.seen]!);

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
