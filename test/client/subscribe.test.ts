// GavelClient.subscribe against a real server: typed events while bidding, replay with since,
// the closed event, a consumer far behind, and a server restart on the same port and SQLite
// file that a reconnecting client rides through without losing or repeating a seq.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuctionEvent,
  type AuctionSubscription,
  GavelClient,
  GavelConnectionError,
  Phase,
  type PushFrame,
  Status,
  type UpdateEvent,
} from "../../src/client/index.ts";
import { openAuction, startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

// The preload's 60 s default reaches only the first file of a run; these tests start servers.

/**
 * The restart test's reconnect delay: long enough that the new server is up and has taken the
 * "after" bids before the client is back, so those come as a replay (since = last seq seen).
 */
const RESTART_RECONNECT = { delayMs: 500, maxDelayMs: 500 };

/** Consumes a subscription in the background, as an application's loop would. */
function consume(subscription: AuctionSubscription, stopAtSeq = Number.POSITIVE_INFINITY) {
  const events: AuctionEvent[] = [];
  let failure: unknown = null;
  const done = (async () => {
    try {
      for await (const event of subscription) {
        events.push(event);
        if (event.type === "update" && event.seq >= stopAtSeq) break;
      }
    } catch (error) {
      failure = error;
    }
  })();
  return {
    events,
    done,
    failure: () => failure,
    updates: () => events.filter((e): e is UpdateEvent => e.type === "update"),
    lastSeq: () => events.findLast((e) => e.type === "update")?.seq ?? 0,
  };
}

async function until(check: () => boolean, what: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await Bun.sleep(5);
  }
}

/** Every seq from `from` to `to` once, in order. */
function expectSeqRun(updates: UpdateEvent[], from: number, to: number): void {
  const seqs = updates.map((u) => u.seq);
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] !== from + i) throw new Error(`position ${i}: seq ${seqs[i]}, expected ${from + i} (of ${from}..${to})`);
  }
  expect(seqs.length).toBe(to - from + 1);
}

describe("subscribe on a live server", () => {
  let gavel: TestServer;
  let bidder: GavelClient;
  beforeAll(async () => {
    gavel = await startTestServer({ store: "memory", env: { GAVEL_CLOSE_INTERVAL_MS: "50" } });
    bidder = await GavelClient.connect({ port: gavel.port });
  });
  afterAll(async () => {
    await bidder.close();
    await gavel.stop();
  });

  test("iterates the state, then every update while bidding; breaking out unsubscribes cleanly", async () => {
    const count = 3_000;
    const a = await gavel.createAuction(openAuction());
    const watcher = await GavelClient.connect({ port: gavel.port });
    try {
      const live = watcher.subscribe(a.id);
      expect(await live.ready).toMatchObject({ type: "state", auction: a.id, phase: Phase.OPEN, seq: 0, amount: 0 });
      const loop = consume(live, count);
      const results = await Promise.all(Array.from({ length: count }, (_, i) => bidder.bid(a.id, 1 + (i % 3), 100 + i)));
      expect(results.every((r) => r.status === Status.ACCEPTED)).toBe(true);
      await loop.done;
      expect(loop.failure()).toBeNull();
      expect(loop.events[0]!.type).toBe("state");
      expectSeqRun(loop.updates(), 1, count);
      loop.updates().forEach((u) => {
        expect(u).toEqual({ type: "update", auction: a.id, seq: u.seq, amount: 99 + u.seq, leader: 1 + ((u.seq - 1) % 3), endsAt: a.ends_at as number });
      });
      expect(live.done).toBe(true);

      // The break sent UNSUBSCRIBE; close() waits for its OK. The server pushes nothing more.
      await live.close();
      const pushes: PushFrame[] = [];
      watcher.onPush((push) => pushes.push(push));
      expect((await bidder.bid(a.id, 9, 1_000_000)).status).toBe(Status.ACCEPTED);
      await watcher.ping(); // any UPDATE would have been written before this PONG
      expect(pushes).toEqual([]);
      expect(await live.next()).toEqual({ value: undefined, done: true });

      // The auction can be followed again, from where the first loop stopped.
      const again = consume(watcher.subscribe(a.id, count), count + 1);
      await again.done;
      expect(again.events.map((e) => [e.type, e.seq])).toEqual([
        ["state", count + 1],
        ["update", count + 1],
      ]);
    } finally {
      await watcher.close();
    }
  });

  test("since replays the missed updates after the state; the closed event ends the loop", async () => {
    const a = await gavel.createAuction({ ends_at: Date.now() + 1_500, reserve: 150 });
    for (let i = 0; i < 5; i++) await bidder.bid(a.id, 10 + i, 100 + 10 * i);
    const watcher = await GavelClient.connect({ port: gavel.port });
    try {
      const loop = consume(watcher.subscribe(a.id, 2));
      await until(() => loop.lastSeq() === 5, () => `seq 5 (at ${loop.lastSeq()})`);
      await bidder.bid(a.id, 20, 1_000);
      await loop.done; // ends by itself at the close
      expect(loop.failure()).toBeNull();
      expect(loop.events.map((e) => [e.type, e.seq])).toEqual([
        ["state", 5],
        ["update", 3],
        ["update", 4],
        ["update", 5],
        ["update", 6],
        ["closed", 6],
      ]);
      expect(loop.events.at(-1)).toEqual({ type: "closed", auction: a.id, seq: 6, winner: 20, amount: 1_000 });
    } finally {
      await watcher.close();
    }
  });

  test("a loop far behind: the client stops reading at the buffer bound, then every seq still arrives once", async () => {
    const count = 20_000;
    const bound = 100;
    const a = await gavel.createAuction(openAuction());
    // Its own connection: while reading is paused, nothing else on it is answered either.
    const watcher = await GavelClient.connect({ port: gavel.port, maxBufferedEvents: bound });
    try {
      const live = watcher.subscribe(a.id);
      await live.ready;
      const results = await Promise.all(Array.from({ length: count }, (_, i) => bidder.bid(a.id, 4, 1_000 + i)));
      expect(results.every((r) => r.status === Status.ACCEPTED)).toBe(true);
      await Bun.sleep(100);
      // Held: exactly the bound; the rest waits in the kernel and the server (which may
      // conflate it; the replay then fills the gap).
      expect(live.buffered).toBe(bound);

      const loop = consume(live, count);
      await loop.done;
      expect(loop.failure()).toBeNull();
      expectSeqRun(loop.updates(), 1, count);
    } finally {
      await watcher.close();
    }
  });

  test("without reconnect, the loop ends with GavelConnectionError when the server goes away", async () => {
    const own = await startTestServer({ store: "memory" });
    const a = await own.createAuction(openAuction());
    const watcher = await GavelClient.connect({ port: own.port });
    const live = watcher.subscribe(a.id);
    await live.ready;
    const loop = consume(live);
    await own.stop();
    await loop.done;
    expect(loop.failure()).toBeInstanceOf(GavelConnectionError);
    expect(loop.events.map((e) => e.type)).toEqual(["state"]);
  });
});

describe("reconnect through a server restart", () => {
  const dir = mkdtempSync(join(tmpdir(), "gavel-client-restart-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("stopped and started again on the same port and SQLite file mid-stream: the loop resumes, every seq exactly once", async () => {
    const env = { GAVEL_DB: join(dir, "gavel.db") };
    let server = await startTestServer({ store: "sqlite", env });
    const port = server.port;
    const a = await server.createAuction(openAuction());
    const watcher = await GavelClient.connect({ port, reconnect: RESTART_RECONNECT });
    let drops = 0;
    let reconnects = 0;
    watcher.onDisconnect(() => drops++);
    watcher.onReconnect(() => reconnects++);
    try {
      const live = watcher.subscribe(a.id);
      await live.ready;
      const loop = consume(live);

      // Before: bids all answered.
      let bidder = await GavelClient.connect({ port });
      const before = await Promise.all(Array.from({ length: 1_500 }, (_, i) => bidder.bid(a.id, 1, 1_000 + i)));
      expect(before.every((r) => r.status === Status.ACCEPTED)).toBe(true);
      // During: a pipelined run still on its way when the server stops; each bid is accepted
      // (answered, or at least stored) or refused; the seq tells how many were stored.
      const during = Array.from({ length: 1_500 }, (_, i) => bidder.bid(a.id, 2, 3_000 + i).catch(() => null));
      await Bun.sleep(1);
      await server.stop();
      await Promise.all(during);
      await bidder.close();
      expect(loop.failure()).toBeNull();

      server = await startTestServer({ store: "sqlite", env: { ...env, GAVEL_PORT: String(port) } });
      bidder = await GavelClient.connect({ port });
      const stored = (await bidder.query(a.id)).seq;
      expect(stored).toBeGreaterThanOrEqual(1_500);
      // After: more bids on the new server, most likely before the watcher is back.
      const after = await Promise.all(Array.from({ length: 1_000 }, (_, i) => bidder.bid(a.id, 3, 10_000 + i)));
      expect(after.every((r) => r.status === Status.ACCEPTED)).toBe(true);
      const last = stored + 1_000;
      await until(() => loop.lastSeq() >= last, () => `seq ${last} (at ${loop.lastSeq()})`);
      await bidder.close();

      expect(drops).toBe(1);
      expect(reconnects).toBe(1);
      expect(loop.failure()).toBeNull();
      expect(loop.events.filter((e) => e.type === "state")).toHaveLength(1);
      expectSeqRun(loop.updates(), 1, last);
      // The amounts are those stored, seq by seq: the three runs in order.
      const amounts = loop.updates().map((u) => u.amount);
      for (let i = 1; i < amounts.length; i++) expect(amounts[i]! > amounts[i - 1]!).toBe(true);
      expect(amounts.at(-1)).toBe(10_999);

      await live.close();
      await loop.done;
      expect(live.done).toBe(true);
    } finally {
      await watcher.close();
      await server.stop();
    }
  });
});
