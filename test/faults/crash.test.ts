// Crash safety over real processes: a Gavel node is killed with SIGKILL while several bidders
// stream bids at it, then started again on the same data (SQLite file; Redis with AOF
// appendfsync always). Every bid any client saw ACCEPTED must be in the auction, the history's
// seqs must still run 1..n, and bidding goes on where it stopped. The consistency checker runs
// over both lives of the node (allowUnacknowledged: a bid stored just before the kill may have
// lost its reply). docs/reliability.md reports what these runs saw.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Status } from "../../src/protocol/constants.ts";
import { assertConsistent, ClientLog, fetchFinalState, NO_RESULT, settle, type FinalAuction } from "../support/consistency.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { startRedis } from "../support/redis.ts";
import { loggedSubscriber, SteadyLoad } from "../support/steady-load.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTIONS = 4;
const CONNECTIONS = 4;
/** 4 connections x 50 BIDs every 10 ms: about 20,000 bids/s offered. */
const PER_TICK = 50;
const BEFORE_KILL_MS = 800;
const AFTER_RESTART_MS = 500;
/** The second life bids above anything the first could have sent. */
const SECOND_LIFE_AMOUNT = 10_000_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNode(env: Record<string, string>): Promise<GavelProcess> {
  const node = await spawnGavel(env);
  cleanups.push(() => node.kill("SIGKILL"));
  return node;
}

async function createAuctions(node: GavelProcess): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < AUCTIONS; i++) {
    const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
    expect(response.status).toBe(201);
    ids.push(((await response.json()) as { id: number }).id);
  }
  return ids;
}

/** Bids, kill -9 mid-stream, restart, bid again; then the checker over everything. */
async function killAndRestart(storeName: string, env: Record<string, string>) {
  const first = await startNode(env);
  const auctions = await createAuctions(first);
  const log = new ClientLog();
  const firstSub = await loggedSubscriber(first.port, log.subscriber("sub, first life"), auctions);
  const before = await SteadyLoad.start({ port: first.port, auctions, connections: CONNECTIONS, perTick: PER_TICK, log, label: "first life" });
  cleanups.push(() => before.close());
  await Bun.sleep(BEFORE_KILL_MS);
  expect(before.count(Status.ACCEPTED)).toBeGreaterThan(0);

  // Kill right after a tick's BIDs went out, while the server is applying and answering them.
  await before.waitForOutstanding(CONNECTIONS * PER_TICK);
  await first.kill("SIGKILL");
  await before.settle(); // returns once every connection is closed: nothing more can come
  before.close();
  firstSub.sync();
  expect(firstSub.log.isDisconnected).toBe(true);

  const second = await startNode(env);
  const secondSub = await loggedSubscriber(second.port, log.subscriber("sub, second life, full replay"), auctions);
  const after = await SteadyLoad.start({
    port: second.port,
    auctions,
    connections: CONNECTIONS,
    perTick: PER_TICK,
    log,
    label: "second life",
    firstAmount: SECOND_LIFE_AMOUNT,
  });
  cleanups.push(() => after.close());
  await Bun.sleep(AFTER_RESTART_MS);
  await after.settle();
  const final = (await settle(log, async () => {
    secondSub.sync();
    return fetchFinalState(second.httpUrl, auctions);
  })) as FinalAuction[];
  secondSub.sync();
  after.close();
  secondSub.client.close();

  assertConsistent(log, final, { allowUnacknowledged: true });
  expect(after.count(Status.ACCEPTED)).toBeGreaterThan(0);
  expect(second.output()).not.toContain("error");

  const unanswered = log.bidders.flatMap((b) => b.records).filter((r) => r.replies === 0);
  const stored = new Set(final.flatMap((a) => a.history.map((e) => `${a.id}/${e.user}/${e.amount}`)));
  const unansweredStored = unanswered.filter((r) => stored.has(`${r.auction}/${r.user}/${r.amount}`)).length;
  expect(unanswered.every((r) => r.status === NO_RESULT)).toBe(true);
  console.log(
    `kill -9 on ${storeName}: first life ${before.sent} bids, ${before.count(Status.ACCEPTED)} ACCEPTED, ${unanswered.length} unanswered at the kill ` +
      `(${unansweredStored} of them stored); second life ${after.sent} bids, ${after.count(Status.ACCEPTED)} ACCEPTED; ` +
      `final seqs ${final.map((a) => a.seq).join(", ")}`,
  );
}

describe("kill -9 under load, then restart: every acknowledged bid is kept", () => {
  test("sqlite", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gavel-crash-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await killAndRestart("sqlite", { GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") });
  });

  test("redis with appendonly yes, appendfsync always", async () => {
    const redis = await startRedis({ appendonly: true });
    cleanups.push(() => redis.stop());
    await killAndRestart("redis", { GAVEL_STORE: "redis", REDIS_URL: redis.url });
  });
});
