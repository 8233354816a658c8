// Gavel finding its Redis through Debian's redis-sentinel (GAVEL_REDIS_SENTINELS), with
// GAVEL_REDIS_WAIT_REPLICAS=1: the primary is killed with SIGKILL while bidders bid; the
// Sentinel promotes a replica, Gavel follows it, bids are ACCEPTED again once the other replica
// follows the new primary, and the checker over the whole run finds no acknowledged
// bid lost.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Status } from "../../src/protocol/constants.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw } from "../support/raw-client.ts";
import { SENTINEL_NAME, startSentinelSetup, type SentinelSetup } from "../support/redis-sentinel.ts";
import { assertConsistent, ClientLog, fetchFinalState } from "../support/consistency.ts";
import { bidInRounds, loggedBidder, type LoggedBidder } from "../support/bid-rounds.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTIONS = 8;
const BIDDERS = 2;
const ROUND_GAP_MS = 30;
const HOUR = 3_600_000;
/** How long Gavel may take to find the new primary through the Sentinel. */
const READY_TIMEOUT_MS = 20_000;
const CREATE_TRIES = 20;
const CREATE_RETRY_MS = 200;
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

/**
 * Creates auction `id` as a careful client does with WAIT on: a 503 (the replica did not
 * confirm in time, e.g. while it still connects) is retried with the same id, and a 409 then
 * means an earlier try was kept.
 */
async function createAuction(id: number, fields: Record<string, unknown>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ id, ...fields }) });
    const body = await response.text();
    if (response.status === 201 || (response.status === 409 && attempt > 1)) return id;
    if (response.status !== 503 || attempt === CREATE_TRIES) throw new Error(`create auction: ${response.status} ${body}`);
    await Bun.sleep(CREATE_RETRY_MS);
  }
}

test("Sentinel failover under load with WAIT 1: Gavel follows the new primary and loses no acknowledged bid", async () => {
  const auctions: number[] = [];
  for (let i = 0; i < AUCTIONS; i++) auctions.push(await createAuction(i + 1, { ends_at: Date.now() + HOUR }));
  const log = new ClientLog();
  const bidders: LoggedBidder[] = [];
  for (let b = 0; b < BIDDERS; b++) bidders.push(loggedBidder(await connectRaw(node.port), log.bidder(`bidder ${b}`), 100 + b));

  const scenario = (async () => {
    await Bun.sleep(500);
    const old = await setup.primaryPort();
    expect(old).toBe(setup.primary.port);
    await setup.primary.kill();
    await setup.waitFailover(old);
    // The Sentinel points the replica it did not promote at the new primary; once it holds
    // the new primary's data, WAIT 1 is met again.
    const promoted = await setup.primaryPort();
    await setup.waitSynced(setup.replicas.find((r) => r.port !== promoted)!);
    // Gavel has found the new primary once it is ready again.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while ((await fetch(`${node.httpUrl}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error("Gavel did not follow the new primary");
      await Bun.sleep(50);
    }
    await Bun.sleep(AFTER_MS);
  })();
  await bidInRounds(bidders, auctions, scenario, { gapMs: ROUND_GAP_MS, step: 30 });

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
