// The in-process store: the bid rule over a Map. For tests, benchmarks and as the cache the
// SQLite store writes through.

import { freshAuction, type AuctionState } from "../auction/auction.ts";
import { applyBidRule } from "../auction/bid-rule.ts";
import { Status } from "../protocol/constants.ts";
import type { CreateResult, NewAuction, Store, StoreBatch } from "./store.ts";

/** Auctions held in a Map, bids applied with the shared rule. Allocates nothing per bid. */
export class AuctionTable {
  readonly auctions = new Map<number, AuctionState>();
  private highestId = 0;

  /** Applies bid `i` of the batch at `now`; returns the auction when it was ACCEPTED. */
  applyOne(batch: StoreBatch, i: number, now: number): AuctionState | null {
    const auction = this.auctions.get(batch.auction[i]!);
    if (auction === undefined) {
      batch.status[i] = Status.UNKNOWN;
      batch.resultAmount[i] = 0;
      batch.resultLeader[i] = 0;
      return null;
    }
    const status = applyBidRule(auction, batch.user[i]!, batch.amount[i]!, now);
    batch.status[i] = status;
    batch.resultAmount[i] = auction.amount;
    batch.resultLeader[i] = auction.leader;
    batch.seq[i] = auction.seq;
    batch.endsAt[i] = auction.endsAt;
    return status === Status.ACCEPTED ? auction : null;
  }

  /** Adds an auction; id 0 takes the next free id. */
  insert(spec: NewAuction): CreateResult {
    const id = spec.id === 0 ? this.nextId() : spec.id;
    if (this.auctions.has(id)) return { created: false, reason: "exists" };
    const auction = freshAuction({ ...spec, id });
    this.put(auction);
    return { created: true, auction: { ...auction } };
  }

  put(auction: AuctionState): void {
    this.auctions.set(auction.id, auction);
    if (auction.id > this.highestId) this.highestId = auction.id;
  }

  private nextId(): number {
    let id = this.highestId + 1;
    while (this.auctions.has(id)) id++;
    return id;
  }
}

export class MemoryStore implements Store {
  readonly kind = "memory";
  private readonly table = new AuctionTable();

  applyBids(batch: StoreBatch): void {
    const now = Date.now();
    for (let i = 0; i < batch.count; i++) this.table.applyOne(batch, i, now);
  }

  async createAuction(spec: NewAuction): Promise<CreateResult> {
    return this.table.insert(spec);
  }

  async getAuction(id: number): Promise<AuctionState | null> {
    const auction = this.table.auctions.get(id);
    return auction === undefined ? null : { ...auction };
  }

  now(): number {
    return Date.now();
  }

  async close(): Promise<void> {}
}
