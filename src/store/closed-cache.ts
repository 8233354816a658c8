// The SQLite store's closed auctions recently closed or read, held in memory so that bids,
// QUERYs and SUBSCRIBEs racing an auction's close (the usual case) do not each read the file.
// Bounded: the least recently used leaves first.

import type { AuctionState } from "../auction/auction.ts";

/** Closed auctions held at most; about 200 bytes each. */
export const CLOSED_CACHE_SIZE = 10_000;

export class ClosedCache {
  /** A Map iterates in insertion order: re-inserting on use makes the first key the oldest. */
  private readonly auctions = new Map<number, AuctionState>();

  constructor(private readonly capacity = CLOSED_CACHE_SIZE) {}

  get(id: number): AuctionState | undefined {
    const auction = this.auctions.get(id);
    if (auction !== undefined) {
      this.auctions.delete(id);
      this.auctions.set(id, auction);
    }
    return auction;
  }

  set(auction: AuctionState): void {
    this.auctions.delete(auction.id);
    this.auctions.set(auction.id, auction);
    if (this.auctions.size > this.capacity) this.auctions.delete(this.auctions.keys().next().value!);
  }

  delete(id: number): void {
    this.auctions.delete(id);
  }
}
