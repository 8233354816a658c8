// The drain: takes batches off the ring to a store, in order, and hands each finished batch to
// the return path. Against real stores (memory in-process, a real redis-server), plus two
// memory stores that change one thing on purpose: one holds its answers back until the test
// releases them (to see batches in flight without timing), one fails (to see how a failed batch
// is answered). Failures: StoreUnavailableError (certainly nothing stored) is answered
// UNAVAILABLE; any other failure (StoreUnconfirmedError, a plain Error, a thrown non-Error) may
// have come after the store applied the batch and is answered UNCONFIRMED.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { ServerCounters } from "../../src/metrics/counters.ts";
import { Status } from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { BidRing } from "../../src/queue/bid-ring.ts";
import { Drain, failedBatchStatus } from "../../src/queue/drain.ts";
import { StoreRefusedError, StoreUnavailableError, StoreUnconfirmedError } from "../../src/store/errors.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { RedisStore } from "../../src/store/redis.ts";
import type { Store, StoreBatch } from "../../src/store/store.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const HOUR_MS = 3_600_000;
const STARTING_PRICE = 100;
const MIN_INCREMENT = 10;
/** Big enough that no test here fills it: the ring's own bound is tested in bid-ring.test.ts. */
const RING_CAPACITY = 1024;
/** An auction id no test creates. */
const NO_SUCH_AUCTION = 999_999;

let nextAuctionId = 1;

async function openAuction(store: Store): Promise<number> {
  const now = Date.now();
  const spec: AuctionSpec = {
    id: nextAuctionId++,
    title: "lot",
    startingPrice: STARTING_PRICE,
    minIncrement: MIN_INCREMENT,
    reserve: 0,
    buyNowPrice: 0,
    startsAt: now - 1000,
    endsAt: now + HOUR_MS,
    antiSnipeMs: 0,
    maxEndsAt: 0,
  };
  const result = await store.createAuction(spec);
  if (!result.created) throw new Error(`auction ${spec.id} exists already`);
  return spec.id;
}

/** One answer as the return path would route it. */
interface Answer {
  to: string;
  req: number;
  status: number;
  amount: number;
  leader: number;
  seq: number;
}

/** A ring, a drain over `store`, and what the drain handed back, in order. */
function harness(store: Store, options: { batchSize: number; maxInFlight: number; counters?: ServerCounters }) {
  const ring = new BidRing<string>(RING_CAPACITY);
  const answers: Answer[] = [];
  /** "batch of N" per finished batch, "run done" per onRunDone: their order. */
  const events: string[] = [];
  const batchesSeen = new Set<BidBatch<string>>();
  const drain = new Drain<string>(
    ring,
    store,
    options,
    (batch) => {
      batchesSeen.add(batch);
      events.push(`batch of ${batch.count}`);
      for (let i = 0; i < batch.count; i++) {
        const accepted = batch.status[i] === Status.ACCEPTED;
        answers.push({ to: batch.replyTo[i]!, req: batch.req[i]!, status: batch.status[i]!, amount: batch.resultAmount[i]!, leader: batch.resultLeader[i]!, seq: accepted ? batch.seq[i]! : 0 });
      }
    },
    () => events.push("run done"),
  );
  /** Queues a BID as a socket handler does: into the ring, then schedule the drain. */
  const bid = (to: string, req: number, auction: number, user: number, amount: number): void => {
    expect(ring.push(to, req, auction, user, amount, performance.now())).toBe(true);
    drain.schedule();
  };
  return { ring, drain, answers, events, batchesSeen, bid };
}

/** Lets the drain's setImmediate run, and any batch settled before it. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A real memory store whose answers the test holds back: each applyBids applies the batch at
 * once (as Redis runs the script when the call arrives) and returns a promise the test resolves
 * with `releaseOldest`. It makes the drain's batches in flight visible without any timing.
 */
class HeldBackStore extends MemoryStore {
  readonly held: (() => void)[] = [];
  calls = 0;

  override applyBids(batch: StoreBatch): Promise<void> {
    this.calls++;
    super.applyBids(batch);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.held.push(resolve);
    return promise;
  }

  releaseOldest(): void {
    const release = this.held.shift();
    if (release === undefined) throw new Error("no batch is held");
    release();
  }
}

const Failure = { THROW: "throws", REJECT: "rejects" } as const;
type Failure = (typeof Failure)[keyof typeof Failure];

/**
 * Not a mock: a real memory store that fails on purpose, the one fault a test cannot otherwise
 * cause on demand and synchronously. While `error` is set, applyBids throws it at once or
 * returns a promise rejected with it. As the Store contract says, a StoreUnavailableError comes
 * before anything is written; any other error comes after the batch was applied (the case that
 * makes UNCONFIRMED necessary: the bids are stored, the reply says nothing certain).
 */
class FailingStore extends MemoryStore {
  error: unknown = undefined;
  failure: Failure = Failure.THROW;

  override applyBids(batch: StoreBatch): void | Promise<void> {
    if (!(this.error instanceof StoreUnavailableError)) super.applyBids(batch);
    if (this.error === undefined) return;
    if (this.failure === Failure.THROW) throw this.error;
    return Promise.reject(this.error);
  }
}

describe("Drain with a synchronous store (memory)", () => {
  test("answers bids in the order queued, batch by batch, each to its own reply target", async () => {
    const store = new MemoryStore();
    const auction = await openAuction(store);
    const { drain, answers, events, bid } = harness(store, { batchSize: 2, maxInFlight: 1 });
    bid("alice", 1, auction, 1, 100); // the first bid: at the starting price
    bid("bob", 2, auction, 2, 105); // below 100 + the increment
    bid("bob", 3, auction, 2, 110);
    bid("carol", 4, NO_SUCH_AUCTION, 3, 500);
    bid("carol", 5, auction, 3, 120);
    await drain.whenIdle();
    expect(answers).toEqual([
      { to: "alice", req: 1, status: Status.ACCEPTED, amount: 100, leader: 1, seq: 1 },
      { to: "bob", req: 2, status: Status.OUTBID, amount: 100, leader: 1, seq: 0 },
      { to: "bob", req: 3, status: Status.ACCEPTED, amount: 110, leader: 2, seq: 2 },
      { to: "carol", req: 4, status: Status.UNKNOWN, amount: 0, leader: 0, seq: 0 },
      { to: "carol", req: 5, status: Status.ACCEPTED, amount: 120, leader: 3, seq: 3 },
    ]);
    // Bids queued in one turn share one run: batches of batchSize, then onRunDone once.
    expect(events).toEqual(["batch of 2", "batch of 2", "batch of 1", "run done"]);
    const final = await store.getAuction(auction);
    expect([final?.seq, final?.amount, final?.leader]).toEqual([3, 120, 3]);
  });

  test("a connection's bids are applied in the order sent across many batches", async () => {
    const store = new MemoryStore();
    const auction = await openAuction(store);
    const { drain, answers, bid } = harness(store, { batchSize: 7, maxInFlight: 2 });
    const BIDS = 100;
    for (let i = 0; i < BIDS; i++) bid("conn", i, auction, 1 + (i % 3), STARTING_PRICE + i * MIN_INCREMENT);
    await drain.whenIdle();
    expect(answers.map((a) => a.req)).toEqual(Array.from({ length: BIDS }, (_, i) => i));
    expect(answers.every((a) => a.status === Status.ACCEPTED)).toBe(true);
    expect(answers.map((a) => a.seq)).toEqual(Array.from({ length: BIDS }, (_, i) => i + 1));
  });

  test("bids queued later in another turn get another run, and onRunDone again", async () => {
    const store = new MemoryStore();
    const auction = await openAuction(store);
    const { drain, answers, events, bid } = harness(store, { batchSize: 4, maxInFlight: 1 });
    bid("a", 1, auction, 1, 100);
    await drain.whenIdle();
    bid("a", 2, auction, 1, 200);
    bid("a", 3, auction, 1, 300);
    await drain.whenIdle();
    expect(events).toEqual(["batch of 1", "run done", "batch of 2", "run done"]);
    expect(answers.map((a) => a.status)).toEqual([Status.ACCEPTED, Status.ACCEPTED, Status.ACCEPTED]);
  });

  test("once handed over, a batch is reset for reuse: reply targets dropped, count 0", async () => {
    const store = new MemoryStore();
    const auction = await openAuction(store);
    const { drain, batchesSeen, bid } = harness(store, { batchSize: 4, maxInFlight: 2 });
    bid("a", 1, auction, 1, 100);
    bid("b", 2, auction, 2, 200);
    await drain.whenIdle();
    expect(batchesSeen.size).toBeGreaterThan(0);
    for (const batch of batchesSeen) {
      expect(batch.count).toBe(0);
      // The connections can be collected even while the batch waits idle.
      expect(batch.replyTo.every((target) => target === null)).toBe(true);
    }
  });

  test("counts each store call's size and seconds when counters are given", async () => {
    const store = new MemoryStore();
    const auction = await openAuction(store);
    const counters = new ServerCounters();
    const { drain, bid } = harness(store, { batchSize: 2, maxInFlight: 1, counters });
    for (let i = 0; i < 5; i++) bid("a", i, auction, 1, STARTING_PRICE + i * MIN_INCREMENT);
    await drain.whenIdle();
    expect(counters.storeBatchSize.count).toBe(3);
    expect(counters.storeBatchSize.sum).toBe(5);
    expect(counters.storeBatchSeconds.count).toBe(3);
    expect(counters.storeBatchSeconds.sum).toBeGreaterThanOrEqual(0);
  });
});

describe("Drain idleness", () => {
  test("whenIdle resolves at once when nothing is queued or in flight", async () => {
    const { drain } = harness(new MemoryStore(), { batchSize: 1, maxInFlight: 1 });
    expect(drain.isIdle).toBe(true);
    await drain.whenIdle();
  });

  test("whenIdle waits for queued bids; every waiter is told", async () => {
    const store = new MemoryStore();
    const auction = await openAuction(store);
    const { drain, answers, bid } = harness(store, { batchSize: 1, maxInFlight: 1 });
    bid("a", 1, auction, 1, 100);
    expect(drain.isIdle).toBe(false);
    const waiters = [drain.whenIdle(), drain.whenIdle(), drain.whenIdle()];
    await Promise.all(waiters);
    expect(drain.isIdle).toBe(true);
    expect(answers.length).toBe(1);
  });
});

describe("Drain with an asynchronous store", () => {
  test("hands out at most maxInFlight batches before the first comes back, then one per answer", async () => {
    const MAX_IN_FLIGHT = 2;
    const BIDS = 5;
    const store = new HeldBackStore();
    const auction = await openAuction(store);
    const { drain, answers, events, bid } = harness(store, { batchSize: 1, maxInFlight: MAX_IN_FLIGHT });
    for (let i = 0; i < BIDS; i++) bid("a", i, auction, 1, STARTING_PRICE + i * MIN_INCREMENT);
    let idle = false;
    void drain.whenIdle().then(() => (idle = true));
    await nextTurn();
    expect(store.calls).toBe(MAX_IN_FLIGHT);
    expect(answers).toEqual([]);
    expect(drain.isIdle).toBe(false);

    for (let answered = 1; answered <= BIDS; answered++) {
      store.releaseOldest();
      await nextTurn();
      expect(answers.length).toBe(answered);
      // Each answer frees a batch, which takes the next bid: never more than MAX_IN_FLIGHT out.
      expect(store.calls).toBe(Math.min(BIDS, answered + MAX_IN_FLIGHT));
      expect(store.held.length).toBe(Math.min(BIDS - answered, MAX_IN_FLIGHT));
      expect(idle).toBe(answered === BIDS);
    }
    expect(answers.map((a) => [a.req, a.status, a.seq])).toEqual(Array.from({ length: BIDS }, (_, i) => [i, Status.ACCEPTED, i + 1]));
    // onRunDone after the first run, and again after each batch came back and the drain ran on.
    expect(events.filter((e) => e === "run done").length).toBe(1 + BIDS);
    expect(events[0]).toBe("run done");
  });

  describe("against a real redis-server", () => {
    let redis: RedisHandle;
    let store: RedisStore;

    beforeAll(async () => {
      redis = await startRedis();
      store = await RedisStore.connect({ url: redis.url });
    });

    afterAll(async () => {
      await store?.close();
      await redis?.stop();
    });

    test("with 3 batches in flight, every bid is still applied and answered in the order queued", async () => {
      const first = await openAuction(store);
      const second = await openAuction(store);
      const { drain, answers, bid } = harness(store, { batchSize: 4, maxInFlight: 3 });
      const PER_AUCTION = 30;
      for (let i = 0; i < PER_AUCTION; i++) {
        bid("x", 2 * i, first, 1 + (i % 2), STARTING_PRICE + i * MIN_INCREMENT);
        bid("y", 2 * i + 1, second, 3, STARTING_PRICE + i * MIN_INCREMENT);
      }
      bid("z", 1000, NO_SUCH_AUCTION, 9, 100);
      await drain.whenIdle();
      expect(answers.map((a) => a.req)).toEqual([...Array.from({ length: 2 * PER_AUCTION }, (_, i) => i), 1000]);
      const ofAuction = (to: string) => answers.filter((a) => a.to === to);
      expect(ofAuction("x").map((a) => [a.status, a.seq])).toEqual(Array.from({ length: PER_AUCTION }, (_, i) => [Status.ACCEPTED, i + 1]));
      expect(ofAuction("y").map((a) => [a.status, a.seq])).toEqual(Array.from({ length: PER_AUCTION }, (_, i) => [Status.ACCEPTED, i + 1]));
      expect(ofAuction("z").map((a) => a.status)).toEqual([Status.UNKNOWN]);
      const final = await store.getAuction(first);
      expect([final?.seq, final?.amount]).toEqual([PER_AUCTION, STARTING_PRICE + (PER_AUCTION - 1) * MIN_INCREMENT]);
    });
  });
});

describe("Drain when the store fails", () => {
  const cases: { error: unknown; status: Status; why: string }[] = [
    { error: new StoreUnavailableError("breaker open"), status: Status.UNAVAILABLE, why: "certainly nothing stored" },
    { error: new StoreRefusedError("the database file was deleted"), status: Status.UNAVAILABLE, why: "refused before writing" },
    { error: new StoreUnconfirmedError("no reply in time"), status: Status.UNCONFIRMED, why: "may have been applied" },
    { error: new Error("a bug halfway through"), status: Status.UNCONFIRMED, why: "anything else may have been applied" },
    { error: "not even an Error", status: Status.UNCONFIRMED, why: "anything else may have been applied" },
  ];

  for (const failure of Object.values(Failure)) {
    for (const { error, status, why } of cases) {
      const label = error instanceof Error ? error.name : `a non-Error (a ${typeof error})`;
      test(`a store that ${failure} ${label}: the batch is answered ${status === Status.UNAVAILABLE ? "UNAVAILABLE" : "UNCONFIRMED"} (${why}), and the drain goes on`, async () => {
        expect(failedBatchStatus(error)).toBe(status);
        const store = new FailingStore();
        store.failure = failure;
        const auction = await openAuction(store);
        const { drain, answers, bid } = harness(store, { batchSize: 2, maxInFlight: 2 });
        store.error = error;
        bid("a", 1, auction, 1, 100);
        bid("b", 2, auction, 2, 200);
        await drain.whenIdle();
        // The store wrote its outputs before failing; the answer carries none of them.
        expect(answers).toEqual([
          { to: "a", req: 1, status, amount: 0, leader: 0, seq: 0 },
          { to: "b", req: 2, status, amount: 0, leader: 0, seq: 0 },
        ]);

        // The store recovers: the next bids are applied and answered as usual (after the two
        // failed ones, if the failure came after they were written).
        store.error = undefined;
        bid("c", 3, auction, 3, 1000);
        await drain.whenIdle();
        const storedBefore = status === Status.UNAVAILABLE ? 0 : 2;
        expect(answers.slice(2)).toEqual([{ to: "c", req: 3, status: Status.ACCEPTED, amount: 1000, leader: 3, seq: storedBefore + 1 }]);
        expect(drain.isIdle).toBe(true);
      });
    }
  }

  test("a failing batch does not hold up the batches after it", async () => {
    const store = new FailingStore();
    const auction = await openAuction(store);
    const { drain, answers, events, bid } = harness(store, { batchSize: 1, maxInFlight: 1 });
    store.error = new StoreUnavailableError("breaker open");
    bid("a", 1, auction, 1, 100);
    bid("a", 2, auction, 1, 200);
    bid("a", 3, auction, 1, 300);
    await drain.whenIdle();
    expect(answers.map((a) => a.status)).toEqual([Status.UNAVAILABLE, Status.UNAVAILABLE, Status.UNAVAILABLE]);
    expect(events).toEqual(["batch of 1", "batch of 1", "batch of 1", "run done"]);
  });
});
