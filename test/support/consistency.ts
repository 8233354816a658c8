// The auction invariants, checked from what clients saw and what the store holds at the end;
// see docs/protocol.md ("Rules every implementation keeps") and issue 5, item 7.
//
// A test (or the load generator) records into a `ClientLog` as it goes: every BID sent and the
// reply it got, per bidder connection, and every STATE, UPDATE and CLOSED per subscriber
// connection. Once the run is quiet it reads the final state of each auction (the store's
// seq, amount, leader, closed, winner and the whole bid history) and calls `check`, which
// returns every violation found; `assertConsistent` throws with all of them.
//
// @example
//   const log = new ClientLog();
//   const bidder = log.bidder("bidder 1");
//   bidder.sent(req, auction, user, amount);          // as each BID leaves
//   for (const frame of raw.frames) bidder.observe(frame); // RESULTs (any time, in order)
//   const sub = log.subscriber("sub 1");
//   sub.subscribed(auction, 0);
//   for (const frame of subRaw.frames) sub.observe(frame);
//   assertConsistent(log, await fetchFinalState(httpUrl, [auction]));

import type { Frame } from "../../src/protocol/codec.ts";
import { ErrorCode, FrameType, MAX_AMOUNT, NO_REPLAY, Phase, Status } from "../../src/protocol/constants.ts";
import { statusName as protocolStatusName } from "../../src/protocol/names.ts";
import type { Store } from "../../src/store/store.ts";
import { phaseAt } from "../../src/auction/auction.ts";
import { linearizabilityViolations } from "./linearizability.ts";
import { ReaderLog, type ReadRecord } from "./linearizability-reads.ts";

// ---- What the store holds at the end ------------------------------------------------------

/** One accepted bid in the store's history. */
export interface FinalHistoryEntry {
  seq: number;
  amount: number;
  user: number;
  /** The auction's ends_at after this bid, when the source tells (the admin API does not). */
  endsAt?: number;
}

/** One auction as the store holds it once the run is over. */
export interface FinalAuction {
  id: number;
  seq: number;
  amount: number;
  leader: number;
  /** Ended: closed by the closer or cancel, or past its ends_at. */
  closed: boolean;
  /** The closing step's decision; null when the source does not tell (then it is derived). */
  winner: number | null;
  /** Closed by cancel: no sale whatever the bids. */
  cancelled?: boolean;
  /** The spec, when known: it sharpens the checks (winner, buy-now, OUTBID). */
  reserve?: number;
  buyNowPrice?: number;
  startingPrice?: number;
  minIncrement?: number;
  /** Every accepted bid, oldest first. */
  history: FinalHistoryEntry[];
}

export type FinalState = readonly FinalAuction[] | ReadonlyMap<number, FinalAuction>;

// ---- What clients saw -----------------------------------------------------------------------

/** `BidRecord.status` before any RESULT came (unanswered, or answered by an ERROR). */
export const NO_RESULT = -1;

/** One BID as sent, and the first reply it got. Flat fields: a load run may hold millions. */
export interface BidRecord {
  /** `BidderLog.id` of the connection it went out on. */
  connection: number;
  /** Position among the bids that connection sent (0, 1, 2, ...). */
  order: number;
  req: number;
  auction: number;
  user: number;
  amount: number;
  /** How many replies (RESULT or ERROR) came for it; 1 is right. */
  replies: number;
  /** The RESULT's status, or NO_RESULT. */
  status: number;
  resultAuction: number;
  resultAmount: number;
  resultLeader: number;
  /** The ERROR code when an ERROR answered it (e.g. SHUTTING_DOWN); 0 otherwise. */
  errorCode: number;
  /** When it was sent and when its first reply came (performance.now(); Infinity before a reply): the linearizability check's real-time order. */
  sentAt: number;
  receivedAt: number;
}

/** ERROR codes that answer no particular request. */
const UNTIED_ERRORS: ReadonlySet<number> = new Set([ErrorCode.MALFORMED, ErrorCode.UNKNOWN_TYPE, ErrorCode.TOO_MANY_CONNECTIONS]);

/** What one bidder connection sent and got back. Use one per connection (order is per connection). */
export class BidderLog {
  readonly records: BidRecord[] = [];
  /** Replies whose `req` matched no BID this connection sent. */
  readonly orphans: { req: number; status: number }[] = [];
  /** Unanswered bids by req (a list only when a req is reused while still pending). */
  private readonly waiting = new Map<number, BidRecord[]>();
  /** The last answered bid per req, to count a second reply against. */
  private readonly answered = new Map<number, BidRecord>();

  constructor(
    readonly id: number,
    readonly label: string,
  ) {}

  /** Records a BID as it leaves (`at`: when, by default now). */
  sent(req: number, auction: number, user: number, amount: number, at = performance.now()): BidRecord {
    const record: BidRecord = {
      connection: this.id,
      order: this.records.length,
      req,
      auction,
      user,
      amount,
      replies: 0,
      status: NO_RESULT,
      resultAuction: 0,
      resultAmount: 0,
      resultLeader: 0,
      errorCode: 0,
      sentAt: at,
      receivedAt: Number.POSITIVE_INFINITY,
    };
    this.records.push(record);
    const queue = this.waiting.get(req);
    if (queue === undefined) this.waiting.set(req, [record]);
    else queue.push(record);
    return record;
  }

  /** Records a RESULT. */
  result(req: number, status: number, auction: number, amount: number, leader: number, at = performance.now()): void {
    const record = this.take(req, status);
    if (record === null || record.replies > 1) return;
    record.receivedAt = at;
    record.status = status;
    record.resultAuction = auction;
    record.resultAmount = amount;
    record.resultLeader = leader;
  }

  /** Records an ERROR that answers a request (SHUTTING_DOWN, UNAUTHENTICATED, INTERNAL). */
  error(req: number, code: number, at = performance.now()): void {
    if (UNTIED_ERRORS.has(code)) return;
    if (!this.waiting.has(req) && !this.answered.has(req)) return; // an ERROR for a non-BID request
    const record = this.take(req, NO_RESULT);
    if (record !== null && record.replies === 1) {
      record.errorCode = code;
      record.receivedAt = at;
    }
  }

  /** Records any frame the server sent this connection; only RESULT and ERROR matter. */
  observe(frame: Frame): void {
    if (frame.type === FrameType.RESULT) this.result(frame.req, frame.status, frame.auction, frame.amount, frame.leader);
    else if (frame.type === FrameType.ERROR) this.error(frame.req, frame.code);
  }

  /** The oldest unanswered bid with this req; a second reply is counted on the answered one. */
  private take(req: number, status: number): BidRecord | null {
    const queue = this.waiting.get(req);
    if (queue !== undefined) {
      const record = queue.shift()!;
      if (queue.length === 0) this.waiting.delete(req);
      record.replies = 1;
      this.answered.set(req, record);
      return record;
    }
    const earlier = this.answered.get(req);
    if (earlier !== undefined) {
      earlier.replies++;
      return earlier;
    }
    this.orphans.push({ req, status });
    return null;
  }
}

export interface SeenUpdate {
  seq: number;
  amount: number;
  leader: number;
  endsAt: number;
}

export interface SeenClosed {
  seq: number;
  winner: number;
  amount: number;
  /** How many UPDATEs of the auction this subscriber had seen when the CLOSED came. */
  afterUpdates: number;
}

/** One subscription of one subscriber connection to one auction. */
export interface SubscriptionTrace {
  auction: number;
  /** SUBSCRIBE's `since`; null when the test did not record the SUBSCRIBE. */
  since: number | null;
  /** The STATE snapshot's seq; null until it came. */
  stateSeq: number | null;
  updates: SeenUpdate[];
  closed: SeenClosed[];
  /** When the SUBSCRIBE left (null when not recorded), and its STATE as a read of the auction. */
  subscribedAt: number | null;
  stateRead: ReadRecord | null;
}

/** What one subscriber connection was pushed. */
export class SubscriberLog {
  readonly traces = new Map<number, SubscriptionTrace>();
  /** The connection ended before the run did: it need not have caught up. */
  isDisconnected = false;

  constructor(
    readonly id: number,
    readonly label: string,
  ) {}

  private trace(auction: number): SubscriptionTrace {
    let trace = this.traces.get(auction);
    if (trace === undefined) {
      trace = { auction, since: null, stateSeq: null, updates: [], closed: [], subscribedAt: null, stateRead: null };
      this.traces.set(auction, trace);
    }
    return trace;
  }

  /** Records a SUBSCRIBE as it leaves (`since` = NO_REPLAY for live updates only). */
  subscribed(auction: number, since: number, at = performance.now()): void {
    const trace = this.trace(auction);
    trace.since = since;
    trace.subscribedAt = at;
  }

  /** Records the STATE that answered the SUBSCRIBE (`reply`: its other fields, when known). */
  state(auction: number, seq: number, reply?: { phase: number; amount: number; leader: number }, at = performance.now()): void {
    const trace = this.trace(auction);
    if (trace.stateSeq !== null) return;
    trace.stateSeq = seq;
    trace.stateRead = { auction, sentAt: trace.subscribedAt ?? Number.NEGATIVE_INFINITY, receivedAt: at, seq, phase: reply?.phase ?? null, amount: reply?.amount ?? null, leader: reply?.leader ?? null };
  }

  update(auction: number, seq: number, amount: number, leader: number, endsAt: number): void {
    this.trace(auction).updates.push({ seq, amount, leader, endsAt });
  }

  closed(auction: number, seq: number, winner: number, amount: number): void {
    const trace = this.trace(auction);
    trace.closed.push({ seq, winner, amount, afterUpdates: trace.updates.length });
  }

  /** Records any frame the server pushed; STATE, UPDATE and CLOSED matter. */
  observe(frame: Frame): void {
    switch (frame.type) {
      case FrameType.STATE:
        this.state(frame.auction, frame.seq, frame);
        break;
      case FrameType.UPDATE:
        this.update(frame.auction, frame.seq, frame.amount, frame.leader, frame.endsAt);
        break;
      case FrameType.CLOSED:
        this.closed(frame.auction, frame.seq, frame.winner, frame.amount);
        break;
    }
  }

  /** The connection ended early (a killed server, a dropped slow subscriber). */
  disconnected(): void {
    this.isDisconnected = true;
  }
}

/** Everything every client of a run saw. */
export class ClientLog {
  readonly bidders: BidderLog[] = [];
  readonly subscribers: SubscriberLog[] = [];
  readonly readers: ReaderLog[] = [];

  /** A log for one bidder connection. */
  bidder(label = `bidder ${this.bidders.length + 1}`): BidderLog {
    const log = new BidderLog(this.bidders.length, label);
    this.bidders.push(log);
    return log;
  }

  /** A log for one subscriber connection. */
  subscriber(label = `subscriber ${this.subscribers.length + 1}`): SubscriberLog {
    const log = new SubscriberLog(this.subscribers.length, label);
    this.subscribers.push(log);
    return log;
  }

  /** A log for one connection's QUERYs (reads, for the linearizability check). */
  reader(label = `reader ${this.readers.length + 1}`): ReaderLog {
    const log = new ReaderLog(this.readers.length, label);
    this.readers.push(log);
    return log;
  }

  /** Counts, to show a run was not vacuous. */
  stats(): { sent: number; answered: number; accepted: number; updates: number; closed: number } {
    let sent = 0;
    let answered = 0;
    let accepted = 0;
    for (const bidder of this.bidders) {
      for (const record of bidder.records) {
        sent++;
        if (record.replies > 0) answered++;
        if (record.status === Status.ACCEPTED) accepted++;
      }
    }
    let updates = 0;
    let closed = 0;
    for (const sub of this.subscribers) {
      for (const trace of sub.traces.values()) {
        updates += trace.updates.length;
        closed += trace.closed.length;
      }
    }
    return { sent, answered, accepted, updates, closed };
  }
}

// ---- The check -------------------------------------------------------------------------------

export const ViolationKind = {
  /** An ACCEPTED bid the store does not hold, or a final amount below an acknowledged bid. */
  LOST_BID: "lost-bid",
  /** The final amount or leader is not the highest acknowledged bid. */
  FINAL_MISMATCH: "final-mismatch",
  /** A stored bid no client was told was accepted (or, after a crash, that no client sent). */
  PHANTOM_BID: "phantom-bid",
  /** A stored bid that was answered UNAVAILABLE or OVERLOADED, which promise nothing was stored. */
  REFUSED_BUT_STORED: "refused-but-stored",
  /** The history's seqs do not run 1..n, or it disagrees with the auction's seq/amount/leader. */
  HISTORY_BROKEN: "history-broken",
  /** Accepted amounts do not strictly increase with seq. */
  INVERSION: "inversion",
  /** A subscriber saw the same seq twice. */
  SEQ_DUPLICATE: "seq-duplicate",
  /** A subscriber's seqs went backwards. */
  SEQ_BACKWARDS: "seq-backwards",
  /** A subscriber's seqs skipped one (not allowed without conflation). */
  SEQ_GAP: "seq-gap",
  /** A subscriber that stayed connected did not reach the final seq, or missed the CLOSED. */
  MISSED_UPDATES: "missed-updates",
  /** An UPDATE disagrees with the history entry of its seq, or with another subscriber's. */
  UPDATE_MISMATCH: "update-mismatch",
  /** A RESULT's fields disagree with the bid or the store. */
  RESULT_MISMATCH: "result-mismatch",
  /** A RESULT's status contradicts the bid or the contract's rule. */
  WRONG_STATUS: "wrong-status",
  /** Two ACCEPTEDs for one stored bid. */
  DUPLICATE_ACCEPT: "duplicate-accept",
  /** Bids one connection sent were not applied in the order sent. */
  ORDER: "order",
  /** A BID that got no reply. */
  UNANSWERED: "unanswered",
  /** A BID that got more than one reply, or a reply to a req never sent. */
  DUPLICATE_REPLY: "duplicate-reply",
  /** More than one CLOSED for an auction on one subscriber. */
  CLOSED_DUPLICATE: "closed-duplicate",
  /** A CLOSED with the wrong seq, winner or amount, or CLOSEDs that disagree. */
  CLOSED_WRONG: "closed-wrong",
  /** An UPDATE pushed after the auction's CLOSED. */
  UPDATE_AFTER_CLOSED: "update-after-closed",
  /** No order of the operations consistent with real time explains every reply (linearizability.ts). */
  NOT_LINEARIZABLE: "not-linearizable",
  /** The linearizability search ran out of its work bound: no verdict. */
  LINEARIZABILITY_UNKNOWN: "linearizability-unknown",
} as const;
export type ViolationKind = (typeof ViolationKind)[keyof typeof ViolationKind];

export interface Violation {
  kind: ViolationKind;
  /** The auction concerned; 0 for none. */
  auction: number;
  message: string;
}

export interface CheckOptions {
  /**
   * After a crash: a bid may be stored although its reply was lost. Unanswered bids are then
   * allowed; the final amount must be at least the highest acknowledged one (higher only
   * through bids that got no reply), and every acknowledged bid must be in the history.
   */
  allowUnacknowledged?: boolean;
  /**
   * For a server that predates the UNCONFIRMED status (the contract's first text), which
   * answered UNAVAILABLE also when a store call timed out and may have been applied: a bid
   * answered UNAVAILABLE may then be in the history, as if it had gone unanswered. Gavel does
   * not need it: UNAVAILABLE means nothing was stored, and a stored UNAVAILABLE bid is a
   * REFUSED_BUT_STORED violation. (UNCONFIRMED bids may always be stored or not.)
   */
  unavailableMayBeStored?: boolean;
  /** Slow subscribers may get conflated UPDATEs: seq gaps are allowed, repeats and decreases not. */
  conflationAllowed?: boolean;
  /**
   * The log holds every bid sent to the checked auctions (default true). Then every stored bid
   * must match an acknowledged one (or an unanswered one, with `allowUnacknowledged`), and the
   * final amount must equal the highest acknowledged.
   */
  completeLog?: boolean;
  /**
   * Subscribers still connected must have reached the final seq and, for ended auctions, have
   * got the CLOSED (default true). Wait with `settle` before checking.
   */
  requireCaughtUp?: boolean;
  /**
   * Also check that each auction's history is linearizable (default true; needs `completeLog`):
   * see linearizability.ts and docs/reliability.md ("Linearizability").
   */
  linearizability?: boolean;
}

/** Statuses decided before the store is asked, and UNAVAILABLE (nothing stored): 0 and 0. */
const PRE_STORE: ReadonlySet<number> = new Set([Status.FORBIDDEN, Status.INVALID, Status.RATE_LIMITED, Status.OVERLOADED, Status.UNAVAILABLE]);
/** "Nothing was stored", says the contract: a stored bid answered so is a violation. */
const REFUSED: ReadonlySet<number> = new Set([Status.OVERLOADED, Status.UNAVAILABLE]);
/** Statuses that report the auction's state after the bid was applied. */
const STATE_REPORTING: ReadonlySet<number> = new Set([Status.ACCEPTED, Status.OUTBID, Status.CLOSED, Status.NOT_STARTED]);
function statusName(status: number): string {
  return status === NO_RESULT ? "no RESULT" : (protocolStatusName(status) ?? `status ${status}`);
}

function describeBid(bidders: readonly BidderLog[], r: BidRecord): string {
  return `${bidders[r.connection]?.label ?? `connection ${r.connection}`} req ${r.req} (auction ${r.auction}, user ${r.user}, amount ${r.amount})`;
}

/** The contract's INVALID rule, from the bid as sent. */
function isInvalid(r: BidRecord): boolean {
  return r.auction === 0 || r.user === 0 || !(r.amount >= 1 && r.amount <= MAX_AMOUNT);
}

/** The winner the closing rule gives: the leader if the reserve is met, else no sale. */
export function expectedWinner(auction: FinalAuction): number {
  if (auction.cancelled) return 0;
  return auction.leader !== 0 && auction.amount >= (auction.reserve ?? 0) ? auction.leader : 0;
}

function toMap(final: FinalState): ReadonlyMap<number, FinalAuction> {
  if (final instanceof Map) return final;
  return new Map((final as readonly FinalAuction[]).map((a) => [a.id, a]));
}

/** Does the amount an ACCEPTED reported fit the bid (its amount, or the buy-now price)? */
function acceptedAmountFits(auction: FinalAuction, r: BidRecord): boolean {
  if (r.resultAmount === r.amount) return true;
  if (auction.buyNowPrice === undefined) return r.resultAmount < r.amount; // maybe buy-now
  return auction.buyNowPrice > 0 && r.resultAmount === auction.buyNowPrice && r.amount >= auction.buyNowPrice;
}

/**
 * Checks every invariant of the auctions in `final` against what the clients in `log` saw.
 * Bids and pushes for auctions not in `final` are ignored. Returns the violations (empty when
 * consistent), at most one per broken fact.
 */
export function check(log: ClientLog, final: FinalState, options: CheckOptions = {}): Violation[] {
  const allowUnacknowledged = options.allowUnacknowledged ?? false;
  const unavailableMayBeStored = options.unavailableMayBeStored ?? false;
  const conflation = options.conflationAllowed ?? false;
  const completeLog = options.completeLog ?? true;
  const requireCaughtUp = options.requireCaughtUp ?? true;
  const auctions = toMap(final);
  const violations: Violation[] = [];
  const add = (kind: ViolationKind, auction: number, message: string) => violations.push({ kind, auction, message });

  for (const bidder of log.bidders) {
    for (const orphan of bidder.orphans) {
      add(ViolationKind.DUPLICATE_REPLY, 0, `${bidder.label}: a reply (${statusName(orphan.status)}) to req ${orphan.req}, which no BID carried`);
    }
  }

  // Index the history of each auction once.
  const bySeq = new Map<number, Map<number, FinalHistoryEntry>>();
  const byAmount = new Map<number, Map<number, FinalHistoryEntry>>();
  for (const auction of auctions.values()) {
    const seqs = new Map<number, FinalHistoryEntry>();
    const amounts = new Map<number, FinalHistoryEntry>();
    bySeq.set(auction.id, seqs);
    byAmount.set(auction.id, amounts);
    checkHistory(auction, add);
    for (const entry of auction.history) {
      seqs.set(entry.seq, entry);
      amounts.set(entry.amount, entry);
    }
  }

  // ---- Bids and their RESULTs ----
  /** Per auction: which record acknowledged each stored seq. */
  const claimed = new Map<number, Map<number, BidRecord>>();
  /** Per auction: bids that may or may not be stored (UNCONFIRMED; unanswered ones after a crash). */
  const indeterminate = new Map<number, BidRecord[]>();
  /** Per auction: bids answered UNAVAILABLE or OVERLOADED, which must not be stored. */
  const refused = new Map<number, BidRecord[]>();
  const highest = new Map<number, BidRecord>();
  for (const id of auctions.keys()) {
    claimed.set(id, new Map());
    indeterminate.set(id, []);
    refused.set(id, []);
  }

  for (const bidder of log.bidders) {
    /** Per auction, the last state amount a RESULT reported on this connection, in send order. */
    const lastReported = new Map<number, BidRecord>();
    for (const r of bidder.records) {
      const auction = auctions.get(r.auction);
      if (r.replies > 1) add(ViolationKind.DUPLICATE_REPLY, r.auction, `${describeBid(log.bidders, r)} got ${r.replies} replies`);
      if (auction === undefined) continue;
      const what = describeBid(log.bidders, r);
      if (r.replies === 0) {
        if (allowUnacknowledged || unavailableMayBeStored) indeterminate.get(r.auction)!.push(r);
        if (!allowUnacknowledged) add(ViolationKind.UNANSWERED, r.auction, `${what} got no reply`);
        continue;
      }
      if (r.status === NO_RESULT) continue; // answered by an ERROR
      if (r.status === Status.UNCONFIRMED || (r.status === Status.UNAVAILABLE && unavailableMayBeStored)) indeterminate.get(r.auction)!.push(r);
      else if (REFUSED.has(r.status)) refused.get(r.auction)!.push(r);
      if (r.resultAuction !== r.auction) {
        add(ViolationKind.RESULT_MISMATCH, r.auction, `${what}: RESULT ${statusName(r.status)} names auction ${r.resultAuction}`);
      }
      const invalid = isInvalid(r);
      // FORBIDDEN is the one status decided before INVALID.
      if (r.status === Status.INVALID ? !invalid : invalid && r.status !== Status.FORBIDDEN) {
        add(ViolationKind.WRONG_STATUS, r.auction, `${what}: ${statusName(r.status)}, but the bid is ${invalid ? "" : "not "}INVALID`);
      }
      if (PRE_STORE.has(r.status) || r.status === Status.UNKNOWN) {
        if (r.resultAmount !== 0 || r.resultLeader !== 0) {
          add(ViolationKind.RESULT_MISMATCH, r.auction, `${what}: ${statusName(r.status)} reports amount ${r.resultAmount}, leader ${r.resultLeader}; both must be 0`);
        }
        if (r.status === Status.UNKNOWN) add(ViolationKind.WRONG_STATUS, r.auction, `${what}: UNKNOWN, but the auction exists`);
        continue;
      }
      // Stored or not, nobody knows yet: the history decides (below). Its amount and leader
      // claim nothing (the server did not hear back from the store).
      if (r.status === Status.UNCONFIRMED) continue;
      if (!STATE_REPORTING.has(r.status)) {
        add(ViolationKind.WRONG_STATUS, r.auction, `${what}: unknown status ${r.status}`);
        continue;
      }

      // Bids of one connection are applied in the order sent: the state each RESULT reports
      // never goes down in send order, and goes up at every ACCEPTED.
      const before = lastReported.get(r.auction);
      if (before !== undefined) {
        const rises = r.status === Status.ACCEPTED ? r.resultAmount > before.resultAmount : r.resultAmount >= before.resultAmount;
        if (!rises) {
          add(
            ViolationKind.ORDER,
            r.auction,
            `${what}: ${statusName(r.status)} reports amount ${r.resultAmount}, but req ${before.req}, sent before it, already reported ${before.resultAmount} (${statusName(before.status)}): not applied in the order sent`,
          );
        }
      }
      lastReported.set(r.auction, r);

      if (r.status === Status.ACCEPTED) {
        if (r.resultLeader !== r.user) add(ViolationKind.RESULT_MISMATCH, r.auction, `${what}: ACCEPTED names leader ${r.resultLeader}`);
        if (!acceptedAmountFits(auction, r)) add(ViolationKind.RESULT_MISMATCH, r.auction, `${what}: ACCEPTED at amount ${r.resultAmount}`);
        const entry = byAmount.get(r.auction)!.get(r.resultAmount);
        if (entry === undefined || entry.user !== r.user) {
          add(
            ViolationKind.LOST_BID,
            r.auction,
            `${what}: ACCEPTED at ${r.resultAmount}, but the history holds ${entry === undefined ? "no bid of that amount" : `that amount from user ${entry.user} (seq ${entry.seq})`}`,
          );
        } else {
          const claims = claimed.get(r.auction)!;
          const other = claims.get(entry.seq);
          if (other !== undefined) {
            add(ViolationKind.DUPLICATE_ACCEPT, r.auction, `${what} and ${describeBid(log.bidders, other)} were both ACCEPTED as seq ${entry.seq}`);
          } else claims.set(entry.seq, r);
        }
        const top = highest.get(r.auction);
        if (top === undefined || r.resultAmount > top.resultAmount) highest.set(r.auction, r);
        continue;
      }

      // OUTBID, CLOSED, NOT_STARTED report a state the auction really had.
      if (r.resultLeader === 0 ? r.resultAmount !== 0 : byAmount.get(r.auction)!.get(r.resultAmount)?.user !== r.resultLeader) {
        add(ViolationKind.RESULT_MISMATCH, r.auction, `${what}: ${statusName(r.status)} reports amount ${r.resultAmount}, leader ${r.resultLeader}, a state the history never had`);
      }
      if (r.status === Status.OUTBID) {
        const needed =
          r.resultLeader === 0 ? auction.startingPrice : auction.minIncrement === undefined ? undefined : r.resultAmount + auction.minIncrement;
        // (A bid that buy-now would take is ACCEPTED, never OUTBID, so the rule is just this.)
        if (needed !== undefined && r.amount >= needed) {
          add(ViolationKind.WRONG_STATUS, r.auction, `${what}: OUTBID, but ${r.amount} >= ${needed}, the least that wins against the state it reports`);
        }
      }
      if (r.status === Status.CLOSED) {
        if (!auction.closed) add(ViolationKind.WRONG_STATUS, r.auction, `${what}: CLOSED, but the auction is still open`);
        else if (r.resultAmount !== auction.amount || r.resultLeader !== auction.leader) {
          add(ViolationKind.RESULT_MISMATCH, r.auction, `${what}: CLOSED reports ${r.resultAmount} by ${r.resultLeader}, but the auction ended at ${auction.amount} by ${auction.leader}`);
        }
      }
    }
  }

  // ---- The final state against the acknowledged bids ----
  for (const auction of auctions.values()) {
    const id = auction.id;
    const top = highest.get(id);
    if (top !== undefined) {
      // Bids of unknown fate may have raised the final amount above the highest ACCEPTED.
      const exact = completeLog && indeterminate.get(id)!.length === 0;
      if (auction.amount < top.resultAmount) {
        add(ViolationKind.LOST_BID, id, `final amount ${auction.amount} is below the highest ACCEPTED bid, ${top.resultAmount} by user ${top.user}`);
      } else if (exact && auction.amount !== top.resultAmount) {
        add(ViolationKind.FINAL_MISMATCH, id, `final amount ${auction.amount}, but the highest ACCEPTED bid is ${top.resultAmount}`);
      } else if (auction.amount === top.resultAmount && auction.leader !== top.user) {
        add(ViolationKind.FINAL_MISMATCH, id, `final leader ${auction.leader}, but the highest ACCEPTED bid (${top.resultAmount}) is user ${top.user}'s`);
      }
    }
    if (!completeLog) continue;
    // Every stored bid was acknowledged, or is one whose fate was left open (UNCONFIRMED, or
    // after a crash sent and left unanswered); never one answered "nothing stored".
    const claims = claimed.get(id)!;
    const used = new Set<BidRecord>();
    const isThatBid = (r: BidRecord, entry: FinalHistoryEntry) =>
      !used.has(r) && r.user === entry.user && (r.amount === entry.amount || (auction.buyNowPrice !== undefined && entry.amount === auction.buyNowPrice && r.amount >= entry.amount));
    for (const entry of auction.history) {
      if (claims.has(entry.seq)) continue;
      const open = indeterminate.get(id)!.find((r) => isThatBid(r, entry));
      if (open !== undefined) {
        used.add(open);
        continue;
      }
      const denied = refused.get(id)!.find((r) => isThatBid(r, entry));
      if (denied !== undefined) {
        used.add(denied);
        add(ViolationKind.REFUSED_BUT_STORED, id, `seq ${entry.seq} (amount ${entry.amount}, user ${entry.user}) is stored, but ${describeBid(log.bidders, denied)} was answered ${statusName(denied.status)}: nothing stored`);
        continue;
      }
      const leftOpen = `UNCONFIRMED${allowUnacknowledged || unavailableMayBeStored ? " or no reply" : ""}${unavailableMayBeStored ? " or UNAVAILABLE" : ""}`;
      add(ViolationKind.PHANTOM_BID, id, `seq ${entry.seq} (amount ${entry.amount}, user ${entry.user}) is stored, but no client was told it was ACCEPTED, nor sent it and got ${leftOpen}`);
    }
  }

  // ---- Subscribers ----
  /** Per auction and seq, the first UPDATE seen (to compare subscribers), and its subscriber. */
  const firstSeen = new Map<number, Map<number, { update: SeenUpdate; by: string }>>();
  const firstClosed = new Map<number, { closed: SeenClosed; by: string }>();
  for (const sub of log.subscribers) {
    for (const trace of sub.traces.values()) {
      const auction = auctions.get(trace.auction);
      if (auction === undefined) continue;
      checkTrace(sub, trace, auction, bySeq.get(auction.id)!, firstSeen, firstClosed, { conflation, requireCaughtUp }, add);
    }
  }
  if ((options.linearizability ?? true) && completeLog) violations.push(...linearizabilityViolations(log, auctions, { unavailableMayBeStored }));
  return violations;
}

type Add = (kind: ViolationKind, auction: number, message: string) => void;

/** The history on its own: seq 1..n, rising amounts, and the auction's fields agree with it. */
function checkHistory(auction: FinalAuction, add: Add): void {
  const id = auction.id;
  const history = auction.history;
  let previous: FinalHistoryEntry | null = null;
  for (let i = 0; i < history.length; i++) {
    const entry = history[i]!;
    if (entry.seq !== i + 1) {
      add(ViolationKind.HISTORY_BROKEN, id, `history entry ${i + 1} has seq ${entry.seq}`);
      return;
    }
    if (previous !== null && entry.amount <= previous.amount) {
      add(ViolationKind.INVERSION, id, `history: seq ${entry.seq} (${entry.amount} by ${entry.user}) is not above seq ${previous.seq} (${previous.amount} by ${previous.user})`);
    }
    previous = entry;
  }
  if (auction.seq !== history.length) add(ViolationKind.HISTORY_BROKEN, id, `the auction is at seq ${auction.seq}, but its history holds ${history.length} bids`);
  const last = history.at(-1);
  const amount = last?.amount ?? 0;
  const leader = last?.user ?? 0;
  if (auction.amount !== amount || auction.leader !== leader) {
    add(ViolationKind.HISTORY_BROKEN, id, `the auction stands at ${auction.amount} by ${auction.leader}, but its last history entry is ${amount} by ${leader}`);
  }
  if (auction.winner !== null && auction.closed && auction.winner !== expectedWinner(auction)) {
    add(ViolationKind.CLOSED_WRONG, id, `the store decided winner ${auction.winner}; the closing rule gives ${expectedWinner(auction)}`);
  }
}

function checkTrace(
  sub: SubscriberLog,
  trace: SubscriptionTrace,
  auction: FinalAuction,
  history: ReadonlyMap<number, FinalHistoryEntry>,
  firstSeen: Map<number, Map<number, { update: SeenUpdate; by: string }>>,
  firstClosed: Map<number, { closed: SeenClosed; by: string }>,
  options: { conflation: boolean; requireCaughtUp: boolean },
  add: Add,
): void {
  const id = auction.id;
  const who = `${sub.label} on auction ${id}`;
  let seen = firstSeen.get(id);
  if (seen === undefined) firstSeen.set(id, (seen = new Map()));

  // Where the run of seqs must start: after the snapshot, or after `since` when a replay was asked.
  let start: number | null = null;
  if (trace.stateSeq !== null && trace.since !== null) {
    start = (trace.since === NO_REPLAY ? trace.stateSeq : Math.min(trace.since, trace.stateSeq)) + 1;
  }

  let previous: SeenUpdate | null = null;
  for (const update of trace.updates) {
    if (previous === null) {
      if (start !== null && update.seq < start) {
        add(ViolationKind.SEQ_DUPLICATE, id, `${who}: first UPDATE is seq ${update.seq}, but the snapshot and replay already covered up to ${start - 1}`);
      } else if (start !== null && update.seq > start && !options.conflation) {
        add(ViolationKind.SEQ_GAP, id, `${who}: first UPDATE is seq ${update.seq}, expected ${start}`);
      }
    } else if (update.seq === previous.seq) {
      add(ViolationKind.SEQ_DUPLICATE, id, `${who}: seq ${update.seq} twice`);
    } else if (update.seq < previous.seq) {
      add(ViolationKind.SEQ_BACKWARDS, id, `${who}: seq ${update.seq} after seq ${previous.seq}`);
    } else if (update.seq > previous.seq + 1 && !options.conflation) {
      add(ViolationKind.SEQ_GAP, id, `${who}: seq ${previous.seq} then ${update.seq} (missing ${previous.seq + 1}..${update.seq - 1})`);
    }
    if (previous !== null && update.seq > previous.seq && update.amount <= previous.amount) {
      add(ViolationKind.INVERSION, id, `${who}: UPDATE seq ${update.seq} amount ${update.amount} is not above seq ${previous.seq} amount ${previous.amount}`);
    }

    const entry = history.get(update.seq);
    if (entry === undefined) {
      add(ViolationKind.LOST_BID, id, `${who}: UPDATE seq ${update.seq} (${update.amount} by ${update.leader}), but the store holds no seq ${update.seq}`);
    } else if (entry.amount !== update.amount || entry.user !== update.leader || (entry.endsAt !== undefined && entry.endsAt !== update.endsAt)) {
      add(
        ViolationKind.UPDATE_MISMATCH,
        id,
        `${who}: UPDATE seq ${update.seq} says ${update.amount} by ${update.leader} (ends ${update.endsAt}); the history says ${entry.amount} by ${entry.user}${entry.endsAt !== undefined ? ` (ends ${entry.endsAt})` : ""}`,
      );
    }
    const other = seen.get(update.seq);
    if (other === undefined) seen.set(update.seq, { update, by: sub.label });
    else if (other.update.amount !== update.amount || other.update.leader !== update.leader || other.update.endsAt !== update.endsAt) {
      add(
        ViolationKind.UPDATE_MISMATCH,
        id,
        `${who}: UPDATE seq ${update.seq} is ${update.amount} by ${update.leader} ending ${update.endsAt}; ${other.by} saw ${other.update.amount} by ${other.update.leader} ending ${other.update.endsAt}`,
      );
    }
    previous = update;
  }

  // CLOSED: once, agreeing with the store and with every other subscriber.
  if (trace.closed.length > 1) add(ViolationKind.CLOSED_DUPLICATE, id, `${who}: ${trace.closed.length} CLOSED frames`);
  const winner = auction.winner ?? expectedWinner(auction);
  for (const closed of trace.closed) {
    if (!auction.closed) add(ViolationKind.CLOSED_WRONG, id, `${who}: CLOSED pushed, but the store has the auction open`);
    else if (closed.seq !== auction.seq || closed.winner !== winner || closed.amount !== (winner === 0 ? 0 : auction.amount)) {
      add(
        ViolationKind.CLOSED_WRONG,
        id,
        `${who}: CLOSED seq ${closed.seq}, winner ${closed.winner}, amount ${closed.amount}; expected seq ${auction.seq}, winner ${winner}, amount ${winner === 0 ? 0 : auction.amount}`,
      );
    }
    const first = firstClosed.get(id);
    if (first === undefined) firstClosed.set(id, { closed, by: sub.label });
    else if (first.closed.seq !== closed.seq || first.closed.winner !== closed.winner || first.closed.amount !== closed.amount) {
      add(ViolationKind.CLOSED_WRONG, id, `${who}: CLOSED (seq ${closed.seq}, winner ${closed.winner}, amount ${closed.amount}) disagrees with ${first.by}'s (seq ${first.closed.seq}, winner ${first.closed.winner}, amount ${first.closed.amount})`);
    }
  }
  const firstClosedHere = trace.closed[0];
  if (firstClosedHere !== undefined && firstClosedHere.afterUpdates < trace.updates.length) {
    const late = trace.updates[firstClosedHere.afterUpdates]!;
    add(ViolationKind.UPDATE_AFTER_CLOSED, id, `${who}: UPDATE seq ${late.seq} came after the CLOSED`);
  }

  if (options.requireCaughtUp && !sub.isDisconnected) {
    if (trace.since !== null && trace.stateSeq === null) add(ViolationKind.MISSED_UPDATES, id, `${who}: SUBSCRIBE got no STATE`);
    const last = trace.updates.at(-1)?.seq ?? (start === null ? null : start - 1);
    if (last !== null && last < auction.seq) add(ViolationKind.MISSED_UPDATES, id, `${who}: last seq seen ${last}, the auction is at ${auction.seq}`);
    if (auction.closed && trace.closed.length === 0) {
      add(ViolationKind.MISSED_UPDATES, id, `${who}: the auction ended, but no CLOSED came`);
    }
  }
}

// ---- Reporting -------------------------------------------------------------------------------

/** How many violation messages an error lists in full. */
const LISTED_VIOLATIONS = 40;
/** How often `settle` re-reads the final state while subscribers catch up. */
const SETTLE_POLL_MS = 50;

export class ConsistencyError extends Error {
  override readonly name = "ConsistencyError";
  constructor(readonly violations: readonly Violation[]) {
    super(formatViolations(violations));
  }
}

/** A readable report: counts per kind, then the first violations in full. */
export function formatViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return "consistent";
  const counts = new Map<string, number>();
  for (const v of violations) counts.set(v.kind, (counts.get(v.kind) ?? 0) + 1);
  const lines = [`${violations.length} consistency violation(s): ${[...counts].map(([kind, n]) => `${kind} x${n}`).join(", ")}`];
  for (const v of violations.slice(0, LISTED_VIOLATIONS)) lines.push(`  [${v.kind}] auction ${v.auction}: ${v.message}`);
  if (violations.length > LISTED_VIOLATIONS) lines.push(`  ... and ${violations.length - LISTED_VIOLATIONS} more`);
  return lines.join("\n");
}

/** Throws a ConsistencyError listing every violation, if there is any. */
export function assertConsistent(log: ClientLog, final: FinalState, options: CheckOptions = {}): void {
  const violations = check(log, final, options);
  if (violations.length > 0) throw new ConsistencyError(violations);
}

/**
 * Waits until every connected subscriber has caught up with `final` (the final seq, and the
 * CLOSED of ended auctions), re-reading the final state each round; returns the last read.
 * Times out quietly: `check` then reports what is missing.
 */
export async function settle(log: ClientLog, readFinal: () => Promise<FinalState>, timeoutMs = 10_000): Promise<FinalState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const final = await readFinal();
    const missing = check(log, final, { linearizability: false }).some((v) => v.kind === ViolationKind.MISSED_UPDATES);
    if (!missing || Date.now() > deadline) return final;
    await Bun.sleep(SETTLE_POLL_MS);
  }
}

// ---- Reading the final state -------------------------------------------------------------------

/** The admin API's page size for bid history (its maximum). */
const HISTORY_PAGE = 500;
/** Reads of an auction that moved between its state and its history before giving up. */
const SNAPSHOT_ATTEMPTS = 5;

export interface FetchOptions {
  /** Auctions the test cancelled: their CLOSED carries no sale. */
  cancelled?: Iterable<number>;
  adminToken?: string;
}

interface AuctionJson {
  id: number;
  phase: string;
  seq: number;
  amount: number;
  leader: number;
  reserve: number;
  buy_now_price: number | null;
  starting_price: number;
  min_increment: number;
}

/**
 * Reads each auction's final state from a running server's admin API: GET /v1/auctions/:id and
 * its whole bid history (GET /v1/auctions/:id/bids, newest first, paged). The API does not tell
 * the winner: `winner` is null and the check derives it from the reserve. Call it once the run
 * is quiet; an auction still moving is re-read a few times, then reported as it was.
 */
export async function fetchFinalState(httpUrl: string, ids: Iterable<number>, options: FetchOptions = {}): Promise<FinalAuction[]> {
  const cancelled = new Set(options.cancelled ?? []);
  const headers: Record<string, string> = options.adminToken ? { authorization: `Bearer ${options.adminToken}` } : {};
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(httpUrl + path, { headers });
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const out: FinalAuction[] = [];
  for (const id of ids) {
    let auction: FinalAuction | null = null;
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      const state = await get<AuctionJson>(`/v1/auctions/${id}`);
      const history: FinalHistoryEntry[] = [];
      let next: string | null = `/v1/auctions/${id}/bids?before=${state.seq + 1}&limit=${HISTORY_PAGE}`;
      while (next !== null) {
        const page: { bids: FinalHistoryEntry[]; next: string | null } = await get(next);
        for (const b of page.bids) history.push({ seq: b.seq, amount: b.amount, user: b.user });
        next = page.next;
      }
      history.reverse();
      auction = {
        id,
        seq: state.seq,
        amount: state.amount,
        leader: state.leader,
        closed: state.phase === "closed",
        winner: null,
        cancelled: cancelled.has(id),
        reserve: state.reserve,
        buyNowPrice: state.buy_now_price ?? 0,
        startingPrice: state.starting_price,
        minIncrement: state.min_increment,
        history,
      };
      const again = await get<AuctionJson>(`/v1/auctions/${id}`);
      if (again.seq === state.seq && again.phase === state.phase) break;
    }
    out.push(auction!);
  }
  return out;
}

/** Reads each auction's final state straight from a store (store-level tests). */
export async function finalStateFromStore(store: Store, ids: Iterable<number>, options: { cancelled?: Iterable<number> } = {}): Promise<FinalAuction[]> {
  const cancelled = new Set(options.cancelled ?? []);
  const out: FinalAuction[] = [];
  for (const id of ids) {
    const state = await store.getAuction(id);
    if (state === null) throw new Error(`the store has no auction ${id}`);
    const history: FinalHistoryEntry[] = [];
    for (;;) {
      const page = await store.history(id, history.at(-1)?.seq ?? 0, HISTORY_PAGE);
      for (const e of page) history.push({ seq: e.seq, amount: e.amount, user: e.user, endsAt: e.endsAt });
      if (page.length < HISTORY_PAGE) break;
    }
    out.push({
      id,
      seq: state.seq,
      amount: state.amount,
      leader: state.leader,
      closed: state.closed || phaseAt(state, store.now()) === Phase.CLOSED,
      // The winner is decided only by the closing step; before it runs it is not known.
      winner: state.closed ? state.winner : null,
      cancelled: cancelled.has(id),
      reserve: state.reserve,
      buyNowPrice: state.buyNowPrice,
      startingPrice: state.startingPrice,
      minIncrement: state.minIncrement,
      history,
    });
  }
  return out;
}
