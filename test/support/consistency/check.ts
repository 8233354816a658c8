// The auction invariants, checked from what clients saw (client-log.ts) against what the store
// holds at the end (final-state.ts); see docs/protocol.md ("Rules every implementation keeps").
// `check` returns every violation found; `assertConsistent` throws with all of them.

import { MAX_AMOUNT, NO_REPLAY, Status } from "../../../src/protocol/constants.ts";
import { statusName as protocolStatusName } from "../../../src/protocol/names.ts";
import { linearizabilityViolations } from "../linearizability.ts";
import { NO_RESULT, type BidderLog, type BidRecord, type ClientLog, type SeenClosed, type SeenUpdate, type SubscriberLog, type SubscriptionTrace } from "./client-log.ts";
import type { FinalAuction, FinalHistoryEntry, FinalState } from "./final-state.ts";
import { ConsistencyError, ViolationKind, type Violation } from "./violations.ts";

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

/** Throws a ConsistencyError listing every violation, if there is any. */
export function assertConsistent(log: ClientLog, final: FinalState, options: CheckOptions = {}): void {
  const violations = check(log, final, options);
  if (violations.length > 0) throw new ConsistencyError(violations);
}
