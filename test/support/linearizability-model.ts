// The auction as a register, for the linearizability check (linearizability.ts): its state, and
// what each operation (a BID and its RESULT, a read and its STATE, the final read) does to it.
//
// The bid rule is src/auction/bid-rule.ts's, seen from outside: the checker cannot know the
// server's clock, so closing and opening by time are observed rather than computed. `started`
// and `closed` are flags that only ever turn on: a NOT_STARTED is possible only before anything
// saw the auction open, a CLOSED only once it may have ended, and nothing leads after a CLOSED.
//
// The final read of the store's bid history pins every accepted step: the step into seq k must
// produce exactly history entry k. So a state is just (seq, started, closed), packed into one
// number for the search's cache, and the amount and leader at seq k are read from the history.

import { Phase, Status } from "../../src/protocol/constants.ts";

/** A packed state, or NO_STEP when an operation cannot happen in the state it was given. */
export type PackedState = number;
export const NO_STEP = -1;

/** The flags packed under the seq. */
const STARTED = 1;
const CLOSED = 2;
const FLAG_SPACE = 4;

export function pack(seq: number, flags: number): PackedState {
  return seq * FLAG_SPACE + flags;
}
export function seqOf(state: PackedState): number {
  return Math.floor(state / FLAG_SPACE);
}
export function isClosed(state: PackedState): boolean {
  return (state % FLAG_SPACE & CLOSED) !== 0;
}
/** Every flag combination, for asking whether an operation fits a seq at all. */
export const ALL_FLAGS = [0, STARTED, CLOSED, STARTED | CLOSED] as const;

export const OperationKind = {
  /** A BID: determinate when its RESULT tells what happened, else it may or may not have taken effect. */
  BID: "bid",
  /** A QUERY or a SUBSCRIBE, answered by STATE. */
  READ: "read",
  /** The auction and its whole bid history as read after the run. */
  FINAL: "final",
} as const;
export type OperationKind = (typeof OperationKind)[keyof typeof OperationKind];

interface OperationBase {
  /** Position in the auction's operation list. */
  index: number;
  /** Invocation and response times (ms, one clock); `ret` is Infinity for an indeterminate operation. */
  call: number;
  ret: number;
  /** False when the operation may have taken effect or not (UNCONFIRMED, no reply): it need not be linearized. */
  determinate: boolean;
  /** How a report names it (made only when a report needs it: a history may hold millions). */
  describe(): string;
}

export interface BidOperation extends OperationBase {
  kind: typeof OperationKind.BID;
  user: number;
  amount: number;
  /** The RESULT (determinate bids only). */
  status: number;
  replyAmount: number;
  replyLeader: number;
}

export interface ReadOperation extends OperationBase {
  kind: typeof OperationKind.READ;
  seq: number;
  /** null when the recorder did not keep it. */
  phase: number | null;
  amount: number | null;
  leader: number | null;
}

export interface FinalReadOperation extends OperationBase {
  kind: typeof OperationKind.FINAL;
}

export type Operation = BidOperation | ReadOperation | FinalReadOperation;

/** The auction's rules; a field the source did not give is unknown, and the check is lenient about it. */
export interface AuctionRules {
  startingPrice?: number;
  minIncrement?: number;
  reserve?: number;
  /** 0: no buy-now. */
  buyNowPrice?: number;
}

/** One accepted step of the final history. */
export interface HistoryStep {
  amount: number;
  user: number;
}

/** The final read: where the auction ended up. */
export interface FinalView {
  seq: number;
  amount: number;
  leader: number;
  closed: boolean;
}

/** Would a bid lead? Unknown when the rules needed are not known. */
const Leads = { NO: 0, YES: 1, MAYBE: 2 } as const;
type Leads = (typeof Leads)[keyof typeof Leads];

export class AuctionRegister {
  readonly initial: PackedState = pack(0, 0);

  constructor(
    readonly rules: AuctionRules,
    /** history[k - 1] is the step into seq k. */
    readonly history: readonly HistoryStep[],
    readonly final: FinalView,
  ) {}

  amountAt(seq: number): number {
    return seq === 0 ? 0 : (this.history[seq - 1]?.amount ?? -1);
  }

  leaderAt(seq: number): number {
    return seq === 0 ? 0 : (this.history[seq - 1]?.user ?? -1);
  }

  /** The state after `op` runs in `state`, or NO_STEP if its reply cannot come from there. */
  step(state: PackedState, op: Operation): PackedState {
    const seq = seqOf(state);
    const flags = state % FLAG_SPACE;
    const closed = (flags & CLOSED) !== 0;
    switch (op.kind) {
      case OperationKind.FINAL:
        return seq === this.final.seq && this.amountAt(seq) === this.final.amount && this.leaderAt(seq) === this.final.leader && (!closed || this.final.closed)
          ? state
          : NO_STEP;
      case OperationKind.READ:
        if (op.seq !== seq || (op.amount !== null && op.amount !== this.amountAt(seq)) || (op.leader !== null && op.leader !== this.leaderAt(seq))) return NO_STEP;
        return this.observePhase(state, op.phase);
      case OperationKind.BID:
        if (!op.determinate) return closed ? NO_STEP : this.lead(state, op);
        return this.bid(state, op);
    }
  }

  /** A determinate BID: its status and the state its RESULT reports must both fit. */
  private bid(state: PackedState, op: BidOperation): PackedState {
    const seq = seqOf(state);
    const flags = state % FLAG_SPACE;
    const reportsThisState = op.replyAmount === this.amountAt(seq) && op.replyLeader === this.leaderAt(seq);
    switch (op.status) {
      case Status.ACCEPTED: {
        if ((flags & CLOSED) !== 0) return NO_STEP;
        const next = this.lead(state, op);
        return next !== NO_STEP && op.replyAmount === this.amountAt(seq + 1) && op.replyLeader === op.user ? next : NO_STEP;
      }
      case Status.OUTBID:
        if ((flags & CLOSED) !== 0 || !reportsThisState || this.leads(seq, op.amount) === Leads.YES) return NO_STEP;
        return pack(seq, flags | STARTED);
      case Status.CLOSED:
        return this.final.closed && reportsThisState ? pack(seq, flags | CLOSED) : NO_STEP;
      case Status.NOT_STARTED:
        return flags === 0 && seq === 0 && reportsThisState ? state : NO_STEP;
      default:
        return NO_STEP;
    }
  }

  /** The bid takes the lead from `state`: the next history step must be exactly what the rule makes of it. */
  private lead(state: PackedState, op: BidOperation): PackedState {
    const seq = seqOf(state);
    const next = this.history[seq];
    if (next === undefined || next.user !== op.user) return NO_STEP;
    const flags = (state % FLAG_SPACE) | STARTED;
    const buyNow = this.buyNowApplies(seq, op.amount);
    if (buyNow !== Leads.NO && next.amount === this.rules.buyNowPrice) return pack(seq + 1, flags | CLOSED);
    if (buyNow === Leads.MAYBE && this.rules.buyNowPrice === undefined && next.amount < op.amount && next.amount > this.amountAt(seq)) return pack(seq + 1, flags); // unknown rules: maybe bought
    if (buyNow === Leads.YES) return NO_STEP;
    return next.amount === op.amount && this.leads(seq, op.amount) !== Leads.NO ? pack(seq + 1, flags) : NO_STEP;
  }

  /** Does buy-now take a bid of `amount` at seq? */
  private buyNowApplies(seq: number, amount: number): Leads {
    const { buyNowPrice, reserve } = this.rules;
    if (buyNowPrice === undefined) return Leads.MAYBE;
    if (buyNowPrice === 0 || amount < buyNowPrice) return Leads.NO;
    if (this.leaderAt(seq) === 0) return Leads.YES;
    if (reserve === undefined) return Leads.MAYBE;
    return this.amountAt(seq) < reserve ? Leads.YES : Leads.NO;
  }

  /** Does a bid of `amount` lead at seq (buy-now aside)? */
  private leads(seq: number, amount: number): Leads {
    if (this.buyNowApplies(seq, amount) === Leads.YES) return Leads.YES;
    const needed = this.leaderAt(seq) === 0 ? this.rules.startingPrice : this.rules.minIncrement === undefined ? undefined : this.amountAt(seq) + this.rules.minIncrement;
    if (needed === undefined) return amount > this.amountAt(seq) ? Leads.MAYBE : Leads.NO;
    return amount >= needed ? Leads.YES : Leads.NO;
  }

  /** A STATE's phase: OPEN means it had started and not ended, SCHEDULED that it had not started. */
  private observePhase(state: PackedState, phase: number | null): PackedState {
    const seq = seqOf(state);
    const flags = state % FLAG_SPACE;
    switch (phase) {
      case null:
        return state;
      case Phase.OPEN:
        return (flags & CLOSED) === 0 ? pack(seq, flags | STARTED) : NO_STEP;
      case Phase.SCHEDULED:
        return flags === 0 && seq === 0 ? state : NO_STEP;
      case Phase.CLOSED:
        return this.final.closed ? pack(seq, flags | CLOSED) : NO_STEP;
      default:
        return NO_STEP;
    }
  }

  /** A short account of a state, for reports. */
  describe(state: PackedState): string {
    const seq = seqOf(state);
    const where = seq === 0 ? "seq 0 (no bid)" : `seq ${seq} (${this.amountAt(seq)} by user ${this.leaderAt(seq)})`;
    return isClosed(state) ? `${where}, closed` : where;
  }
}
