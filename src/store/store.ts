// The one interface every store implements; see docs/architecture.md ("Stores").

import type { AuctionSpec, AuctionState } from "../auction/auction.ts";
import type { BidBatch } from "../queue/bid-batch.ts";

/** The bid-applying part of a batch, as a store sees it. */
export type StoreBatch = Omit<BidBatch, "connection" | "req">;

/** An auction to create; `id` 0 asks the store for a fresh one, unique across nodes. */
export type NewAuction = AuctionSpec;

export type CreateResult = { created: true; auction: AuctionState } | { created: false; reason: "exists" };

export interface Store {
  /** "memory", "sqlite" or "redis": printed at start-up. */
  readonly kind: string;

  /**
   * Applies `batch.count` bids in order, atomically per bid, and fills the batch's outputs.
   * Sync stores return undefined; a returned promise rejects when the store cannot be reached
   * (the drain then answers UNAVAILABLE: nothing of the batch may have been stored).
   * A bid must be durable before this returns or resolves.
   */
  applyBids(batch: StoreBatch): void | Promise<void>;

  createAuction(spec: NewAuction): Promise<CreateResult>;
  getAuction(id: number): Promise<AuctionState | null>;

  /** The clock that decides open and closed (Redis TIME for Redis), in ms since the epoch. */
  now(): number;

  close(): Promise<void>;
}
