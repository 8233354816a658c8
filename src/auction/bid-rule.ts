// The bid rule, decided in the contract's order (docs/protocol.md, "RESULT status" and "Proxy
// bidding: MAX_BID"). lua/bid.lua is the same rule for Redis; test/store/contract.test.ts and
// test/store/proxy-bidding.property.test.ts hold every store to it.

import { Status } from "../protocol/constants.ts";
import { StepBy, type AuctionState } from "./auction.ts";
import { incrementAt } from "./increments.ts";

/** What a queued bid asks: a bid of exactly its amount, or a hidden maximum (MAX_BID). */
export const BidKind = {
  BID: 0,
  MAX: 1,
} as const;
export type BidKind = (typeof BidKind)[keyof typeof BidKind];

/**
 * Applies one bid to `auction` at time `now` (ms) and returns its status. `kind` BID bids
 * exactly `amount`; MAX bids for `user` up to `amount`, as little as needed, now and later.
 *
 * Every change of the visible (amount, leader) is one step: seq grows by 1 and anti-sniping
 * applies, whether the status is ACCEPTED or OUTBID (a hidden maximum answered). A caller
 * tells a step by the seq moving; {@link stepBy} says who placed it. The hidden `top` may
 * change without a step (a leader raising their own maximum). INVALID and the other
 * pre-store statuses are decided before this is called.
 */
export function applyBidRule(auction: AuctionState, user: number, amount: number, now: number, kind: BidKind = BidKind.BID): Status {
  if (now < auction.startsAt) return Status.NOT_STARTED;
  if (auction.closed || now >= auction.endsAt) return Status.CLOSED;

  const buyNowOpen = auction.buyNowPrice > 0 && (auction.leader === 0 || auction.amount < auction.reserve);
  if (buyNowOpen && amount >= auction.buyNowPrice) {
    // eBay's rule: the buy-now price wins at once, at exactly that price, and ends the auction
    // (a maximum at or above it too, the leader's included).
    auction.amount = auction.buyNowPrice;
    auction.leader = user;
    auction.top = auction.buyNowPrice;
    auction.seq += 1;
    auction.endsAt = now;
    return Status.ACCEPTED;
  }

  const amountBefore = auction.amount;
  const leaderBefore = auction.leader;
  const status = kind === BidKind.MAX ? applyMaximum(auction, user, amount) : applyExact(auction, user, amount);
  if (auction.amount !== amountBefore || auction.leader !== leaderBefore) step(auction, now);
  return status;
}

/** MAX_BID, rules 1-3 of the contract, then the rise to the reserve. */
function applyMaximum(auction: AuctionState, user: number, max: number): Status {
  let status: Status;
  if (auction.leader === user) {
    // 1. The leader raises (or restates) their own maximum: nothing visible moves.
    if (max > auction.top) auction.top = max;
    status = Status.ACCEPTED;
  } else if (auction.leader === 0) {
    // 2. The first bid: at the starting price, whatever the maximum above it.
    if (max < auction.startingPrice) return Status.OUTBID;
    auction.leader = user;
    auction.top = max;
    auction.amount = auction.startingPrice;
    status = Status.ACCEPTED;
  } else {
    // 3. Against another leader's maximum: the higher maximum leads, one increment above the
    // lower (never above its own maximum, never below the next minimum); a tie goes to the
    // earlier maximum.
    const next = auction.amount + incrementAt(auction, auction.amount);
    if (max < next) return Status.OUTBID;
    if (max > auction.top) {
      auction.amount = Math.max(next, Math.min(max, auction.top + incrementAt(auction, auction.top)));
      auction.leader = user;
      auction.top = max;
      status = Status.ACCEPTED;
    } else {
      auction.amount = Math.max(next, Math.min(auction.top, max + incrementAt(auction, max)));
      status = Status.OUTBID;
    }
  }
  // The leader's maximum meets the reserve: the price rises to it, so the lot sells.
  if (auction.reserve > 0 && auction.amount < auction.reserve && auction.top >= auction.reserve) auction.amount = auction.reserve;
  return status;
}

/** A plain BID: exactly its amount, answered by another leader's maximum when that is as high. */
function applyExact(auction: AuctionState, user: number, amount: number): Status {
  const next = auction.leader === 0 ? auction.startingPrice : auction.amount + incrementAt(auction, auction.amount);
  if (amount < next) return Status.OUTBID;
  if (auction.leader === user || auction.leader === 0 || amount > auction.top) {
    // The leader keeps their own higher maximum; anyone else's lead starts at exactly this bid.
    auction.top = auction.leader === user ? Math.max(auction.top, amount) : amount;
    auction.amount = amount;
    auction.leader = user;
    return Status.ACCEPTED;
  }
  auction.amount = Math.min(auction.top, amount + incrementAt(auction, amount));
  return Status.OUTBID;
}

/** One visible step: the next seq, and anti-sniping. */
function step(auction: AuctionState, now: number): void {
  auction.seq += 1;
  if (auction.antiSnipeMs > 0 && auction.endsAt - now < auction.antiSnipeMs) {
    const extended = now + auction.antiSnipeMs;
    // max_ends_at is never before ends_at (the admin API checks), so this never shortens.
    auction.endsAt = auction.maxEndsAt > 0 ? Math.min(extended, auction.maxEndsAt) : extended;
  }
}

/**
 * Who placed the step a bid made: the bidder's own BID when it was ACCEPTED (it leads at
 * exactly its amount, buy-now included); otherwise a maximum (a MAX_BID, or the leader's
 * maximum answering a BID).
 */
export function stepBy(kind: BidKind, status: Status): StepBy {
  return kind === BidKind.BID && status === Status.ACCEPTED ? StepBy.BID : StepBy.MAX;
}

/**
 * The closing step's decision, once the auction has ended: the leader wins if the amount meets
 * the reserve, otherwise nothing sells. lua/close.lua is the same rule for Redis.
 */
export function closeAuction(auction: AuctionState): void {
  auction.closed = true;
  auction.winner = auction.leader !== 0 && auction.amount >= auction.reserve ? auction.leader : 0;
}
