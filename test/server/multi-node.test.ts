// Several server processes on one real Redis: every UPDATE reaches the subscribers of every
// node in seq order with no gap, across resubscribes with `since` and across cuts of each
// node's Redis subscriber connection; closing, buy-now and cancel are seen once everywhere.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { encodeBid, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, FrameType, Phase, Status } from "../../src/protocol/constants.ts";
import { FEED_CONNECTION_NAME } from "../../src/store/redis.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { expectSeqRun, subscribe, type Subscriber, type Update } from "../support/subscriber.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

type Result = Extract<Frame, { type: typeof FrameType.RESULT }>;

// The preload's 60 s default reaches only the first file of a run; these tests start servers.

const NODES = 3;
/** The closer's default interval: the "within a second of ends_at" promise holds with it. */
const CLOSE_INTERVAL_MS = "250";
/** Bids per pipelined write of a streaming bidder, and how many may wait for a reply. */
const CHUNK = 250;
const WINDOW = 2_000;
/** Between chunks of the stream the feed cuts land in: 8,000 bids take about 1.6 s. */
const STREAM_PAUSE_MS = 50;
/** How far past a cut point a stream may run before it waits for that cut. */
const CUT_LEAD = 400;
/** The resubscribe test's stream: 4,000 bids over about 0.4 s. */
const RESUBSCRIBE_PAUSE_MS = 25;
/** What the tests allow between ends_at and a subscriber's CLOSED on a busy 2-core machine. */
const CLOSE_BOUND_MS = 3_000;
/** Redis TIME (the store's clock) and this process's clock agree to a few ms on one host. */
const CLOCK_SLACK_MS = 50;

let redis: RedisHandle;
let admin: Redis;
const nodes: GavelProcess[] = [];
const [A, B, C] = [0, 1, 2];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  await stopNodes();
  admin?.disconnect();
  await redis?.stop();
});

/** Starts the three nodes with GAVEL_REDIS_FEED=`feedMode`. */
async function startNodes(feedMode: string): Promise<void> {
  const env = { REDIS_URL: redis.url, GAVEL_CLOSE_INTERVAL_MS: CLOSE_INTERVAL_MS, GAVEL_REDIS_FEED: feedMode };
  // One at a time: three cold starts at once crowd two cores.
  for (let i = 0; i < NODES; i++) nodes.push(await spawnGavel(env));
}

async function stopNodes(): Promise<void> {
  for (const node of nodes.splice(0)) await node.kill("SIGKILL");
}

async function createAuction(node: number, fields: Record<string, unknown>): Promise<{ id: number; ends_at: number }> {
  const response = await fetch(`${nodes[node]!.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(fields) });
  const body = (await response.json()) as { id: number; ends_at: number };
  if (response.status !== 201) throw new Error(`create auction: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

function openFor(ms: number, fields: Record<string, unknown> = {}) {
  return { ends_at: Date.now() + ms, ...fields };
}

/**
 * Sends `count` rising bids (amounts `start`, `start + 1`, ...) from one connection, pipelined
 * in chunks with at most WINDOW unanswered and `pauseMs` between chunks; resolves with every
 * RESULT once all are answered.
 */
/**
 * Streams `count` ACCEPTED bids in chunks. `gate`, when given, is awaited before each chunk with
 * the number sent so far: a test holds the stream there until it has done what must land
 * mid-stream, however slow the machine.
 */
async function streamBids(
  port: number,
  auction: number,
  count: number,
  start: number,
  user = 7,
  pauseMs = 0,
  gate?: (sent: number) => Promise<void>,
): Promise<Result[]> {
  const client = await connectRaw(port);
  try {
    let sent = 0;
    while (sent < count) {
      if (sent - client.frames.length >= WINDOW) {
        await Bun.sleep(1);
        continue;
      }
      if (gate) await gate(sent);
      const n = Math.min(CHUNK, count - sent);
      const bytes = new Uint8Array(n * BID_FRAME_SIZE);
      let offset = 0;
      for (let i = 0; i < n; i++, sent++) offset = encodeBid(bytes, offset, sent + 1, auction, user, start + sent);
      client.send(bytes);
      await Bun.sleep(pauseMs);
    }
    return (await client.waitFor(count, 60_000)) as Result[];
  } finally {
    client.close();
  }
}

/** Every result ACCEPTED, so seq i carries amount start + i - 1. */
function expectAllAccepted(results: Result[]): void {
  const refused = results.filter((r) => r.status !== Status.ACCEPTED);
  expect(refused.length).toBe(0);
}

function expectAmounts(updates: Update[], start: number, leader: number): void {
  for (const u of updates) {
    if (u.amount !== start + u.seq - 1 || u.leader !== leader) {
      throw new Error(`seq ${u.seq}: amount ${u.amount} leader ${u.leader}, expected ${start + u.seq - 1} by ${leader}`);
    }
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/**
 * The number of Gavel feed connections Redis holds that have subscribed (one per node once each
 * has resubscribed); with `subscribedOnly` false, every one: with GAVEL_REDIS_FEED=subscribed a
 * node following nothing holds no channel, and Redis lists its connection as a normal one.
 */
async function feedConnections(subscribedOnly = true): Promise<number> {
  const list = String(await (subscribedOnly ? admin.call("CLIENT", "LIST", "TYPE", "pubsub") : admin.call("CLIENT", "LIST")));
  return list.split("\n").filter((line) => line.includes(`name=${FEED_CONNECTION_NAME}`)).length;
}

/** Every case below runs with both feeds: every group's channel, and only the followed groups'. */
const FEED_MODES = ["all", "subscribed"] as const;

for (const feedMode of FEED_MODES) {
  describe(`GAVEL_REDIS_FEED=${feedMode}`, () => {
    beforeAll(() => startNodes(feedMode));
    afterAll(stopNodes);
    cases();
  });
}

function cases(): void {
  describe("fan-out across nodes", () => {
    test("a subscriber on node B sees every bid placed on node A, in seq order, no gap", async () => {
      const count = 5_000;
      const start = 1_000;
      const a = await createAuction(A, openFor(3_600_000));
      const onB = await subscribe(nodes[B]!.port, [a.id]);
      const onA = await subscribe(nodes[A]!.port, [a.id]);
      try {
        expect(onB.states()[0]).toMatchObject({ auction: a.id, phase: Phase.OPEN, seq: 0 });
        expectAllAccepted(await streamBids(nodes[A]!.port, a.id, count, start));
        await onB.waitForSeq(a.id, count);
        await onA.waitForSeq(a.id, count);
        expectSeqRun(onB.updates(a.id), 1, count);
        expectSeqRun(onA.updates(a.id), 1, count);
        expectAmounts(onB.updates(a.id), start, 7);
        expect(onB.updates(a.id).at(-1)).toMatchObject({ amount: start + count - 1, endsAt: a.ends_at });
      } finally {
        onA.close();
        onB.close();
      }
    });

    test("bids racing on two nodes: subscribers on all three see one seq run", async () => {
      const perNode = 1_500;
      const a = await createAuction(C, openFor(3_600_000));
      const subs = await Promise.all(nodes.map((node) => subscribe(node.port, [a.id])));
      try {
        // Interleaved amounts: node A's bidder bids even amounts, node B's odd, both rising.
        const bidOn = async (node: number, user: number, parity: number) => {
          const client = await connectRaw(nodes[node]!.port);
          const bytes = new Uint8Array(perNode * BID_FRAME_SIZE);
          let offset = 0;
          for (let i = 0; i < perNode; i++) offset = encodeBid(bytes, offset, i + 1, a.id, user, 100 + 2 * i + parity);
          client.send(bytes);
          const results = (await client.waitFor(perNode, 60_000)) as Result[];
          client.close();
          return results;
        };
        const results = (await Promise.all([bidOn(A, 1, 0), bidOn(B, 2, 1)])).flat();
        const accepted = results.filter((r) => r.status === Status.ACCEPTED).length;
        expect(accepted).toBeGreaterThan(0);
        for (const sub of subs) {
          await sub.waitForSeq(a.id, accepted);
          expectSeqRun(sub.updates(a.id), 1, accepted);
        }
        // Every node saw the same UPDATEs, and amounts rise with seq.
        const reference = JSON.stringify(subs[0]!.updates(a.id));
        for (const sub of subs) expect(JSON.stringify(sub.updates(a.id))).toBe(reference);
        const amounts = subs[0]!.updates(a.id).map((u) => u.amount);
        for (let i = 1; i < amounts.length; i++) expect(amounts[i]! > amounts[i - 1]!).toBe(true);
      } finally {
        for (const sub of subs) sub.close();
      }
    });

    test("a subscriber that leaves mid-stream and resubscribes on another node with since sees exactly what it missed", async () => {
      const count = 4_000;
      const start = 500;
      const a = await createAuction(A, openFor(3_600_000));
      const first = await subscribe(nodes[B]!.port, [a.id]);
      const bidding = streamBids(nodes[A]!.port, a.id, count, start, 7, RESUBSCRIBE_PAUSE_MS);
      // Leave somewhere in the middle of the stream.
      await first.waitForSeq(a.id, count / 4);
      const seen = first.updates(a.id).slice();
      first.close();
      const last = seen.at(-1)!.seq;
      expectSeqRun(seen, 1, last);

      const again = await subscribe(nodes[C]!.port, [a.id], last);
      try {
        expectAllAccepted(await bidding);
        await again.waitForSeq(a.id, count);
        // Exactly the missed ones, each once, in order: the replay from the history, then live.
        expectSeqRun(again.updates(a.id), last + 1, count);
        expectAmounts(again.updates(a.id), start, 7);
        // It came back while bids still flowed: part replay, part live.
        expect(again.states()[0]!.seq).toBeGreaterThanOrEqual(last);
        expect(again.states()[0]!.seq).toBeLessThan(count);

        // After the stream: a resubscribe far behind replays everything from the history.
        const late = await subscribe(nodes[A]!.port, [a.id], 10);
        await late.waitForSeq(a.id, count);
        expectSeqRun(late.updates(a.id), 11, count);
        late.close();
      } finally {
        again.close();
      }
    });
  });

  describe("the Redis subscriber connection is cut", () => {
    test("CLIENT KILL TYPE pubsub several times mid-stream: every node's subscribers still see every seq once, in order", async () => {
      const count = 8_000;
      const kills = 5;
      const x = await createAuction(A, openFor(3_600_000));
      const y = await createAuction(B, openFor(3_600_000));
      // Two subscribers per node, each following both auctions.
      const subs: Subscriber[] = [];
      for (const node of nodes) for (let k = 0; k < 2; k++) subs.push(await subscribe(node.port, [x.id, y.id]));
      expect(await feedConnections()).toBe(NODES);
      try {
        // Cut every node's feed at points spread over the stream, as seen from node C. Each
        // stream waits a little past each cut point until that cut is done, so on a slow
        // machine the stream cannot end before its cuts.
        const cutPoint = (k: number) => Math.floor((count * k) / (kills + 1));
        const cutDone = Array.from({ length: kills + 1 }, () => Promise.withResolvers<void>());
        const gate = async (sent: number) => {
          for (let k = 1; k <= kills; k++) if (sent >= cutPoint(k) + CUT_LEAD) await cutDone[k]!.promise;
        };
        // Paced, so that the stream lasts well over a second and every cut lands inside it.
        const bidding = Promise.all([
          streamBids(nodes[A]!.port, x.id, count, 1_000, 3, STREAM_PAUSE_MS, gate),
          streamBids(nodes[B]!.port, y.id, count, 2_000, 4, STREAM_PAUSE_MS, gate),
        ]);
        const watcher = subs[subs.length - 1]!;
        const progress = () => Math.min(watcher.updates(x.id).at(-1)?.seq ?? 0, watcher.updates(y.id).at(-1)?.seq ?? 0);
        let killed = 0;
        for (let k = 1; k <= kills; k++) {
          const at = cutPoint(k);
          await until(() => progress() >= at, `seq ${at}`, 60_000);
          killed += Number(await admin.call("CLIENT", "KILL", "TYPE", "pubsub"));
          cutDone[k]!.resolve();
          expect(progress()).toBeLessThan(count); // mid-stream
          // Let the nodes resubscribe before the next cut, so each cut lands on a live feed.
          await until(async () => (await feedConnections()) === NODES, "the feeds to resubscribe");
        }
        expect(killed).toBeGreaterThanOrEqual(kills * NODES);
        const [xs, ys] = await bidding;
        expectAllAccepted(xs!);
        expectAllAccepted(ys!);

        for (const sub of subs) {
          await sub.waitForSeq(x.id, count, 30_000);
          await sub.waitForSeq(y.id, count, 30_000);
          expectSeqRun(sub.updates(x.id), 1, count);
          expectSeqRun(sub.updates(y.id), 1, count);
          expectAmounts(sub.updates(x.id), 1_000, 3);
          expectAmounts(sub.updates(y.id), 2_000, 4);
        }
        // Each node logged the cuts and the healing.
        for (const node of nodes) expect(node.output()).toContain("update feed restored");
      } finally {
        for (const sub of subs) sub.close();
      }
    });

    test("a cut while no bid flows: the bids placed during the cut are healed from the history without a later bid", async () => {
      const a = await createAuction(A, openFor(3_600_000));
      const onC = await subscribe(nodes[C]!.port, [a.id]);
      try {
        const bidder = await connectRaw(nodes[A]!.port);
        // Cut the feeds, then bid at once: the nodes resubscribe only after their reconnect
        // delay (50 ms), so these UPDATEs are published to no one, and no bid follows to reveal
        // the gap. Only node C's resync, reading the history, can bring them.
        const bytes = new Uint8Array(50 * BID_FRAME_SIZE);
        let offset = 0;
        for (let i = 0; i < 50; i++) offset = encodeBid(bytes, offset, i + 1, a.id, 9, 10 + i);
        await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
        bidder.send(bytes);
        await bidder.waitFor(50);
        bidder.close();
        await onC.waitForSeq(a.id, 50);
        expectSeqRun(onC.updates(a.id), 1, 50);
        await until(async () => (await feedConnections(false)) === NODES, "the feeds to reconnect");
      } finally {
        onC.close();
      }
    });
  });

  describe("closing with three nodes", () => {
    test("auctions closing at once: exactly one CLOSED per subscriber, one winner, within the bound of ends_at", async () => {
      const endsAt = Date.now() + 2_500;
      // Two sell (reserve met or none), one misses its reserve, one has no bid.
      const specs = [
        { reserve: 0, bids: [[A, 11, 100], [B, 12, 150]] },
        { reserve: 500, bids: [[C, 21, 600]] },
        { reserve: 1_000, bids: [[A, 31, 200], [C, 32, 400]] },
        { reserve: 0, bids: [] },
        { reserve: 0, bids: [[B, 51, 10], [B, 52, 20], [A, 53, 30]] },
      ] as const;
      const auctions = [];
      for (let i = 0; i < specs.length; i++) auctions.push(await createAuction(i % NODES, { ends_at: endsAt, reserve: specs[i]!.reserve }));
      const ids = auctions.map((a) => a.id);
      // Subscribers spread over the three nodes, two each, every one following every auction.
      const subs: Subscriber[] = [];
      for (const node of nodes) for (let k = 0; k < 2; k++) subs.push(await subscribe(node.port, ids));
      const clients = await Promise.all(nodes.map((node) => connectRaw(node.port)));
      try {
        let req = 0;
        const expected = new Map<number, { seq: number; winner: number; amount: number }>();
        for (let i = 0; i < specs.length; i++) {
          const { reserve, bids } = specs[i]!;
          for (const [node, user, amount] of bids) {
            const bytes = new Uint8Array(BID_FRAME_SIZE);
            encodeBid(bytes, 0, ++req, ids[i]!, user, amount);
            const client = clients[node]!;
            const before = client.frames.length;
            client.send(bytes);
            await client.waitFor(before + 1);
            expect((client.frames.at(-1) as Result).status).toBe(Status.ACCEPTED);
          }
          const top = bids.at(-1);
          const sold = top !== undefined && top[2] >= reserve;
          expected.set(ids[i]!, { seq: bids.length, winner: sold ? top[1] : 0, amount: sold ? top[2] : 0 });
        }

        // Wait for every CLOSED, noting when each arrived.
        const arrivals: number[] = [];
        await Promise.all(
          subs.flatMap((sub) =>
            ids.map(async (id) => {
              await sub.waitForClosed(id, 15_000);
              arrivals.push(Date.now());
            }),
          ),
        );
        expect(Math.min(...arrivals)).toBeGreaterThanOrEqual(endsAt - CLOCK_SLACK_MS);
        expect(Math.max(...arrivals) - endsAt).toBeLessThan(CLOSE_BOUND_MS);

        // Nothing more arrives: one CLOSED per subscriber and auction, the same everywhere.
        await Bun.sleep(600);
        for (const sub of subs) {
          for (const id of ids) {
            const closed = sub.closed(id);
            expect(closed).toHaveLength(1);
            expect(closed[0]).toMatchObject({ auction: id, ...expected.get(id)! });
          }
        }
        // A bid after the close, on any node, gets CLOSED.
        const late = new Uint8Array(BID_FRAME_SIZE);
        encodeBid(late, 0, ++req, ids[0]!, 99, 1_000_000);
        clients[C]!.send(late);
        await clients[C]!.waitFor(clients[C]!.frames.length + 1);
        expect((clients[C]!.frames.at(-1) as Result).status).toBe(Status.CLOSED);
      } finally {
        for (const sub of subs) sub.close();
        for (const client of clients) client.close();
      }
    });
  });

  describe("buy-now and cancel across nodes", () => {
    test("a buy-now on node A: subscribers on B and C get its UPDATE, then CLOSED with the buyer", async () => {
      const a = await createAuction(A, openFor(3_600_000, { buy_now_price: 5_000, reserve: 1_000 }));
      const subs = await Promise.all([subscribe(nodes[B]!.port, [a.id]), subscribe(nodes[C]!.port, [a.id])]);
      const bidder = await connectRaw(nodes[A]!.port);
      try {
        const bytes = new Uint8Array(2 * BID_FRAME_SIZE);
        encodeBid(bytes, encodeBid(bytes, 0, 1, a.id, 8, 900), 2, a.id, 9, 7_000);
        bidder.send(bytes);
        const results = (await bidder.waitFor(2)) as Result[];
        expect(results.find((r) => r.req === 2)).toMatchObject({ status: Status.ACCEPTED, amount: 5_000, leader: 9 });
        for (const sub of subs) {
          expect(await sub.waitForClosed(a.id)).toMatchObject({ seq: 2, winner: 9, amount: 5_000 });
          const pushed = sub.client.frames.filter((f) => f.type === FrameType.UPDATE || f.type === FrameType.CLOSED);
          expect(pushed.map((f) => [f.type, (f as { seq: number }).seq])).toEqual([
            [FrameType.UPDATE, 1],
            [FrameType.UPDATE, 2],
            [FrameType.CLOSED, 2],
          ]);
        }
        await Bun.sleep(400); // the closer on every node must not close it again
        for (const sub of subs) expect(sub.closed(a.id)).toHaveLength(1);
      } finally {
        bidder.close();
        for (const sub of subs) sub.close();
      }
    });

    test("a cancel on node C: subscribers on A and B get CLOSED with no sale; bids on B get CLOSED", async () => {
      const a = await createAuction(A, openFor(3_600_000));
      const subs = await Promise.all([subscribe(nodes[A]!.port, [a.id]), subscribe(nodes[B]!.port, [a.id])]);
      const bidder: RawClient = await connectRaw(nodes[B]!.port);
      try {
        const bytes = new Uint8Array(BID_FRAME_SIZE);
        encodeBid(bytes, 0, 1, a.id, 8, 70);
        bidder.send(bytes);
        await bidder.waitFor(1);
        const response = await fetch(`${nodes[C]!.httpUrl}/v1/auctions/${a.id}/cancel`, { method: "POST" });
        expect(response.status).toBe(200);
        for (const sub of subs) {
          expect(await sub.waitForClosed(a.id)).toMatchObject({ seq: 1, winner: 0, amount: 0 });
          expectSeqRun(sub.updates(a.id), 1, 1);
        }
        encodeBid(bytes, 0, 2, a.id, 9, 1_000);
        bidder.send(bytes);
        await bidder.waitFor(2);
        expect((bidder.frames[1] as Result).status).toBe(Status.CLOSED);
        await Bun.sleep(300);
        for (const sub of subs) expect(sub.closed(a.id)).toHaveLength(1);
      } finally {
        bidder.close();
        for (const sub of subs) sub.close();
      }
    });
  });
}
