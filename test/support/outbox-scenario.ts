// The webhook outbox's shared run: bids, closes and a cancel that produce every event type,
// and the events each store must have written for it (the rule of src/auction/notification.ts).
// test/store/outbox.test.ts runs it on every store, test/store/redis-cluster-outbox.test.ts on
// a Redis Cluster.

import { expect } from "bun:test";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import type { Store } from "../../src/store/store.ts";

const HOUR = 3_600_000;

export function spec(id: number, fields: Partial<AuctionSpec> = {}): AuctionSpec {
  const now = Date.now();
  return { id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields };
}

export async function apply(store: Store, bids: [auction: number, user: number, amount: number][]): Promise<void> {
  const batch = new BidBatch(bids.length);
  bids.forEach(([auction, user, amount], i) => {
    batch.auction[i] = auction;
    batch.user[i] = user;
    batch.amount[i] = amount;
  });
  batch.count = bids.length;
  await store.applyBids(batch);
}

/** A run touching every event type; returns the events each store wrote, without ids and times. */
export async function scenario(store: Store): Promise<string[]> {
  const now = Date.now();
  // 1: outbid back and forth, one user raising their own bid, then closed with a sale.
  await store.createAuction(spec(1, { endsAt: now + 700 }));
  // 2: anti-sniping (every bid lands inside the window): the first moves the end to the cap,
  // the later ones cannot move it further (no `extended`); reserve not met: no sale.
  await store.createAuction(spec(2, { endsAt: now + 700, antiSnipeMs: 10 * HOUR, maxEndsAt: now + 1500, reserve: 10_000 }));
  // 3: cancelled after a bid.
  await store.createAuction(spec(3));
  // 4: no bid at all, then closed.
  await store.createAuction(spec(4, { endsAt: now + 700 }));
  await apply(store, [[1, 7, 100], [1, 8, 110], [1, 8, 130], [1, 7, 140], [2, 7, 100], [2, 9, 200], [3, 5, 100], [1, 7, 90]]);
  await apply(store, [[2, 7, 300]]);
  expect((await store.cancel(3)).cancelled).toBe(true);
  const deadline = Date.now() + 10_000;
  let closed = 0;
  while (closed < 3 && Date.now() < deadline) {
    closed += (await store.closeDue(100)).length;
    await Bun.sleep(50);
  }
  expect(closed).toBe(3);
  // Redis hands out a group's events from the read after the one that took its lease.
  const entries = [...(await store.outbox!.take(1000)), ...(await store.outbox!.take(1000))];
  expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);
  // Per auction in order; auctions may interleave differently (Redis keeps a stream per group).
  return entries
    .map(({ event: e }) => `${e.auction} ${e.seq} ${e.type} user=${e.user} amount=${e.amount} leader=${e.leader} extended=${e.endsAt > 0} ${e.outcome}`)
    .toSorted((a, b) => Number(a.split(" ")[0]) - Number(b.split(" ")[0]));
}

export const EXPECTED = [
  "1 2 outbid user=7 amount=110 leader=8 extended=false ",
  "1 4 outbid user=8 amount=140 leader=7 extended=false ",
  "1 4 won user=7 amount=140 leader=0 extended=false ",
  "1 4 closed user=7 amount=140 leader=0 extended=false sold",
  "2 1 extended user=0 amount=0 leader=0 extended=true ",
  "2 2 outbid user=7 amount=200 leader=9 extended=false ",
  "2 3 outbid user=9 amount=300 leader=7 extended=false ",
  "2 3 closed user=0 amount=0 leader=0 extended=false no_sale",
  "3 1 closed user=0 amount=0 leader=0 extended=false cancelled",
  "4 0 closed user=0 amount=0 leader=0 extended=false no_sale",
];
