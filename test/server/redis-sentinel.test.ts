// Gavel finding its Redis through Debian's redis-sentinel (GAVEL_REDIS_SENTINELS), with
// GAVEL_REDIS_WAIT_REPLICAS=1: the primary is killed with SIGKILL while bidders bid; the
// Sentinel promotes the replica, Gavel follows it, bids are ACCEPTED again once the old primary
// is back as the new one's replica, and the checker over the whole run finds no acknowledged
// bid lost.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeBid } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, Status } from "../../src/protocol/constants.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { SENTINEL_NAME, startSentinelSetup, type SentinelSetup } from "../support/redis-sentinel.ts";
import { assertConsistent, ClientLog, fetchFinalState, type BidderLog } from "../support/consistency.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTIONS = 8;
const BIDDERS = 2;
const ROUND_GAP_MS = 30;
const HOUR = 3_600_000;
/** Bidding goes on this long after the old primary is a synced replica again. */
const AFTER_MS = 1_000;

let setup: SentinelSetup;
let node: GavelProcess;

beforeAll(async () => {
  setup = await startSentinelSetup();
  node = await spawnGavel({
    GAVEL_STORE: "redis",
    GAVEL_REDIS_SENTINELS: setup.sentinels,
    GAVEL_REDIS_SENTINEL_NAME: SENTINEL_NAME,
    GAVEL_REDIS_WAIT_REPLICAS: "1",
    GAVEL_BREAKER_FAILURES: "0",
  });
});

afterAll(async () => {
  await node?.kill("SIGKILL");
  await setup?.stop();
});

async function createAuction(fields: Record<string, unknown>): Promise<number> {
  const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(fields) });
  const body = (await response.json()) as { id: number };
  if (response.status !== 201) throw new Error(`create auction: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

test("Sentinel failover under load with WAIT 1: Gavel follows the new primary and loses no acknowledged bid", async () => {
  const auctions: number[] = [];
  for (let i = 0; i < AUCTIONS; i++) auctions.push(await createAuction({ ends_at: Date.now() + HOUR }));
  const log = new ClientLog();
  const bidders: { client: RawClient; log: BidderLog; user: number; req: number; seen: number }[] = [];
  for (let b = 0; b < BIDDERS; b++) bidders.push({ client: await connectRaw(node.port), log: log.bidder(`bidder ${b}`), user: 100 + b, req: 0, seen: 0 });

  const scenario = (async () => {
    await Bun.sleep(500);
    const old = await setup.primaryPort();
    expect(old).toBe(setup.primary.port);
    await setup.primary.kill();
    await setup.waitFailover(old);
    // The old primary comes back empty; the Sentinel makes it the new primary's replica.
    await setup.primary.restart();
    await setup.waitSynced(setup.primary);
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
    `sentinel failover with WAIT 1: ${records.length} bids: ${count(Status.ACCEPTED)} ACCEPTED, ${count(Status.OUTBID)} OUTBID, ` +
      `${count(Status.UNAVAILABLE)} UNAVAILABLE, ${count(Status.UNCONFIRMED)} UNCONFIRMED`,
  );
  expect(count(Status.UNAVAILABLE) + count(Status.UNCONFIRMED)).toBeGreaterThan(0);
  const last = bidders.flatMap((b) => b.log.records.slice(-AUCTIONS));
  expect(last.every((r) => r.status === Status.ACCEPTED || r.status === Status.OUTBID)).toBe(true);
  for (const b of bidders) b.client.close();
}, 120_000);
