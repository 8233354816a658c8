// A reference model of the bid rule, written from the contract's text (docs/protocol.md, "Proxy
// bidding: MAX_BID", and the BID and buy-now rules), independently of src/auction/bid-rule.ts:
// immutable states, one function per sentence. Tests hold every store to it.

export interface ModelAuction {
  startingPrice: number;
  minIncrement: number;
  increments: { from: number; step: number }[] | null;
  reserve: number;
  buyNowPrice: number;
}

export interface ModelState {
  amount: number;
  leader: number;
  /** The leader's maximum; equal to amount when the lead came from a BID. */
  top: number;
  seq: number;
  /** Buy-now ended it. */
  ended: boolean;
  /** Every visible step: [amount, leader, "bid" | "max"]. */
  steps: [number, number, "bid" | "max"][];
}

export type ModelBid = { user: number; kind: "bid" | "max"; amount: number };
export type ModelStatus = "ACCEPTED" | "OUTBID" | "CLOSED";

export const emptyState = (): ModelState => ({ amount: 0, leader: 0, top: 0, seq: 0, ended: false, steps: [] });

/** "inc(p) is ... its fixed minimum increment, or, with an increment table, the step of the last row whose from is <= p". */
export function inc(a: ModelAuction, p: number): number {
  if (a.increments === null) return a.minIncrement;
  return a.increments.filter((row) => row.from <= p).at(-1)!.step;
}

/** "next is the starting price when there is no leader, else amount + inc(amount)". */
function next(a: ModelAuction, s: ModelState): number {
  return s.leader === 0 ? a.startingPrice : s.amount + inc(a, s.amount);
}

/** Applies one bid; returns the status and the state after it. */
export function modelBid(a: ModelAuction, s: ModelState, bid: ModelBid): { status: ModelStatus; state: ModelState } {
  if (s.ended) return { status: "CLOSED", state: s };
  // Buy-now: "at or above the auction's buy-now price, while no bid has met the reserve (there
  // is no bid yet, or the amount is below the reserve), is ACCEPTED at exactly the buy-now price".
  if (a.buyNowPrice > 0 && (s.leader === 0 || s.amount < a.reserve) && bid.amount >= a.buyNowPrice) {
    return { status: "ACCEPTED", state: withStep(s, { amount: a.buyNowPrice, leader: bid.user, top: a.buyNowPrice, ended: true }, bid.kind) };
  }
  const [status, after] = bid.kind === "max" ? maxBid(a, s, bid.user, bid.amount) : exactBid(a, s, bid.user, bid.amount);
  const by = bid.kind === "bid" && status === "ACCEPTED" ? "bid" : "max";
  const changed = after.amount !== s.amount || after.leader !== s.leader;
  return { status, state: changed ? withStep(s, after, by) : { ...s, top: after.top } };
}

function withStep(s: ModelState, change: Partial<ModelState>, by: "bid" | "max"): ModelState {
  const after = { ...s, ...change, seq: s.seq + 1 };
  return { ...after, steps: [...s.steps, [after.amount, after.leader, by]] };
}

type Visible = Pick<ModelState, "amount" | "leader" | "top">;

function maxBid(a: ModelAuction, s: ModelState, u: number, M: number): [ModelStatus, Visible] {
  let status: ModelStatus;
  let v: Visible = { amount: s.amount, leader: s.leader, top: s.top };
  if (s.leader === u) {
    // 1. "M <= top changes nothing; otherwise top = M. Either way ACCEPTED."
    status = "ACCEPTED";
    if (M > s.top) v = { ...v, top: M };
  } else if (s.leader === 0) {
    // 2. "M < starting price is OUTBID. Otherwise u leads, top = M, amount = the starting price."
    if (M < a.startingPrice) return ["OUTBID", v];
    status = "ACCEPTED";
    v = { amount: a.startingPrice, leader: u, top: M };
  } else {
    const n = next(a, s);
    // 3. "M < next is OUTBID and changes nothing."
    if (M < n) return ["OUTBID", v];
    if (M > s.top) {
      // "u leads, amount = min(M, top + inc(top)), and never below next; top = M; ACCEPTED"
      status = "ACCEPTED";
      v = { amount: Math.max(Math.min(M, s.top + inc(a, s.top)), n), leader: u, top: M };
    } else {
      // "L keeps the lead ... amount = min(top, M + inc(M)), never below next; OUTBID"
      status = "OUTBID";
      v = { ...v, amount: Math.max(Math.min(s.top, M + inc(a, M)), n) };
    }
  }
  // "where a reserve is set, amount is below it and top >= reserve, amount rises to the reserve"
  if (a.reserve > 0 && v.amount < a.reserve && v.top >= a.reserve) v = { ...v, amount: a.reserve };
  return [status, v];
}

function exactBid(a: ModelAuction, s: ModelState, u: number, X: number): [ModelStatus, Visible] {
  // "X < next is OUTBID."
  if (X < next(a, s)) return ["OUTBID", { amount: s.amount, leader: s.leader, top: s.top }];
  // "If u leads, or nobody does, or X > top, u leads at exactly X, and top = X (or u's own
  // higher top, where u already led with one): ACCEPTED."
  if (s.leader === u || s.leader === 0 || X > s.top) {
    return ["ACCEPTED", { amount: X, leader: u, top: s.leader === u && s.top > X ? s.top : X }];
  }
  // "Otherwise (X <= top of another leader L) L's maximum answers: amount = min(top, X + inc(X)), OUTBID."
  return ["OUTBID", { amount: Math.min(s.top, X + inc(a, X)), leader: s.leader, top: s.top }];
}
