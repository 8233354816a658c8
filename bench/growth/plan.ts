// What the growth benchmark stores, whatever the store: which auctions are closed, open or
// scheduled, their times, and the bids each holds. Both loaders write this plan, and the
// read-back check (verify.ts) compares the server's answers with it.
//
// Auction i is open when i is a multiple of round(1 / (1 - closed)); 1 in SCHEDULED_EVERY of
// the open ones is scheduled (starts in a day). Closed auctions ended yesterday, within an hour
// of each other; open ones end in a day, scheduled ones in two. Every auction that started
// holds `bidsPer` bids, each a plain BID raising the amount by the increment, so the leader's
// maximum is the amount and a closed auction was won by its leader (no reserve).

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const SCHEDULED_EVERY = 100;
export const USERS = 50;
export const STARTING_PRICE = 100;
export const INCREMENT = 10;
/** Bid s of an auction was accepted this long after the previous one. */
const BID_SPACING_MS = 1_000;

export interface GrowthPlan {
  auctions: number;
  /** Share of the auctions that are closed, e.g. 0.9. */
  closedFraction: number;
  /** Bids of every auction that started. */
  bidsPer: number;
  /** The moment the plan is relative to (ms). */
  now: number;
}

export interface PlannedAuction {
  id: number;
  title: string;
  startingPrice: number;
  minIncrement: number;
  open: boolean;
  scheduled: boolean;
  startsAt: number;
  endsAt: number;
  seq: number;
  amount: number;
  leader: number;
  closed: boolean;
  winner: number;
}

export interface PlannedBid {
  seq: number;
  amount: number;
  user: number;
  at: number;
}

/** Every this-many-th id is open (or scheduled). */
export function openEvery(plan: GrowthPlan): number {
  return Math.max(1, Math.round(1 / (1 - plan.closedFraction)));
}

export function plannedAuction(plan: GrowthPlan, id: number): PlannedAuction {
  const every = openEvery(plan);
  const open = id % every === 0;
  const scheduled = open && (id / every) % SCHEDULED_EVERY === 0;
  const startsAt = scheduled ? plan.now + DAY_MS : plan.now - 2 * DAY_MS;
  const endsAt = open ? plan.now + (scheduled ? 2 : 1) * DAY_MS : plan.now - DAY_MS + (id % HOUR_MS);
  const seq = scheduled ? 0 : plan.bidsPer;
  const amount = seq === 0 ? 0 : STARTING_PRICE + seq * INCREMENT;
  const leader = seq === 0 ? 0 : 1 + (seq % USERS);
  return { id, title: `lot ${id}`, startingPrice: STARTING_PRICE, minIncrement: INCREMENT, open, scheduled, startsAt, endsAt, seq, amount, leader, closed: !open, winner: open ? 0 : leader };
}

/** Bid `seq` (from 1) of an auction. */
export function plannedBid(auction: PlannedAuction, seq: number): PlannedBid {
  return { seq, amount: STARTING_PRICE + seq * INCREMENT, user: 1 + (seq % USERS), at: auction.startsAt + seq * BID_SPACING_MS };
}

/** How many auctions of each phase, and bids, the plan holds. */
export function planCounts(plan: GrowthPlan): { closed: number; open: number; scheduled: number; bids: number } {
  const every = openEvery(plan);
  const notClosed = Math.floor(plan.auctions / every);
  const scheduled = Math.floor(notClosed / SCHEDULED_EVERY);
  return { closed: plan.auctions - notClosed, open: notClosed - scheduled, scheduled, bids: plan.bidsPer * (plan.auctions - scheduled) };
}
