// The auction model shared by every store and the admin API.

import { Phase } from "../protocol/constants.ts";

/**
 * One row of an increment table: from price `from` on (minor units), a bid must beat the
 * current amount by at least `step`. Rows ascend by `from`, the first is 0 (increments.ts).
 */
export interface IncrementRow {
  from: number;
  step: number;
}

/** What an auction is created with. Money in minor units, times in ms since the Unix epoch. */
export interface AuctionSpec {
  id: number;
  title: string;
  startingPrice: number;
  /** The increment at every price, unless `increments` gives a table. */
  minIncrement: number;
  /** An increment table (eBay's kind); absent or empty: `minIncrement` at every price. */
  increments?: readonly IncrementRow[];
  /** Below this the highest bid does not sell; 0 = no reserve. */
  reserve: number;
  /** A bid at or above this wins at once while no bid has met the reserve; 0 = no buy-now. */
  buyNowPrice: number;
  startsAt: number;
  endsAt: number;
  /** A bid accepted with fewer than this many ms left moves `endsAt` to now + this; 0 = off. */
  antiSnipeMs: number;
  /** Anti-sniping never moves `endsAt` past this; 0 = no cap. */
  maxEndsAt: number;
}

/** An auction as it stands: its spec (with the current `endsAt`) plus the bidding so far. */
export interface AuctionState extends AuctionSpec {
  /** Grows by exactly 1 with each accepted bid. */
  seq: number;
  /** Highest accepted amount; 0 before the first bid. */
  amount: number;
  /** Bidder of `amount`; 0 before the first bid. */
  leader: number;
  /**
   * The leader's maximum (proxy bidding, MAX_BID): hidden, never in a reply, UPDATE, STATE,
   * admin read or log. Equal to `amount` when the lead came from a plain BID; 0 before the
   * first bid. It never decreases.
   */
  top: number;
  /** Set once by the closing step (or cancel); the phase is CLOSED from `endsAt` on regardless. */
  closed: boolean;
  /** Decided by the closing step: the leader if the reserve was met, else 0. */
  winner: number;
}

/** Who placed a visible step: the bidder's own BID, or a maximum bidding for its owner. */
export const StepBy = {
  BID: 0,
  MAX: 1,
} as const;
export type StepBy = (typeof StepBy)[keyof typeof StepBy];

/** One visible step (an accepted bid, or a maximum answering) as the immutable history holds it. */
export interface HistoryEntry {
  seq: number;
  amount: number;
  user: number;
  /** Placed by a plain BID of `user`, or by `user`'s maximum (MAX_BID). */
  by: StepBy;
  /** When it was accepted, by the store's clock (ms). */
  at: number;
  /** The auction's ends_at after this bid. */
  endsAt: number;
}

/** What the closing step decided: CLOSED's fields. `winner` and `amount` are 0 for no sale. */
export interface ClosedAuction {
  id: number;
  seq: number;
  winner: number;
  amount: number;
}

/** The phase by the store's clock: CLOSED at or after `endsAt`, whether or not the closer ran. */
export function phaseAt(auction: AuctionState, now: number): Phase {
  if (auction.closed || now >= auction.endsAt) return Phase.CLOSED;
  if (now < auction.startsAt) return Phase.SCHEDULED;
  return Phase.OPEN;
}

export const PhaseName: Record<Phase, string> = {
  [Phase.UNKNOWN]: "unknown",
  [Phase.SCHEDULED]: "scheduled",
  [Phase.OPEN]: "open",
  [Phase.CLOSED]: "closed",
};

/** A new auction's state before any bid. */
export function freshAuction(spec: AuctionSpec): AuctionState {
  return { ...spec, seq: 0, amount: 0, leader: 0, top: 0, closed: false, winner: 0 };
}

/** The admin API's JSON shape of an auction. */
export function auctionToJson(auction: AuctionState, now: number) {
  return {
    id: auction.id,
    title: auction.title,
    phase: PhaseName[phaseAt(auction, now)],
    starting_price: auction.startingPrice,
    min_increment: auction.minIncrement,
    increments: auction.increments !== undefined && auction.increments.length > 0 ? auction.increments.map((r) => ({ from: r.from, step: r.step })) : null,
    reserve: auction.reserve,
    buy_now_price: auction.buyNowPrice === 0 ? null : auction.buyNowPrice,
    starts_at: auction.startsAt,
    ends_at: auction.endsAt,
    anti_snipe_ms: auction.antiSnipeMs,
    max_ends_at: auction.maxEndsAt === 0 ? null : auction.maxEndsAt,
    seq: auction.seq,
    amount: auction.amount,
    leader: auction.leader,
  };
}
