// The SQLite store's cache of closed auctions holds at most its capacity, first in first out.

import { expect, test } from "bun:test";
import { freshAuction, type AuctionState } from "../../src/auction/auction.ts";
import { ClosedCache } from "../../src/store/closed-cache.ts";

const auction = (id: number): AuctionState =>
  freshAuction({ id, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: 0, endsAt: 1, antiSnipeMs: 0, maxEndsAt: 0 });

test("bounded by its capacity, the oldest leaving first; deleted ids are gone; never more than capacity across deletes and re-adds", () => {
  const cache = new ClosedCache(100);
  for (let id = 1; id <= 250; id++) cache.set(auction(id));
  expect(cache.size).toBe(100);
  expect(cache.get(150)).toBeUndefined();
  expect(cache.get(151)?.id).toBe(151);
  expect(cache.get(250)?.id).toBe(250);
  cache.delete(200);
  expect(cache.get(200)).toBeUndefined();
  for (let round = 0; round < 1000; round++) {
    const id = 1 + ((round * 7919) % 400);
    if (round % 3 === 0) cache.delete(id);
    else cache.set(auction(id));
    expect(cache.size).toBeLessThanOrEqual(100);
  }
});
