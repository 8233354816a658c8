// From what clients saw (a ClientLog) and what the store holds at the end (FinalAuction) to the
// operations of each auction, as the linearizability check (linearizability.ts) takes them.
//
// Each BID becomes an operation with its invocation (sent) and response (answered) time:
// - ACCEPTED, OUTBID, CLOSED, NOT_STARTED are determinate: the RESULT says what happened.
// - UNCONFIRMED, no reply at all (a killed server, a dropped connection), an ERROR other than
//   those decided before the store, and UNAVAILABLE when the run allows a timed-out store call to
//   have been applied, are indeterminate: the response time is infinite, and the bid may have
//   taken effect at any point after it was sent, or not at all.
// - FORBIDDEN, INVALID, RATE_LIMITED, OVERLOADED, UNKNOWN and UNAVAILABLE (nothing stored), and
//   the ERRORs SHUTTING_DOWN and UNAUTHENTICATED, did not change the auction: they are left out
//   of the search, which then has no bid that could have stored them, so a stored one fails.
// Each QUERY's and SUBSCRIBE's STATE is a read; the final state is one last read, after all.

import { ErrorCode, Phase, Status } from "../../src/protocol/constants.ts";
import { errorCodeName, statusName } from "../../src/protocol/names.ts";
import type { BidRecord, ClientLog, FinalAuction } from "./consistency.ts";
import { OperationKind, type BidOperation, type Operation } from "./linearizability-model.ts";
import type { ReadRecord } from "./linearizability-reads.ts";

/** `BidRecord.status` before any RESULT came (consistency.ts NO_RESULT). */
const NO_RESULT = -1;
/** RESULT statuses that tell what the bid did. */
const DETERMINATE: ReadonlySet<number> = new Set([Status.ACCEPTED, Status.OUTBID, Status.CLOSED, Status.NOT_STARTED]);
/** RESULT statuses after which nothing was stored. UNAVAILABLE is added unless the run allows otherwise. */
const NO_EFFECT: ReadonlySet<number> = new Set([Status.FORBIDDEN, Status.INVALID, Status.RATE_LIMITED, Status.OVERLOADED, Status.UNKNOWN]);
/** ERRORs that answer a BID before it is processed. */
const NO_EFFECT_ERRORS: ReadonlySet<number> = new Set([ErrorCode.UNAUTHENTICATED, ErrorCode.SHUTTING_DOWN]);

export interface HistoryOptions {
  /** A bid answered UNAVAILABLE may have been stored all the same (a timed-out store call). */
  unavailableMayBeStored?: boolean;
}

/** One auction's operations, ready for the search. */
export interface AuctionHistory {
  auction: FinalAuction;
  /** Determinate and indeterminate operations, the final read last. */
  operations: Operation[];
  /** Bids whose reply says nothing was stored: not searched, named when a stored bid matches one. */
  noEffect: BidOperation[];
}

/** Times in reports are ms after this (the first thing recorded). */
function earliest(log: ClientLog): number {
  let t = Number.POSITIVE_INFINITY;
  for (const bidder of log.bidders) for (const r of bidder.records) t = Math.min(t, r.sentAt);
  for (const reader of log.readers) for (const r of reader.records) t = Math.min(t, r.sentAt);
  return Number.isFinite(t) ? t : 0;
}

function window(call: number, ret: number, origin: number): string {
  const at = (t: number) => (Number.isFinite(t) ? `${(t - origin).toFixed(1)} ms` : t > 0 ? "never" : "unknown");
  return `[sent ${at(call)}, answered ${at(ret)}]`;
}

function describeRead(what: () => string, r: ReadRecord, origin: number): string {
  const state = r.amount === null ? "" : `, ${r.amount} by user ${r.leader}`;
  return `${what()}: STATE seq ${r.seq}${state} ${window(r.sentAt, r.receivedAt, origin)}`;
}

function describeBid(connection: string, r: BidRecord, origin: number): string {
  const answeredBy = r.replies === 0 ? "no reply" : r.status === NO_RESULT ? `ERROR ${errorCodeName(r.errorCode) ?? r.errorCode}` : (statusName(r.status) ?? `status ${r.status}`);
  const reported = DETERMINATE.has(r.status) && r.replies > 0 ? ` (${r.resultAmount} by user ${r.resultLeader})` : "";
  return `${connection} req ${r.req}: BID ${r.amount} by user ${r.user}, ${answeredBy}${reported} ${window(r.sentAt, r.receivedAt, origin)}`;
}

/** Splits everything `log` recorded by auction, for the auctions in `auctions` only. */
export function buildHistories(log: ClientLog, auctions: ReadonlyMap<number, FinalAuction>, options: HistoryOptions = {}): Map<number, AuctionHistory> {
  const origin = earliest(log);
  const histories = new Map<number, AuctionHistory>();
  for (const auction of auctions.values()) histories.set(auction.id, { auction, operations: [], noEffect: [] });
  let latest = Number.NEGATIVE_INFINITY;
  const seen = (t: number) => {
    if (Number.isFinite(t) && t > latest) latest = t;
  };

  for (const bidder of log.bidders) {
    for (const r of bidder.records) {
      const history = histories.get(r.auction);
      if (history === undefined) continue;
      seen(r.sentAt);
      seen(r.receivedAt);
      const determinate = r.replies > 0 && DETERMINATE.has(r.status);
      const noEffect =
        r.replies > 0 &&
        (r.status === NO_RESULT ? NO_EFFECT_ERRORS.has(r.errorCode) : NO_EFFECT.has(r.status) || (r.status === Status.UNAVAILABLE && !options.unavailableMayBeStored));
      const op: BidOperation = {
        kind: OperationKind.BID,
        index: 0,
        call: r.sentAt,
        ret: determinate ? r.receivedAt : Number.POSITIVE_INFINITY,
        determinate,
        describe: () => describeBid(bidder.label, r, origin),
        user: r.user,
        amount: r.amount,
        status: r.status,
        replyAmount: r.resultAmount,
        replyLeader: r.resultLeader,
      };
      if (noEffect) history.noEffect.push(op);
      else history.operations.push(op);
    }
  }

  const addRead = (r: ReadRecord, what: () => string) => {
    const history = histories.get(r.auction);
    // Unanswered reads tell nothing; nor does a STATE of phase UNKNOWN (the auction did not exist yet).
    if (history === undefined || r.seq === null || !Number.isFinite(r.receivedAt) || r.phase === Phase.UNKNOWN) return;
    seen(r.sentAt);
    seen(r.receivedAt);
    history.operations.push({
      kind: OperationKind.READ,
      index: 0,
      call: r.sentAt,
      ret: r.receivedAt,
      determinate: true,
      describe: () => describeRead(what, r, origin),
      seq: r.seq,
      phase: r.phase,
      amount: r.amount,
      leader: r.leader,
    });
  };
  for (const reader of log.readers) reader.records.forEach((r, i) => addRead(r, () => `${reader.label} QUERY ${i + 1}`));
  for (const sub of log.subscribers) {
    for (const trace of sub.traces.values()) if (trace.stateRead !== null) addRead(trace.stateRead, () => `${sub.label} SUBSCRIBE`);
  }

  // The final read comes after everything else was sent and answered.
  const after = Number.isFinite(latest) ? latest + 1 : 0;
  for (const history of histories.values()) {
    history.operations.push({ kind: OperationKind.FINAL, index: 0, call: after, ret: after, determinate: true, describe: () => "the final read of the auction and its history" });
    history.operations.forEach((op, i) => (op.index = i));
  }
  return histories;
}
