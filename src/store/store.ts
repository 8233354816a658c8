// The one interface every store implements; see docs/architecture.md ("Stores").

import type { AuctionSpec, AuctionState } from "../auction/auction.ts";
import type { Phase } from "../protocol/constants.ts";
import type { OutboxReader } from "./outbox.ts";

/**
 * The bid-applying part of a batch, as a store sees it: typed arrays indexed 0..count-1. The
 * store reads the inputs and fills the outputs (the queue's BidBatch implements it).
 */
export interface StoreBatch {
  readonly count: number;
  // Inputs.
  readonly auction: Uint32Array;
  readonly user: Uint32Array;
  readonly amount: Float64Array;
  /** BidKind: a BID of exactly `amount`, or a MAX_BID whose `amount` is the hidden maximum. */
  readonly kind: Uint8Array;
  // Outputs, filled by the store.
  readonly status: Uint8Array;
  /** The auction's amount and leader after this bid (0 when unknown). */
  readonly resultAmount: Float64Array;
  readonly resultLeader: Uint32Array;
  /**
   * 1 when this bid changed the visible (amount, leader): a step, whether ACCEPTED or OUTBID (a
   * hidden maximum answered). Then seq and ends_at are the step's, what its UPDATE carries.
   */
  readonly stepped: Uint8Array;
  /** For ACCEPTED and every step: the auction's seq and ends_at after the bid. */
  readonly seq: Uint32Array;
  readonly endsAt: Float64Array;
}

/** An auction to create; `id` 0 asks the store for a fresh one, unique across nodes. */
export type NewAuction = AuctionSpec;

export type CreateResult = { created: true; auction: AuctionState } | { created: false; reason: "exists" };

// The model's types, re-exported for the stores that produce them.
export type { ClosedAuction, HistoryEntry } from "../auction/auction.ts";
import type { ClosedAuction, HistoryEntry } from "../auction/auction.ts";

export type CancelResult = { cancelled: true; closed: ClosedAuction } | { cancelled: false; reason: "unknown" | "closed" };

/**
 * Pushes from a store shared by several nodes (Redis Pub/Sub): UPDATE and CLOSED frames as
 * published by the accepting and closing steps, and a call after the feed was cut and
 * restored (the hub then heals the gap from the history).
 */
export interface UpdateFeed {
  /** `frames` holds whole UPDATE/CLOSED frames back to back; valid only during the call. */
  onFrames(listener: (frames: Uint8Array) => void): void;
  onResync(listener: () => void): void;
  /**
   * The store found that it lost acknowledged data (a Redis restarted empty): the subscribers
   * of every auction `affects` names must get ERROR RESET with `reason` and be closed, before
   * any frame of an auction created since under the same id could reach them.
   */
  onReset(listener: (affects: (auction: number) => boolean, reason: string) => void): void;
  /** True once every wanted channel is subscribed; a node serves subscribers only after that. */
  readonly live: boolean;
  /**
   * A feed that listens only to what is followed (GAVEL_REDIS_FEED=subscribed) is told when an
   * auction gets its first local subscriber and when its last one leaves.
   */
  follow?(auction: number): void;
  unfollow?(auction: number): void;
  /**
   * Null when the auction's frames reach this node already; else resolves once they do, and
   * rejects when they cannot soon. A SUBSCRIBE reads the store only after it: no UPDATE after
   * its snapshot is missed.
   */
  listening?(auction: number): Promise<void> | null;
}

export interface Store {
  /** "memory", "sqlite" or "redis": printed at start-up. */
  readonly kind: string;

  /**
   * Applies `batch.count` bids in order, atomically per bid, and fills the batch's outputs.
   * Sync stores return undefined; a returned promise rejects when the store cannot be reached.
   * A failure (thrown or rejected) with StoreUnavailableError says nothing of the batch was
   * stored (the drain answers UNAVAILABLE); any other failure may have come after some bids
   * were stored (UNCONFIRMED). A store may also fill a bid's status with either itself.
   * A bid must be durable before this returns or resolves.
   */
  applyBids(batch: StoreBatch): void | Promise<void>;

  createAuction(spec: NewAuction): Promise<CreateResult>;
  getAuction(id: number): Promise<AuctionState | null>;

  /** Auctions in the given phase (by the store's clock), ascending id after `afterId`. */
  listAuctions(phase: Phase | null, afterId: number, limit: number): Promise<AuctionState[]>;

  /** Accepted bids with seq > afterSeq, oldest first, at most `limit`. */
  history(auction: number, afterSeq: number, limit: number): Promise<HistoryEntry[]>;
  /** Accepted bids with seq < beforeSeq, newest first, at most `limit` (admin paging). */
  historyNewestFirst(auction: number, beforeSeq: number, limit: number): Promise<HistoryEntry[]>;

  /**
   * The closing step: atomically marks closed every auction whose ends_at has passed and
   * decides its winner (the leader if the amount meets the reserve, else no sale). Each
   * auction is returned by exactly one call, however many nodes run it.
   */
  closeDue(limit: number): Promise<ClosedAuction[]>;
  /** Closes an open or scheduled auction with no sale. */
  cancel(id: number): Promise<CancelResult>;

  /** Present when UPDATE and CLOSED reach this node through the store (several nodes). */
  readonly feed?: UpdateFeed;

  /** Present when the store writes webhook events (GAVEL_WEBHOOK_URL is set): what the dispatcher reads. */
  readonly outbox?: OutboxReader;

  /** The clock that decides open and closed (Redis TIME for Redis), in ms since the epoch. */
  now(): number;

  /**
   * Why the store cannot be trusted with writes right now (its file was deleted, Redis is
   * unreachable, its feed is down, it lost data), or null when it can. Cheap and synchronous:
   * it reports what the store already knows, for /readyz and start-up checks.
   */
  unavailableReason(): string | null;

  close(): Promise<void>;
}
