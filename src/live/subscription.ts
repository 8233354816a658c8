// The hub's bookkeeping per subscriber, per auction and per (subscriber, auction); see
// subscription-hub.ts for how they are used.

import type { Subscriber } from "./subscriber.ts";

/** One live UPDATE's contents, held while it cannot be sent yet. */
export interface Update {
  seq: number;
  amount: number;
  leader: number;
  endsAt: number;
}

/** An auction's CLOSED, waiting for the UPDATEs before it. */
export interface Closing {
  seq: number;
  winner: number;
  amount: number;
}

/** The requests that change what a subscriber follows. */
export const RequestKind = { SUBSCRIBE: 0, UNSUBSCRIBE: 1 } as const;
export type RequestKind = (typeof RequestKind)[keyof typeof RequestKind];

/** A SUBSCRIBE or UNSUBSCRIBE read and not answered yet. */
export interface WaitingRequest {
  kind: RequestKind;
  req: number;
  /** SUBSCRIBE's replay point. */
  since: number;
}

/** What one subscriber follows, with the counts its bound is kept by. */
export class SubscriberSubscriptions<S extends Subscriber> {
  readonly byAuction = new Map<number, Subscription<S>>();
  /** Subscriptions whose SUBSCRIBE was answered with the auction's STATE, not unsubscribed since. */
  following = 0;
  /** SUBSCRIBEs read and not answered yet. */
  waitingSubscribes = 0;
  /** UNSUBSCRIBEs waiting behind a SUBSCRIBE of the same auction. */
  waitingUnsubscribes = 0;
  /** Its reading is held until enough of its waiting requests are answered. */
  held = false;

  get waiting(): number {
    return this.waitingSubscribes + this.waitingUnsubscribes;
  }
}

/** One subscriber's dealings with one auction: its requests in order, and what it was sent. */
export class Subscription<S extends Subscriber> {
  /** Requests not answered yet, oldest first; the first is being answered. */
  readonly requests: WaitingRequest[] = [];
  /** In its feed's subscriptions: live updates reach it (or wait in `held`). */
  inFeed = false;
  /** A SUBSCRIBE was answered with the auction's STATE and no UNSUBSCRIBE since. */
  following = false;
  /** Dropped with its subscriber: a request being answered stops where it is. */
  ended = false;
  /** Highest seq sent (or covered by the snapshot). */
  lastSeq = 0;
  /** While a snapshot and replay are on their way, live updates wait here. */
  held: Update[] | null = null;
  closedSent = false;
  constructor(
    readonly connection: S,
    readonly auctionId: number,
    readonly owner: SubscriberSubscriptions<S>,
  ) {}
}

/** One auction's local subscribers and where the node stands in its seq. */
export class AuctionFeed<S extends Subscriber> {
  readonly subscriptions = new Map<S, Subscription<S>>();
  /** Highest seq this node has delivered for the auction; -1 until known. */
  lastSeq = -1;
  /** A history read is filling a gap; live updates (and the CLOSED) queue behind it. */
  healing = false;
  /** Asked to heal while healing (the feed was cut again): read the history once more. */
  healAgain = false;
  queued: Update[] = [];
  closing: Closing | null = null;
}

/** A subscriber that fell behind: its latest UPDATE per auction, and since when it lags. */
export class Congestion {
  /** The latest UPDATE per auction, sent once it catches up; null when none is held. */
  conflated: Map<number, Update> | null = null;
  /** When its queue first stayed over the high-water mark; 0 when it is not. */
  congestedSince = 0;
}
