// Store faults under load, over real processes: a Gavel node on a real redis-server that is
// killed and restarted, or paused (SIGSTOP) and resumed, while bidders keep bidding. Every BID
// must be answered within a bound (UNAVAILABLE while Redis is known to be away, UNCONFIRMED for
// a call that reached it and got no answer, never a hang), no UNAVAILABLE bid may be stored,
// an UNCONFIRMED one resent must tell whether it was stored, the node must
// not crash, it must accept bids again by itself when Redis is back, the circuit breaker must
// open (fast failures) and close, each logged once, and the consistency checker must find
// nothing lost, inverted or repeated. docs/reliability.md reports what these runs saw.

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { encodeBid, encodeQuery } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, HEADER_SIZE, PayloadLength, Status } from "../../src/protocol/constants.ts";
import { GavelClient } from "../../src/client/index.ts";
import { assertConsistent, ClientLog, fetchFinalState, settle, type FinalAuction } from "../support/consistency.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw } from "../support/raw-client.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { loggedSubscriber, SteadyLoad, type LoggedSubscriber } from "../support/steady-load.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTIONS = 4;
const CONNECTIONS = 4;
/** 4 connections x 10 BIDs every 10 ms: about 4,000 bids/s offered. */
const PER_TICK = 10;
const HEALTHY_MS = 800;
/** Slack for a shared 2-core machine on top of each bound. */
const SLACK_MS = 1_000;
const PAUSE_MS = 2_500;
const QUERY_FRAME_SIZE = HEADER_SIZE + PayloadLength.QUERY;
/** The breaker has opened this long after the first timeouts. */
const OPEN_MARGIN_MS = 300;
/** Replies this soon after a kill may be for batches that were on the wire (UNCONFIRMED). */
const IN_FLIGHT_MS = 200;
/** A refusal by an open breaker takes a tick or two, not a Redis round trip. */
const FAST_MS = 200;

/** Everything a test started, stopped after it whatever happened. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function createAuctions(node: GavelProcess, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
    expect(response.status).toBe(201);
    ids.push(((await response.json()) as { id: number }).id);
  }
  return ids;
}

async function startNode(redis: RedisHandle, env: Record<string, string> = {}): Promise<GavelProcess> {
  const node = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redis.url, ...env });
  cleanups.push(() => node.kill("SIGKILL"));
  return node;
}

/**
 * A node on `redis` with a logged subscriber on every auction and steady load running for
 * HEALTHY_MS: the state each fault starts from.
 */
async function startHealthyLoad(redis: RedisHandle, env: Record<string, string> = {}) {
  const node = await startNode(redis, env);
  const auctions = await createAuctions(node, AUCTIONS);
  const log = new ClientLog();
  const sub = await loggedSubscriber(node.port, log.subscriber("sub full replay"), auctions);
  const load = await SteadyLoad.start({ port: node.port, auctions, connections: CONNECTIONS, perTick: PER_TICK, log });
  cleanups.push(() => load.close());
  await Bun.sleep(HEALTHY_MS);
  return { node, auctions, log, sub, load };
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Stops the load, waits for every reply and for the subscriber, then runs the checker. */
async function finish(node: GavelProcess, load: SteadyLoad, sub: LoggedSubscriber, log: ClientLog, auctions: number[]) {
  await load.settle();
  const final = await settle(log, async () => {
    sub.sync();
    return fetchFinalState(node.httpUrl, auctions);
  });
  sub.sync();
  load.close();
  sub.client.close();
  // UNAVAILABLE and OVERLOADED bids must not be stored; UNCONFIRMED ones may or may not be.
  assertConsistent(log, final);
  return final as FinalAuction[];
}

function bidKey(auction: number, user: number, amount: number): string {
  return `${auction}/${user}/${amount}`;
}

/** BIDs answered `status` that the store holds (each load BID has an amount of its own). */
function storedWith(log: ClientLog, final: readonly FinalAuction[], status: number): number {
  const stored = new Set(final.flatMap((a) => a.history.map((e) => bidKey(a.id, e.user, e.amount))));
  let count = 0;
  for (const bidder of log.bidders) {
    for (const r of bidder.records) if (r.status === status && stored.has(bidKey(r.auction, r.user, r.amount))) count++;
  }
  return count;
}

/**
 * Resends every BID answered UNCONFIRMED, in the order sent, with the SDK's resolveUnconfirmed,
 * and holds each answer to the contract against the final state: OUTBID naming this user at
 * this amount exactly when the first was stored and still leads, ACCEPTED only when it was not
 * stored, and never a claim of "stored" for a bid the history lacks. Returns how many were stored.
 */
async function resubmitUnconfirmed(port: number, log: ClientLog, final: readonly FinalAuction[]): Promise<{ resent: number; stored: number }> {
  const stored = new Set(final.flatMap((a) => a.history.map((e) => bidKey(a.id, e.user, e.amount))));
  const top = new Map(final.map((a) => [a.id, a.history.at(-1)]));
  const client = await GavelClient.connect({ port });
  cleanups.push(() => client.close());
  let resent = 0;
  let storedCount = 0;
  for (const bidder of log.bidders) {
    for (const r of bidder.records) {
      if (r.status !== Status.UNCONFIRMED) continue;
      resent++;
      const wasStored = stored.has(bidKey(r.auction, r.user, r.amount));
      if (wasStored) storedCount++;
      const leading = top.get(r.auction);
      const leads = leading !== undefined && leading.user === r.user && leading.amount === r.amount;
      const { stored: verdict, result } = await client.resolveUnconfirmed(r.auction, r.user, r.amount);
      const what = `UNCONFIRMED bid ${bidKey(r.auction, r.user, r.amount)} (${wasStored ? "stored" : "not stored"}${leads ? ", leading" : ""}) resent: status ${result.status}, ${result.amount} by ${result.leader}, verdict ${verdict}`;
      if (wasStored) {
        expect({ what, status: result.status, verdict }).toEqual({ what, status: Status.OUTBID, verdict: leads ? true : null });
      } else {
        expect({ what, claimsStored: verdict === true }).toEqual({ what, claimsStored: false });
        if (result.status === Status.ACCEPTED) top.set(r.auction, { seq: 0, user: r.user, amount: r.amount });
        else expect({ what, status: result.status }).toEqual({ what, status: Status.OUTBID });
      }
    }
  }
  return { resent, stored: storedCount };
}

describe("Redis faults under load", () => {
  test("Redis killed mid-load: UNAVAILABLE at once, breaker opens; restarted: ACCEPTED again without restarting Gavel", async () => {
    // AOF with fsync always, so the bids stored before the kill are still there to check after it.
    const redis = await startRedis({ appendonly: true });
    cleanups.push(() => redis.stop());
    const { node, auctions, log, sub, load } = await startHealthyLoad(redis);
    expect(load.count(Status.ACCEPTED)).toBeGreaterThan(0);

    const killedAt = Date.now();
    await redis.kill();
    await load.waitForStatus(Status.UNAVAILABLE, killedAt, 2_000);
    await Bun.sleep(1_500);
    // The batches out when the connection dropped had been written: UNCONFIRMED. Every bid
    // after that reaches no Redis: UNAVAILABLE, at once.
    const atKill = load.replies.filter((r) => r.at >= killedAt && r.at < killedAt + IN_FLIGHT_MS);
    const answeredAtKill: readonly number[] = [Status.ACCEPTED, Status.OUTBID, Status.UNCONFIRMED, Status.UNAVAILABLE];
    expect(atKill.filter((r) => !answeredAtKill.includes(r.status))).toEqual([]);
    const outage = load.replies.filter((r) => r.at >= killedAt + IN_FLIGHT_MS);
    expect(outage.length).toBeGreaterThan(1_000);
    expect(outage.every((r) => r.status === Status.UNAVAILABLE)).toBe(true);
    expect(node.output()).toContain("circuit breaker open");
    // Reads fail too, at once: QUERY gets ERROR UNAVAILABLE, the admin API 503.
    const querier = await connectRaw(node.port);
    cleanups.push(() => querier.close());
    const query = new Uint8Array(QUERY_FRAME_SIZE);
    encodeQuery(query, 0, 1, auctions[0]!);
    querier.send(query);
    const [answer] = await querier.waitFor(1, 1_000);
    expect(answer).toMatchObject({ type: FrameType.ERROR, req: 1, code: ErrorCode.UNAVAILABLE });
    expect((await fetch(`${node.httpUrl}/v1/auctions/${auctions[0]}`)).status).toBe(503);

    const restartedAt = Date.now();
    await redis.restart();
    const backAt = await load.waitForStatus(Status.ACCEPTED, restartedAt, 8_000);
    await Bun.sleep(500);
    const final = await finish(node, load, sub, log, auctions);
    expect(storedWith(log, final, Status.UNAVAILABLE)).toBe(0);
    const resubmitted = await resubmitUnconfirmed(node.port, log, final);

    expect(node.proc.exitCode).toBeNull(); // never crashed
    // A dead Redis fails each call at once: nobody waited anywhere near the command timeout.
    expect(load.maxWaitMs).toBeLessThan(2_000 + SLACK_MS);
    const output = node.output();
    expect(occurrences(output, "circuit breaker open")).toBe(1);
    expect(occurrences(output, "circuit breaker closed")).toBe(1);
    expect(occurrences(output, "closer: ")).toBeLessThanOrEqual(2); // the outage, once, and its end
    expect(final.every((a) => a.seq > 0)).toBe(true);
    console.log(
      `redis kill: ${load.sent} bids, ${load.count(Status.ACCEPTED)} ACCEPTED, ${load.count(Status.UNAVAILABLE)} UNAVAILABLE (none stored), ` +
        `${load.count(Status.UNCONFIRMED)} UNCONFIRMED (${resubmitted.stored} of them stored, told apart on resending), ` +
        `longest wait ${load.maxWaitMs} ms, ACCEPTED again ${backAt - restartedAt} ms after the restart`,
    );
  });

  test("Redis paused (SIGSTOP): UNCONFIRMED within the command timeout for the calls it holds, then UNAVAILABLE fast while the breaker is open; resumed: ACCEPTED again, no UNAVAILABLE bid stored", async () => {
    const timeoutMs = 1_000;
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const { node, auctions, log, sub, load } = await startHealthyLoad(redis, { GAVEL_REDIS_TIMEOUT_MS: String(timeoutMs) });
    expect(load.count(Status.ACCEPTED)).toBeGreaterThan(0);

    const pausedAt = Date.now();
    redis.pause();
    cleanups.push(() => redis.resume());
    await Bun.sleep(PAUSE_MS);
    const during = load.replies.filter((r) => r.at > pausedAt + 100);
    const unavailable = during.filter((r) => r.status === Status.UNAVAILABLE);
    const unconfirmed = during.filter((r) => r.status === Status.UNCONFIRMED);
    expect(during.length).toBeGreaterThan(1_000);
    expect(unavailable.length + unconfirmed.length).toBe(during.length);
    // The batches out when Redis hung wait out the timeout, and no longer: they were sent, so
    // they are UNCONFIRMED; nothing that waited less (never sent) is.
    expect(unconfirmed.length).toBeGreaterThan(0);
    expect(unconfirmed.filter((r) => r.latencyMs < timeoutMs * 0.8)).toEqual([]);
    // ...then the breaker is open and bids are refused without asking Redis: UNAVAILABLE.
    const afterOpen = unavailable.filter((r) => r.at > pausedAt + timeoutMs + OPEN_MARGIN_MS);
    const fast = afterOpen.filter((r) => r.latencyMs < FAST_MS).length;
    expect(afterOpen.filter((r) => r.latencyMs < FAST_MS && r.status !== Status.UNAVAILABLE)).toEqual([]);
    expect(afterOpen.length).toBeGreaterThan(500);
    expect(fast).toBeGreaterThanOrEqual(afterOpen.length * 0.95);
    expect(node.output()).toContain("circuit breaker open");

    const resumedAt = Date.now();
    redis.resume();
    const backAt = await load.waitForStatus(Status.ACCEPTED, resumedAt, 5_000);
    await Bun.sleep(500);
    const final = await finish(node, load, sub, log, auctions);
    // What this test is for: an UNAVAILABLE bid is never stored, even once the paused Redis
    // resumes and runs what it held; the UNCONFIRMED ones tell on resending whether they were.
    expect(storedWith(log, final, Status.UNAVAILABLE)).toBe(0);
    const resubmitted = await resubmitUnconfirmed(node.port, log, final);
    expect(resubmitted.resent).toBe(load.count(Status.UNCONFIRMED));

    expect(node.proc.exitCode).toBeNull();
    // The bound: no bid waited much longer than the timeout.
    expect(load.maxWaitMs).toBeLessThan(timeoutMs + SLACK_MS);
    expect(occurrences(node.output(), "circuit breaker open")).toBe(1);
    expect(occurrences(node.output(), "circuit breaker closed")).toBe(1);
    console.log(
      `redis pause: ${load.sent} bids, ${unavailable.length} UNAVAILABLE during the pause (none stored; ${fast} of the ${afterOpen.length} after the breaker opened within ${FAST_MS} ms), ` +
        `${unconfirmed.length} UNCONFIRMED (${resubmitted.stored} of them stored, told apart on resending), ` +
        `longest wait ${load.maxWaitMs} ms, ACCEPTED again ${backAt - resumedAt} ms after the resume`,
    );
  });

  test("a hung Redis cannot grow a queue: the ring fills, the server stops reading, memory stays flat", async () => {
    const timeoutMs = 1_500;
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    // No breaker, a small ring and batches: the drain's 8 batches of 64 hang on Redis.
    const node = await startNode(redis, {
      GAVEL_REDIS_TIMEOUT_MS: String(timeoutMs),
      GAVEL_BREAKER_FAILURES: "0",
      GAVEL_QUEUE: "1024",
      GAVEL_BATCH: "64",
    });
    const [auction] = await createAuctions(node, 1);
    const rssBefore = residentBytes(node.proc.pid);

    redis.pause();
    cleanups.push(() => redis.resume());
    const flood = await connectRaw(node.port);
    cleanups.push(() => flood.close());
    const log = new ClientLog();
    const bidder = log.bidder("flood");
    const count = 200_000;
    const bytes = new Uint8Array(count * BID_FRAME_SIZE);
    let offset = 0;
    for (let req = 1; req <= count; req++) {
      offset = encodeBid(bytes, offset, req, auction!, 7, 1000 + req);
      bidder.sent(req, auction!, 7, 1000 + req);
    }
    flood.send(bytes);
    await Bun.sleep(timeoutMs * 0.7);

    // Nothing answered yet (the batches in flight hang), and the server stopped reading: what it
    // has not read waits in the kernel (its socket's receive queue) and on the client. What it
    // did read is the ring, the batches in flight and the rest of one suspended chunk.
    expect(flood.frames.length).toBe(0);
    const total = count * BID_FRAME_SIZE;
    const queues = tcpQueues(node.port);
    const unsent = flood.unsentBytes();
    const read = total - unsent - queues.serverUnread - queues.clientUnacked;
    expect(queues.serverUnread).toBeGreaterThan(0);
    expect(read).toBeLessThan(MAX_READ_WHILE_HUNG);
    const grown = residentBytes(node.proc.pid) - rssBefore;
    expect(grown).toBeLessThan(MAX_RSS_GROWTH);

    // The timeouts answer the hung batches UNCONFIRMED (they were sent: the resumed Redis runs
    // them); once Redis is back, the rest go through.
    await flood.waitFor(1, 5_000);
    expect(flood.frames.every((f) => f.type === FrameType.RESULT && f.status === Status.UNCONFIRMED)).toBe(true);
    redis.resume();
    await flood.waitFor(count, 30_000);
    for (const frame of flood.frames) bidder.observe(frame);
    const statuses = new Map<number, number>();
    for (const r of bidder.records) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect(statuses.get(Status.ACCEPTED)).toBeGreaterThan(count / 2);
    const final = await fetchFinalState(node.httpUrl, [auction!]);
    assertConsistent(log, final);
    console.log(
      `redis paused under a flood of ${(total / 1e6).toFixed(1)} MB of bids: the server read ${(read / 1e3).toFixed(0)} kB; ` +
        `${(queues.serverUnread / 1e6).toFixed(1)} MB waited unread in its socket, ${(unsent / 1e6).toFixed(1)} MB on the client; RSS +${(grown / 1e6).toFixed(1)} MB; ` +
        `then ${statuses.get(Status.UNCONFIRMED) ?? 0} UNCONFIRMED (${storedWith(log, final, Status.UNCONFIRMED)} of them stored), ` +
        `${statuses.get(Status.UNAVAILABLE) ?? 0} UNAVAILABLE, ${statuses.get(Status.ACCEPTED)} ACCEPTED`,
    );
  });
});

/** Bytes a server may hold while its store hangs: ring and batches (1,536 bids), one read chunk, and room. */
const MAX_READ_WHILE_HUNG = 512 * 1024;
const MAX_RSS_GROWTH = 32 * 1024 * 1024;
/** /proc/net/tcp's state code for ESTABLISHED. */
const TCP_ESTABLISHED = "01";

/**
 * The kernel's queues of the loopback connections to `port` (Linux, /proc/net/tcp): bytes the
 * server side has received but not read, and bytes the client side sent that are not yet acked.
 */
function tcpQueues(port: number): { serverUnread: number; clientUnacked: number } {
  let serverUnread = 0;
  let clientUnacked = 0;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[3] !== TCP_ESTABLISHED) continue;
    const localPort = parseInt(fields[1]!.split(":")[1]!, 16);
    const remotePort = parseInt(fields[2]!.split(":")[1]!, 16);
    const [tx, rx] = fields[4]!.split(":").map((hex) => parseInt(hex, 16)) as [number, number];
    if (localPort === port) serverUnread += rx;
    if (remotePort === port) clientUnacked += tx;
  }
  return { serverUnread, clientUnacked };
}

/** VmRSS of a process, in bytes (Linux). */
function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}
