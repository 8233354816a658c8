// The bid rule, decided in the contract's order (docs/protocol.md, "RESULT status").
// lua/bid.lua is the same rule for Redis; test/store/contract.test.ts holds both to it.

import { Status } from "../protocol/constants.ts";
import type { AuctionState } from "./auction.ts";

/**
 * Applies one bid to `auction` at time `now` (ms) and returns its status. On ACCEPTED the
 * auction's amount, leader and seq move and `endsAt` may move (anti-sniping, buy-now);
 * otherwise the auction is left untouched. INVALID and the other pre-store statuses are
 * decided before this is called.
 */
export function applyBidRule(auction: AuctionState, user: number, amount: number, now: number): Status {
  if (now < auction.startsAt) return Status.NOT_STARTED;
  if (auction.closed || now >= auction.endsAt) return Status.CLOSED;

  const buyNowOpen = auction.buyNowPrice > 0 && (auction.leader === 0 || auction.amount < auction.reserve);
  if (buyNowOpen && amount >= auction.buyNowPrice) {
    // eBay's rule: the buy-now price wins at once, at exactly that price, and ends the auction.
    auction.amount = auction.buyNowPrice;
    auction.leader = user;
    auction.seq += 1;
    auction.endsAt = now;
    return Status.ACCEPTED;
  }

  const needed = auction.leader === 0 ? auction.startingPrice : auction.amount + auction.minIncrement;
  if (amount < needed) return Status.OUTBID;

  auction.amount = amount;
  auction.leader = user;
  auction.seq += 1;
  if (auction.antiSnipeMs > 0 && auction.endsAt - now < auction.antiSnipeMs) {
    const extended = now + auction.antiSnipeMs;
    // max_ends_at is never before ends_at (the admin API checks), so this never shortens.
    auction.endsAt = auction.maxEndsAt > 0 ? Math.min(extended, auction.maxEndsAt) : extended;
  }
  return Status.ACCEPTED;
}

/**
 * The closing step's decision, once the auction has ended: the leader wins if the amount meets
 * the reserve, otherwise nothing sells. lua/close.lua is the same rule for Redis.
 */
export function closeAuction(auction: AuctionState): void {
  auction.closed = true;
  auction.winner = auction.leader !== 0 && auction.amount >= auction.reserve ? auction.leader : 0;
}
