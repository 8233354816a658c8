// What a bid or a close tells the bidders who are not watching: the webhook events
// (docs/webhooks.md). Which events a change yields is decided here, once, for the memory and
// SQLite stores; lua/bid.lua, close.lua and cancel.lua decide the same for Redis.

import type { AuctionState } from "./auction.ts";

/** The event types, as the webhook body's `type` names them. */
export const NotificationType = {
  /** A user lost the lead: `user` was the leader, `leader` bid `amount`. */
  OUTBID: "outbid",
  /** Anti-sniping moved the end: `endsAt` is the new ends_at. */
  EXTENDED: "extended",
  /** The auction closed with a sale: `user` won at `amount`. */
  WON: "won",
  /** The auction closed: `outcome` says how; `user` and `amount` are the winner and price (0: none). */
  CLOSED: "closed",
} as const;
export type NotificationType = (typeof NotificationType)[keyof typeof NotificationType];

/** How a `closed` event's auction ended. */
export const CloseOutcome = { SOLD: "sold", NO_SALE: "no_sale", CANCELLED: "cancelled", NONE: "" } as const;
export type CloseOutcome = (typeof CloseOutcome)[keyof typeof CloseOutcome];

/**
 * One event, flat so every store keeps it in the same columns. Fields a type does not use are
 * 0 (or "" for `outcome`). Events of one auction are stored in the order they happened; a bid's
 * `outbid` and `extended` share its seq, a close's `won` and `closed` the auction's last seq.
 */
export interface Notification {
  type: NotificationType;
  auction: number;
  seq: number;
  /** When it happened, by the store's clock (ms since the epoch). */
  at: number;
  /** outbid: who lost the lead; won, closed: the winner (0: none). */
  user: number;
  /** outbid: the new amount; won, closed: the price (0: no sale). */
  amount: number;
  /** outbid: the new leader. */
  leader: number;
  /** extended: the new ends_at. */
  endsAt: number;
  outcome: CloseOutcome;
}

/** Where a store's events go: written in the same transaction as the change that caused them. */
export interface NotificationSink {
  add(event: Notification): void;
}

function event(type: NotificationType, auction: AuctionState, at: number): Notification {
  return { type, auction: auction.id, seq: auction.seq, at, user: 0, amount: 0, leader: 0, endsAt: 0, outcome: CloseOutcome.NONE };
}

/**
 * The events of an accepted bid, given the leader and ends_at before it: `outbid` when the lead
 * passed from one user to another (raising one's own bid outbids nobody), `extended` when
 * anti-sniping moved the end later (buy-now moves it earlier: its close says the rest).
 */
export function notifyBid(sink: NotificationSink, auction: AuctionState, leaderBefore: number, endsAtBefore: number, at: number): void {
  if (leaderBefore !== 0 && leaderBefore !== auction.leader) {
    const outbid = event(NotificationType.OUTBID, auction, at);
    outbid.user = leaderBefore;
    outbid.amount = auction.amount;
    outbid.leader = auction.leader;
    sink.add(outbid);
  }
  if (auction.endsAt > endsAtBefore) {
    const extended = event(NotificationType.EXTENDED, auction, at);
    extended.endsAt = auction.endsAt;
    sink.add(extended);
  }
}

/** The events of a close (the closing step's decision made) or a cancel: `won` on a sale, then `closed`. */
export function notifyClose(sink: NotificationSink, auction: AuctionState, cancelled: boolean, at: number): void {
  const sold = !cancelled && auction.winner !== 0;
  if (sold) {
    const won = event(NotificationType.WON, auction, at);
    won.user = auction.winner;
    won.amount = auction.amount;
    sink.add(won);
  }
  const closed = event(NotificationType.CLOSED, auction, at);
  closed.outcome = cancelled ? CloseOutcome.CANCELLED : sold ? CloseOutcome.SOLD : CloseOutcome.NO_SALE;
  closed.user = sold ? auction.winner : 0;
  closed.amount = sold ? auction.amount : 0;
  sink.add(closed);
}
