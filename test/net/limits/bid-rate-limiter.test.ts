// The per-user token bucket, on a clock the test controls.

import { describe, expect, test } from "bun:test";
import { BidRateLimiter, SWEEP_INTERVAL_MS } from "../../../src/net/limits/bid-rate-limiter.ts";

const T0 = 1_000_000;

function takes(limiter: BidRateLimiter, user: number, count: number, now: number): boolean[] {
  return Array.from({ length: count }, () => limiter.take(user, now));
}

describe("BidRateLimiter", () => {
  test("a full bucket lets `burst` bids through at once, then refills at `rate` per second", () => {
    const limiter = new BidRateLimiter(10, 3);
    expect(takes(limiter, 1, 4, T0)).toEqual([true, true, true, false]);
    expect(limiter.take(1, T0 + 50)).toBe(false); // half a token
    expect(limiter.take(1, T0 + 100)).toBe(true); // one token
    expect(limiter.take(1, T0 + 100)).toBe(false);
    // Never more than the burst, however long the pause.
    expect(takes(limiter, 1, 4, T0 + 60_000)).toEqual([true, true, true, false]);
  });

  test("users have their own buckets", () => {
    const limiter = new BidRateLimiter(1, 1);
    expect(limiter.take(1, T0)).toBe(true);
    expect(limiter.take(1, T0)).toBe(false);
    expect(limiter.take(2, T0)).toBe(true);
    expect(limiter.take(0xffff_ffff, T0)).toBe(true);
  });

  test("a sweep forgets buckets that are full again, and only those", () => {
    const limiter = new BidRateLimiter(10, 2);
    limiter.take(1, T0);
    limiter.take(2, T0);
    limiter.take(2, T0);
    expect(limiter.trackedUsers).toBe(2);
    // 150 ms later: user 1 has refilled (1 + 1.5 >= 2), user 2 has not (0 + 1.5 < 2).
    limiter.sweep(T0 + 150);
    expect(limiter.trackedUsers).toBe(1);
    limiter.sweep(T0 + 200);
    expect(limiter.trackedUsers).toBe(0);
    // A forgotten user starts again from a full bucket: nothing was given away.
    expect(takes(limiter, 2, 3, T0 + 200)).toEqual([true, true, false]);
  });

  test("bids sweep by themselves, at most once a second", () => {
    const limiter = new BidRateLimiter(100, 1);
    for (let user = 1; user <= 100; user++) limiter.take(user, T0);
    expect(limiter.trackedUsers).toBe(100);
    limiter.take(1000, T0 + SWEEP_INTERVAL_MS); // the first take at least a second later sweeps
    expect(limiter.trackedUsers).toBe(1);
  });

  test("the table never holds more than its bound: a new user past it is refused until room is freed", () => {
    const limiter = new BidRateLimiter(1, 1, 4);
    for (let user = 1; user <= 4; user++) expect(limiter.take(user, T0)).toBe(true);
    expect(limiter.take(5, T0)).toBe(false);
    expect(limiter.trackedUsers).toBe(4);
    // One second later every bucket is full again: the next new user's sweep makes room.
    expect(limiter.take(5, T0 + 1000)).toBe(true);
    expect(limiter.trackedUsers).toBe(1);
  });

  test("slots are reused and the arrays grow past their first size", () => {
    const limiter = new BidRateLimiter(1, 1, 1 << 12);
    for (let user = 1; user <= 3000; user++) expect(limiter.take(user, T0)).toBe(true);
    expect(limiter.trackedUsers).toBe(3000);
    for (let user = 1; user <= 3000; user++) expect(limiter.take(user, T0)).toBe(false);
    limiter.sweep(T0 + 1000);
    expect(limiter.trackedUsers).toBe(0);
    for (let user = 5001; user <= 8000; user++) expect(limiter.take(user, T0 + 1000)).toBe(true);
    expect(limiter.trackedUsers).toBe(3000);
  });
});
