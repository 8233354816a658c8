// The bid ring: a fixed-capacity FIFO of bids in typed arrays. Pushes refuse when full (the caller
// answers OVERLOADED), takeInto moves the oldest bids into a batch up to the batch's capacity,
// the head wraps around the end, and every field (reply target, u32s, the f64 amount and the
// read timestamp) comes out as it went in.

import { describe, expect, test } from "bun:test";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { BidRing } from "../../src/queue/bid-ring.ts";
import { MAX_AMOUNT } from "../../src/protocol/constants.ts";

/** The largest u32, as a req, auction or user id can be on the wire. */
const MAX_U32 = 0xffff_ffff;

/** A stand-in for a connection: the ring only carries it, so any object will do. */
interface Target {
  name: string;
}

interface Taken {
  target: Target | null;
  req: number;
  auction: number;
  user: number;
  amount: number;
  readAt: number;
}

/** The first `batch.count` bids of a batch, as plain objects to compare. */
function contents(batch: BidBatch<Target>): Taken[] {
  const out: Taken[] = [];
  for (let i = 0; i < batch.count; i++) {
    out.push({ target: batch.replyTo[i]!, req: batch.req[i]!, auction: batch.auction[i]!, user: batch.user[i]!, amount: batch.amount[i]!, readAt: batch.readAt[i]! });
  }
  return out;
}

/** Pushes bid number `n` (req n, auction 100+n, user 200+n, amount 1000+n, read at 5000+n). */
function pushNumbered(ring: BidRing<Target>, target: Target, n: number): boolean {
  return ring.push(target, n, 100 + n, 200 + n, 1000 + n, 5000 + n);
}

function numbered(target: Target, n: number): Taken {
  return { target, req: n, auction: 100 + n, user: 200 + n, amount: 1000 + n, readAt: 5000 + n };
}

describe("BidRing capacity", () => {
  test("accepts powers of two", () => {
    for (const capacity of [1, 2, 4, 1024, 65_536]) expect(new BidRing(capacity).capacity).toBe(capacity);
  });

  test("refuses a capacity that is not a power of two, naming it", () => {
    for (const capacity of [0, -1, 3, 6, 1000]) {
      expect(() => new BidRing(capacity)).toThrow(RangeError);
      expect(() => new BidRing(capacity)).toThrow(`got ${capacity}`);
    }
  });
});

describe("BidRing push and takeInto", () => {
  test("a new ring is empty, and taking from it moves nothing", () => {
    const ring = new BidRing<Target>(4);
    const batch = new BidBatch<Target>(4);
    batch.count = 3; // left over from an earlier use: takeInto must overwrite it
    expect(ring.length).toBe(0);
    expect(ring.takeInto(batch)).toBe(0);
    expect(batch.count).toBe(0);
  });

  test("takes bids oldest first, with every field as pushed", () => {
    const ring = new BidRing<Target>(8);
    const a = { name: "a" };
    const b = { name: "b" };
    pushNumbered(ring, a, 1);
    pushNumbered(ring, b, 2);
    pushNumbered(ring, a, 3);
    expect(ring.length).toBe(3);
    const batch = new BidBatch<Target>(8);
    expect(ring.takeInto(batch)).toBe(3);
    expect(batch.count).toBe(3);
    expect(contents(batch)).toEqual([numbered(a, 1), numbered(b, 2), numbered(a, 3)]);
    expect(ring.length).toBe(0);
  });

  test("takes at most the batch's capacity, leaving the rest in order", () => {
    const ring = new BidRing<Target>(8);
    const t = { name: "t" };
    for (let n = 1; n <= 5; n++) pushNumbered(ring, t, n);
    const batch = new BidBatch<Target>(2);
    expect(ring.takeInto(batch)).toBe(2);
    expect(contents(batch)).toEqual([numbered(t, 1), numbered(t, 2)]);
    expect(ring.length).toBe(3);
    expect(ring.takeInto(batch)).toBe(2);
    expect(contents(batch)).toEqual([numbered(t, 3), numbered(t, 4)]);
    expect(ring.takeInto(batch)).toBe(1);
    expect(contents(batch)).toEqual([numbered(t, 5)]);
    expect(ring.length).toBe(0);
  });

  test("refuses a push when full and stores nothing of it", () => {
    const ring = new BidRing<Target>(4);
    const t = { name: "t" };
    for (let n = 1; n <= 4; n++) expect(pushNumbered(ring, t, n)).toBe(true);
    expect(pushNumbered(ring, { name: "refused" }, 99)).toBe(false);
    expect(ring.length).toBe(4);
    const batch = new BidBatch<Target>(8);
    ring.takeInto(batch);
    expect(contents(batch)).toEqual([1, 2, 3, 4].map((n) => numbered(t, n)));
  });

  test("a ring of capacity 1 holds one bid at a time", () => {
    const ring = new BidRing<Target>(1);
    const t = { name: "t" };
    const batch = new BidBatch<Target>(4);
    for (let n = 1; n <= 3; n++) {
      expect(pushNumbered(ring, t, n)).toBe(true);
      expect(pushNumbered(ring, t, n + 100)).toBe(false);
      expect(ring.takeInto(batch)).toBe(1);
      expect(contents(batch)).toEqual([numbered(t, n)]);
    }
  });

  test("wraps around the end of its arrays, keeping FIFO order", () => {
    const ring = new BidRing<Target>(4);
    const t = { name: "t" };
    const batch = new BidBatch<Target>(2);
    let pushed = 0;
    let expected = 0;
    let refusedWhenFull = 0;
    // Many laps: each round offers 3 bids and takes 2, so the ring fills up (and then refuses),
    // and the head and tail cross the end of the arrays at every offset.
    for (let round = 0; round < 20; round++) {
      for (let offered = 0; offered < 3; offered++) {
        if (ring.length === ring.capacity) {
          expect(pushNumbered(ring, t, pushed + 1)).toBe(false);
          refusedWhenFull++;
        } else expect(pushNumbered(ring, t, ++pushed)).toBe(true);
      }
      const taken = ring.takeInto(batch);
      expect(contents(batch)).toEqual(Array.from({ length: taken }, (_, i) => numbered(t, expected + 1 + i)));
      expected += taken;
    }
    while (ring.takeInto(batch) > 0) {
      expect(contents(batch)).toEqual(Array.from({ length: batch.count }, (_, i) => numbered(t, expected + 1 + i)));
      expected += batch.count;
    }
    expect(expected).toBe(pushed);
    expect(pushed).toBeGreaterThan(ring.capacity * 10); // it really went round many times
    expect(refusedWhenFull).toBeGreaterThan(0);
  });

  test("a full ring accepts pushes again after a take, into the freed slots", () => {
    const ring = new BidRing<Target>(4);
    const t = { name: "t" };
    for (let n = 1; n <= 4; n++) pushNumbered(ring, t, n);
    const batch = new BidBatch<Target>(3);
    ring.takeInto(batch);
    for (let n = 5; n <= 7; n++) expect(pushNumbered(ring, t, n)).toBe(true);
    expect(pushNumbered(ring, t, 8)).toBe(false);
    const all = new BidBatch<Target>(4);
    expect(ring.takeInto(all)).toBe(4);
    expect(contents(all)).toEqual([4, 5, 6, 7].map((n) => numbered(t, n)));
  });
});

describe("BidRing fields", () => {
  test("carries the largest u32 ids and the largest amount exactly", () => {
    const ring = new BidRing<Target>(2);
    const t = { name: "t" };
    ring.push(t, MAX_U32, MAX_U32, MAX_U32, MAX_AMOUNT, 0);
    const batch = new BidBatch<Target>(2);
    ring.takeInto(batch);
    expect(contents(batch)).toEqual([{ target: t, req: MAX_U32, auction: MAX_U32, user: MAX_U32, amount: MAX_AMOUNT, readAt: 0 }]);
  });

  test("carries the read timestamp, and 0 when the caller does not measure", () => {
    const ring = new BidRing<Target>(4);
    const t = { name: "t" };
    const readAt = performance.now();
    ring.push(t, 1, 2, 3, 4, readAt);
    ring.push(t, 5, 6, 7, 8);
    const batch = new BidBatch<Target>(4);
    ring.takeInto(batch);
    expect(batch.readAt[0]).toBe(readAt);
    expect(batch.readAt[1]).toBe(0);
  });

  test("a read timestamp does not leak from an earlier lap into a bid pushed without one", () => {
    const ring = new BidRing<Target>(1);
    const t = { name: "t" };
    const batch = new BidBatch<Target>(1);
    ring.push(t, 1, 1, 1, 1, 12_345);
    ring.takeInto(batch);
    ring.push(t, 2, 2, 2, 2); // the same slot, no timestamp
    ring.takeInto(batch);
    expect(batch.readAt[0]).toBe(0);
  });

  test("reply targets are generic: each bid goes back to exactly the object it came with", () => {
    // Any type works as the target: objects, numbers, strings; the ring never looks inside.
    const ring = new BidRing<{ id: number } | number | string>(8);
    const first = { id: 1 };
    const second = { id: 1 }; // equal in value, a different connection
    ring.push(first, 1, 1, 1, 1);
    ring.push(second, 2, 1, 1, 1);
    ring.push(7, 3, 1, 1, 1);
    ring.push("ws-42", 4, 1, 1, 1);
    const batch = new BidBatch<{ id: number } | number | string>(8);
    ring.takeInto(batch);
    expect(batch.replyTo[0]).toBe(first);
    expect(batch.replyTo[1]).toBe(second);
    expect(batch.replyTo[1]).not.toBe(first);
    expect(batch.replyTo[2]).toBe(7);
    expect(batch.replyTo[3]).toBe("ws-42");
  });
});
