// SIGTERM: stop accepting, answer every request already received, close the store, exit 0.
// First one pipelined burst per signal; then SIGTERM in the middle of a steady load from several
// connections (SQLite and Redis), with the consistency checker over what was stored.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBid, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, Status } from "../../src/protocol/constants.ts";
import { connectRaw } from "../support/raw-client.ts";
import { spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { assertConsistent, ClientLog, fetchFinalState, type BidderLog, type FinalAuction } from "../support/consistency.ts";
import { loggedSubscriber, SteadyLoad } from "../support/steady-load.ts";
import { startRedis } from "../support/redis.ts";

allowSlowTests();

describe("graceful shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} mid-stream: every request read gets its reply, then exit 0`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "gavel-stop-"));
      try {
        const node = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") });
        const created = await fetch(`${node.httpUrl}/v1/auctions`, {
          method: "POST",
          body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }),
        });
        const auction = (await created.json()) as { id: number };
        const client = await connectRaw(node.port);
        const count = 20_000;
        const bytes = new Uint8Array(count * BID_FRAME_SIZE);
        let offset = 0;
        for (let i = 0; i < count; i++) offset = encodeBid(bytes, offset, i + 1, auction.id, 7, 100 + i);
        client.send(bytes);
        await client.waitFor(1);
        const exitCode = await node.kill(signal);
        await client.closed;

        expect(exitCode).toBe(0);
        const replies = client.frames as Extract<Frame, { req: number }>[];
        const reqs = replies.map((f) => f.req);
        // Exactly one reply per request the server read, and no request answered twice.
        expect(new Set(reqs).size).toBe(reqs.length);
        for (const frame of client.frames) {
          const ok =
            (frame.type === FrameType.RESULT && frame.status === Status.ACCEPTED) ||
            (frame.type === FrameType.ERROR && frame.code === ErrorCode.SHUTTING_DOWN);
          expect(ok).toBe(true);
        }
        // Requests are read in order, so the answered ones are a prefix 1..n.
        expect(Math.max(...reqs)).toBe(reqs.length);
        expect(node.output()).toContain("stopped");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

const LOAD_CONNECTIONS = 4;
/**
 * 4 connections x 200 BIDs every 2 ms: 400,000 bids/s offered, more than the server takes, so
 * at the signal its sockets hold bids it has not read yet, and more keep coming.
 */
const LOAD_PER_TICK = 200;
const LOAD_TICK_MS = 2;
const LOAD_BEFORE_SIGNAL_MS = 800;

/**
 * Per connection, what the server read is a prefix of what was sent (it reads in order), so the
 * answered reqs must be exactly 1..n: a hole is a request read and left unanswered. Each answer is
 * a RESULT or ERROR SHUTTING_DOWN, and once one request got SHUTTING_DOWN every later one did.
 * Returns the number answered per connection.
 */
function expectAnsweredPrefix(bidders: readonly BidderLog[]): number[] {
  const problems: string[] = [];
  const counts = bidders.map((bidder) => {
    let n = 0;
    while (n < bidder.records.length && bidder.records[n]!.replies > 0) n++;
    let shuttingDown = false;
    bidder.records.forEach((r, i) => {
      const what = `${bidder.label} req ${r.req}`;
      if (i >= n && r.replies > 0) problems.push(`${what} answered after the unanswered req ${bidder.records[n]!.req}: a hole`);
      if (r.replies > 1) problems.push(`${what} answered ${r.replies} times`);
      if (r.replies === 0) return;
      if (r.errorCode !== 0) {
        if (r.errorCode !== ErrorCode.SHUTTING_DOWN) problems.push(`${what}: ERROR ${r.errorCode}`);
        shuttingDown = true;
      } else if (shuttingDown) problems.push(`${what}: a RESULT after an earlier request got SHUTTING_DOWN`);
    });
    return n;
  });
  expect(problems).toEqual([]);
  return counts;
}

/** The log with only the answered BIDs: the unanswered tail was never read, so it must not be stored. */
function answeredOnly(log: ClientLog): ClientLog {
  const trimmed = new ClientLog();
  for (const bidder of log.bidders) {
    const copy = trimmed.bidder(bidder.label);
    for (const r of bidder.records) {
      if (r.replies === 0) continue;
      copy.sent(r.req, r.auction, r.user, r.amount, r.sentAt);
      if (r.errorCode !== 0) copy.error(r.req, r.errorCode, r.receivedAt);
      else copy.result(r.req, r.status, r.resultAuction, r.resultAmount, r.resultLeader, r.receivedAt);
    }
  }
  for (const sub of log.subscribers) trimmed.subscribers.push(sub);
  return trimmed;
}

describe("graceful shutdown under load", () => {
  for (const storeKind of ["sqlite", "redis"] as const) {
    test(`SIGTERM while ${LOAD_CONNECTIONS} connections stream bids (${storeKind}): every request read answered, nothing else stored`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "gavel-stop-load-"));
      const redis = storeKind === "redis" ? await startRedis() : null;
      const env: Record<string, string> =
        redis === null ? { GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") } : { GAVEL_STORE: "redis", REDIS_URL: redis.url };
      let restarted: Awaited<ReturnType<typeof spawnGavel>> | null = null;
      let load: SteadyLoad | null = null;
      try {
        const node = await spawnGavel(env);
        const auctions: number[] = [];
        for (let i = 0; i < 4; i++) {
          const created = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
          auctions.push(((await created.json()) as { id: number }).id);
        }
        const log = new ClientLog();
        const sub = await loggedSubscriber(node.port, log.subscriber("sub full replay"), auctions);
        load = await SteadyLoad.start({ port: node.port, auctions, connections: LOAD_CONNECTIONS, perTick: LOAD_PER_TICK, tickMs: LOAD_TICK_MS, log });
        await Bun.sleep(LOAD_BEFORE_SIGNAL_MS);
        // Signal right after a tick's BIDs went out; the load keeps sending through the grace period.
        await load.waitForOutstanding(LOAD_CONNECTIONS * LOAD_PER_TICK);
        const signalledAt = Date.now();
        const exitCode = await node.kill("SIGTERM");
        const stoppedMs = Date.now() - signalledAt;
        await load.settle(); // every connection closed by the server
        load.close();
        sub.sync();
        expect(exitCode).toBe(0);
        expect(node.output()).toContain("stopped");

        const answered = expectAnsweredPrefix(log.bidders);
        const records = log.bidders.flatMap((b) => b.records);
        const results = records.filter((r) => r.replies > 0 && r.errorCode === 0).length;
        const shuttingDown = records.filter((r) => r.errorCode === ErrorCode.SHUTTING_DOWN).length;
        expect(results).toBeGreaterThan(0);

        // What was stored is exactly what was acknowledged: reopen the store and check.
        restarted = await spawnGavel(env);
        const final = (await fetchFinalState(restarted.httpUrl, auctions)) as FinalAuction[];
        assertConsistent(answeredOnly(log), final, { requireCaughtUp: false });
        console.log(
          `SIGTERM under load (${storeKind}): ${records.length} bids sent, ${results} RESULTs, ${shuttingDown} SHUTTING_DOWN, ` +
            `${records.length - answered.reduce((a, b) => a + b, 0)} never read; stopped in ${stoppedMs} ms; final seqs ${final.map((a) => a.seq).join(", ")}`,
        );
      } finally {
        load?.close();
        if (restarted !== null) await restarted.kill("SIGKILL");
        await redis?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
