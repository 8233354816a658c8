// The SQLite store's closed auctions recently closed or read, held in memory so that bids,
// QUERYs and SUBSCRIBEs racing an auction's close (the usual case) do not each read the file.
// Bounded, first in first out: a ring of the ids in the order they came in says which leaves
// next. (Evicting the Map's oldest key instead cost a third of a mass close: a Map's iteration
// steps over every entry deleted since it last rehashed.)

import type { AuctionState } from "../auction/auction.ts";

/** Closed auctions held at most; about 200 bytes each. */
export const CLOSED_CACHE_SIZE = 10_000;

export class ClosedCache {
  private readonly auctions = new Map<number, AuctionState>();
  /** Ids in the order they were added; every held id has a slot (a re-added one may have two). */
  private readonly order: Float64Array;
  private next = 0;

  constructor(capacity = CLOSED_CACHE_SIZE) {
    this.order = new Float64Array(capacity);
  }

  get(id: number): AuctionState | undefined {
    return this.auctions.get(id);
  }

  set(auction: AuctionState): void {
    if (this.auctions.has(auction.id)) {
      this.auctions.set(auction.id, auction);
      return;
    }
    // The slot's id leaves (if it is still held): the oldest in.
    const leaving = this.order[this.next]!;
    if (leaving !== 0) this.auctions.delete(leaving);
    this.order[this.next] = auction.id;
    this.next = (this.next + 1) % this.order.length;
    this.auctions.set(auction.id, auction);
  }

  delete(id: number): void {
    this.auctions.delete(id);
  }

  get size(): number {
    return this.auctions.size;
  }
}
