// The consistency checker's self-test: a clean simulated run passes, and each planted fault
// (a lost bid, an inversion, a duplicate seq, and the rest) is caught with its kind.

import { describe, expect, test } from "bun:test";
import { freshAuction, type AuctionState } from "../../src/auction/auction.ts";
import { applyBidRule, closeAuction } from "../../src/auction/bid-rule.ts";
import { NO_REPLAY, Status } from "../../src/protocol/constants.ts";
import {
  assertConsistent,
  check,
  ClientLog,
  ConsistencyError,
  ViolationKind,
  type BidderLog,
  type CheckOptions,
  type FinalAuction,
  type SubscriberLog,
} from "./consistency.ts";
import { allowSlowTests } from "./timeouts.ts";

allowSlowTests();

const AUCTION = 7;
const NOW = 1_000;
const ENDS_AT = 1_000_000;

interface Run {
  log: ClientLog;
  final: FinalAuction;
  bidders: BidderLog[];
  subs: SubscriberLog[];
}

/**
 * Plays bids through the real bid rule, recording what clients would see: three bidders, an
 * early subscriber with a full replay, one that joins halfway with no replay, then the close.
 */
function simulate(spec: Partial<AuctionState> = {}, bids = defaultBids()): Run {
  const state = freshAuction({
    id: AUCTION,
    title: "",
    startingPrice: 10,
    minIncrement: 5,
    reserve: 100,
    buyNowPrice: 0,
    startsAt: 0,
    endsAt: ENDS_AT,
    antiSnipeMs: 0,
    maxEndsAt: 0,
    ...spec,
  });
  const log = new ClientLog();
  const bidders = [log.bidder(), log.bidder(), log.bidder()];
  const early = log.subscriber("early");
  early.subscribed(AUCTION, 0);
  early.state(AUCTION, 0);
  const subs = [early];
  const history: FinalAuction["history"] = [];
  const reqs = [0, 0, 0];
  bids.forEach(([conn, user, amount], i) => {
    if (i === Math.floor(bids.length / 2)) {
      const late = log.subscriber("late");
      late.subscribed(AUCTION, NO_REPLAY);
      late.state(AUCTION, state.seq);
      subs.push(late);
    }
    const req = ++reqs[conn]!;
    bidders[conn]!.sent(req, AUCTION, user, amount);
    const status = applyBidRule(state, user, amount, NOW);
    if (status === Status.ACCEPTED) {
      history.push({ seq: state.seq, amount: state.amount, user, endsAt: state.endsAt });
      for (const sub of subs) sub.update(AUCTION, state.seq, state.amount, state.leader, state.endsAt);
    }
    bidders[conn]!.result(req, status, AUCTION, state.amount, state.leader);
  });
  closeAuction(state);
  for (const sub of subs) sub.closed(AUCTION, state.seq, state.winner, state.winner === 0 ? 0 : state.amount);
  const final: FinalAuction = {
    id: AUCTION,
    seq: state.seq,
    amount: state.amount,
    leader: state.leader,
    closed: true,
    winner: state.winner,
    reserve: state.reserve,
    buyNowPrice: state.buyNowPrice,
    startingPrice: state.startingPrice,
    minIncrement: state.minIncrement,
    history,
  };
  return { log, final, bidders, subs };
}

/** [connection, user, amount]: rising runs from three bidders, with outbids mixed in. */
function defaultBids(): [number, number, number][] {
  const bids: [number, number, number][] = [];
  for (let i = 0; i < 30; i++) bids.push([i % 3, 100 + (i % 3), 10 + i * 7 + (i % 4 === 3 ? -20 : 0)]);
  return bids;
}

function kinds(run: Run, options: CheckOptions = {}): string[] {
  return [...new Set(check(run.log, [run.final], options).map((v) => v.kind))].sort();
}

describe("consistency checker", () => {
  test("a clean run passes, and was not vacuous", () => {
    const run = simulate();
    expect(check(run.log, [run.final])).toEqual([]);
    const stats = run.log.stats();
    expect(stats.accepted).toBeGreaterThan(10);
    expect(stats.accepted).toBeLessThan(stats.sent); // some OUTBIDs too
    expect(stats.closed).toBe(2);
    expect(run.final.winner).not.toBe(0);
    expect(() => assertConsistent(run.log, new Map([[AUCTION, run.final]]))).not.toThrow();
  });

  test("a clean buy-now run passes", () => {
    const run = simulate({ buyNowPrice: 150, reserve: 100 }, [
      [0, 1, 10],
      [1, 2, 40],
      [2, 3, 400],
    ]);
    expect(run.final.amount).toBe(150);
    expect(check(run.log, [run.final])).toEqual([]);
  });

  test("planted lost bid: the highest ACCEPTED is missing from the store", () => {
    const run = simulate();
    const lost = run.final.history.pop()!;
    run.final.seq--;
    run.final.amount = run.final.history.at(-1)!.amount;
    run.final.leader = run.final.history.at(-1)!.user;
    const violations = check(run.log, [run.final]);
    expect(violations.some((v) => v.kind === ViolationKind.LOST_BID && v.message.includes(`ACCEPTED at ${lost.amount}`))).toBe(true);
    expect(violations.some((v) => v.kind === ViolationKind.LOST_BID && v.message.includes("final amount"))).toBe(true);
    // The subscribers saw its UPDATE, which the store no longer holds.
    expect(violations.some((v) => v.kind === ViolationKind.LOST_BID && v.message.includes(`UPDATE seq ${lost.seq}`))).toBe(true);
  });

  test("planted lost bid in the middle of the history", () => {
    const run = simulate();
    const [lost] = run.final.history.splice(3, 1);
    run.final.history.forEach((e, i) => (e.seq = i + 1));
    run.final.seq = run.final.history.length;
    expect(check(run.log, [run.final]).some((v) => v.kind === ViolationKind.LOST_BID && v.message.includes(`ACCEPTED at ${lost!.amount}`))).toBe(true);
  });

  test("planted inversion: a later seq with a lower amount", () => {
    const run = simulate();
    const [a, b] = [run.final.history[4]!, run.final.history[5]!];
    [a.amount, b.amount] = [b.amount, a.amount];
    [a.user, b.user] = [b.user, a.user];
    // The subscribers saw the same inverted order.
    for (const sub of run.subs) {
      const updates = sub.traces.get(AUCTION)!.updates;
      const [ua, ub] = [updates.find((u) => u.seq === a.seq), updates.find((u) => u.seq === b.seq)];
      if (ua && ub) [ua.amount, ua.leader, ub.amount, ub.leader] = [a.amount, a.user, b.amount, b.user];
    }
    const violations = check(run.log, [run.final]);
    expect(violations.some((v) => v.kind === ViolationKind.INVERSION && v.message.startsWith("history"))).toBe(true);
    expect(violations.some((v) => v.kind === ViolationKind.INVERSION && v.message.includes("early"))).toBe(true);
  });

  test("planted duplicate seq on one subscriber", () => {
    const run = simulate();
    const updates = run.subs[0]!.traces.get(AUCTION)!.updates;
    updates.splice(6, 0, { ...updates[5]! });
    run.subs[0]!.traces.get(AUCTION)!.closed[0]!.afterUpdates++;
    expect(kinds(run)).toEqual([ViolationKind.SEQ_DUPLICATE]);
    // Conflation allows gaps, never repeats.
    expect(kinds(run, { conflationAllowed: true })).toEqual([ViolationKind.SEQ_DUPLICATE]);
  });

  test("a seq gap is caught, and allowed with conflation", () => {
    const run = simulate();
    run.subs[0]!.traces.get(AUCTION)!.updates.splice(4, 3);
    expect(kinds(run)).toEqual([ViolationKind.SEQ_GAP]);
    expect(kinds(run, { conflationAllowed: true })).toEqual([]);
  });

  test("seq going backwards, and an UPDATE that disagrees with the history", () => {
    const run = simulate();
    const updates = run.subs[0]!.traces.get(AUCTION)!.updates;
    [updates[2], updates[3]] = [updates[3]!, updates[2]!];
    expect(kinds(run)).toContain(ViolationKind.SEQ_BACKWARDS);

    const other = simulate();
    other.subs[1]!.traces.get(AUCTION)!.updates[1]!.leader = 999;
    expect(kinds(other)).toEqual([ViolationKind.UPDATE_MISMATCH]);
  });

  test("a late subscriber that replays what its snapshot covered has a duplicate", () => {
    const run = simulate();
    const late = run.subs[1]!.traces.get(AUCTION)!;
    const covered = run.final.history[late.stateSeq! - 1]!;
    late.updates.unshift({ seq: covered.seq, amount: covered.amount, leader: covered.user, endsAt: ENDS_AT });
    late.closed[0]!.afterUpdates++;
    expect(kinds(run)).toEqual([ViolationKind.SEQ_DUPLICATE]);
  });

  test("a subscriber that fell behind, or missed the CLOSED", () => {
    const run = simulate();
    const trace = run.subs[0]!.traces.get(AUCTION)!;
    trace.updates.pop();
    trace.closed.length = 0;
    expect(kinds(run)).toEqual([ViolationKind.MISSED_UPDATES]);
    expect(kinds(run, { requireCaughtUp: false })).toEqual([]);
    run.subs[0]!.disconnected();
    expect(kinds(run)).toEqual([]);
  });

  test("CLOSED: twice, wrong winner, disagreeing, after an UPDATE", () => {
    const twice = simulate();
    twice.subs[0]!.closed(AUCTION, twice.final.seq, twice.final.winner!, twice.final.amount);
    expect(kinds(twice)).toEqual([ViolationKind.CLOSED_DUPLICATE]);

    const wrong = simulate();
    for (const sub of wrong.subs) sub.traces.get(AUCTION)!.closed[0]!.winner = 555;
    expect(kinds(wrong)).toEqual([ViolationKind.CLOSED_WRONG]);

    const reserve = simulate({ reserve: 1_000_000 });
    expect(reserve.final.winner).toBe(0);
    expect(check(reserve.log, [reserve.final])).toEqual([]);
    // Without the store's decision the winner is derived from the reserve.
    expect(check(reserve.log, [{ ...reserve.final, winner: null }])).toEqual([]);
    reserve.subs[1]!.traces.get(AUCTION)!.closed[0]!.winner = reserve.final.leader;
    expect(kinds(reserve)).toEqual([ViolationKind.CLOSED_WRONG]);

    const late = simulate();
    const trace = late.subs[0]!.traces.get(AUCTION)!;
    trace.closed[0]!.afterUpdates = trace.updates.length - 1;
    expect(kinds(late)).toEqual([ViolationKind.UPDATE_AFTER_CLOSED]);
  });

  test("unanswered, duplicate and orphan replies", () => {
    const run = simulate();
    run.bidders[0]!.sent(999, AUCTION, 100, 1);
    expect(kinds(run)).toEqual([ViolationKind.UNANSWERED]);
    run.bidders[0]!.result(999, Status.OUTBID, AUCTION, run.final.amount, run.final.leader);
    run.bidders[0]!.result(999, Status.OUTBID, AUCTION, run.final.amount, run.final.leader);
    run.bidders[1]!.result(12345, Status.OUTBID, AUCTION, 0, 0);
    expect(kinds(run)).toEqual([ViolationKind.DUPLICATE_REPLY]);
    expect(check(run.log, [run.final]).filter((v) => v.kind === ViolationKind.DUPLICATE_REPLY)).toHaveLength(2);
  });

  test("a stored bid nobody was told about is a phantom; after a crash it may be an unanswered one", () => {
    // The last ACCEPTED's reply was lost: stored, never acknowledged.
    const run = simulate();
    const lastAccepted = run.bidders.flatMap((b) => b.records).filter((r) => r.status === Status.ACCEPTED).sort((a, b) => b.resultAmount - a.resultAmount)[0]!;
    lastAccepted.replies = 0;
    lastAccepted.status = -1;
    expect(kinds(run)).toEqual([ViolationKind.FINAL_MISMATCH, ViolationKind.PHANTOM_BID, ViolationKind.UNANSWERED]);
    expect(kinds(run, { allowUnacknowledged: true })).toEqual([]);
    expect(kinds(run, { completeLog: false, allowUnacknowledged: true })).toEqual([]);

    // A stored bid that no client sent at all is a phantom even after a crash.
    run.final.history.push({ seq: run.final.seq + 1, amount: run.final.amount + 1000, user: 4242 });
    run.final.seq++;
    run.final.amount += 1000;
    run.final.leader = 4242;
    for (const sub of run.subs) sub.disconnected();
    run.final.winner = 4242;
    for (const sub of run.subs) sub.traces.get(AUCTION)!.closed.length = 0;
    // The linearizability check agrees: no bid that may have been stored makes that step.
    expect(kinds(run, { allowUnacknowledged: true })).toEqual([ViolationKind.NOT_LINEARIZABLE, ViolationKind.PHANTOM_BID]);
    expect(kinds(run, { allowUnacknowledged: true, completeLog: false })).toEqual([]);
  });

  test("a stored bid answered UNAVAILABLE or OVERLOADED (nothing stored, says the contract) is a violation", () => {
    const run = simulate();
    const lastAccepted = run.bidders.flatMap((b) => b.records).filter((r) => r.status === Status.ACCEPTED).sort((a, b) => b.resultAmount - a.resultAmount)[0]!;
    lastAccepted.status = Status.UNAVAILABLE;
    lastAccepted.resultAmount = 0;
    lastAccepted.resultLeader = 0;
    expect(kinds(run)).toEqual([ViolationKind.FINAL_MISMATCH, ViolationKind.NOT_LINEARIZABLE, ViolationKind.REFUSED_BUT_STORED]);
    expect(check(run.log, [run.final]).find((v) => v.kind === ViolationKind.REFUSED_BUT_STORED)!.message).toContain("was answered UNAVAILABLE");
    lastAccepted.status = Status.OVERLOADED;
    expect(kinds(run)).toEqual([ViolationKind.FINAL_MISMATCH, ViolationKind.NOT_LINEARIZABLE, ViolationKind.REFUSED_BUT_STORED]);
    // The same bid answered UNCONFIRMED may be stored: consistent, and the final amount may
    // stand above the highest ACCEPTED through it.
    lastAccepted.status = Status.UNCONFIRMED;
    expect(kinds(run)).toEqual([]);
    // ...or not stored: consistent too.
    const notStored = simulate();
    const unconfirmed = notStored.bidders[0]!;
    unconfirmed.sent(900, AUCTION, 11, notStored.final.amount + 500);
    unconfirmed.result(900, Status.UNCONFIRMED, AUCTION, 0, 0);
    expect(kinds(notStored)).toEqual([]);
    lastAccepted.status = Status.UNAVAILABLE;
    // (Legacy servers that answered UNAVAILABLE after a timeout: the option tolerates it.)
    expect(kinds(run, { unavailableMayBeStored: true })).toEqual([]);
    // An UNAVAILABLE that reports a state is still wrong, and a bid nobody sent still a phantom.
    lastAccepted.resultAmount = 5;
    run.final.history.push({ seq: run.final.seq + 1, amount: run.final.amount + 1000, user: 4242 });
    run.final.seq++;
    run.final.amount += 1000;
    run.final.leader = 4242;
    run.final.winner = 4242;
    for (const sub of run.subs) {
      sub.disconnected();
      sub.traces.get(AUCTION)!.closed.length = 0;
    }
    expect(kinds(run, { unavailableMayBeStored: true })).toEqual([ViolationKind.NOT_LINEARIZABLE, ViolationKind.PHANTOM_BID, ViolationKind.RESULT_MISMATCH]);
  });

  test("results that contradict the bid or the contract", () => {
    const run = simulate();
    const records = run.bidders[1]!.records;
    const accepted = records.find((r) => r.status === Status.ACCEPTED)!;
    accepted.resultLeader = 1;
    const outbid = records.find((r) => r.status === Status.OUTBID)!;
    outbid.resultLeader = 4242; // a state the auction never had
    run.bidders[2]!.sent(50, AUCTION, 0, 10);
    run.bidders[2]!.result(50, Status.OVERLOADED, AUCTION, 0, 0); // user 0 is INVALID first
    run.bidders[2]!.sent(51, AUCTION, 9, 10);
    run.bidders[2]!.result(51, Status.INVALID, AUCTION, 5, 0);
    const violations = check(run.log, [run.final]);
    expect(violations.filter((v) => v.kind === ViolationKind.RESULT_MISMATCH)).toHaveLength(3);
    expect(violations.filter((v) => v.kind === ViolationKind.WRONG_STATUS)).toHaveLength(2);
    // ... and the linearizability check finds the ACCEPTED naming the wrong leader fits no state.
    expect(violations.filter((v) => v.kind === ViolationKind.NOT_LINEARIZABLE)).toHaveLength(1);
    expect(violations).toHaveLength(6);
    // FORBIDDEN comes before INVALID in the contract's order.
    run.bidders[2]!.sent(52, AUCTION, 0, 10);
    run.bidders[2]!.result(52, Status.FORBIDDEN, AUCTION, 0, 0);
    expect(check(run.log, [run.final])).toHaveLength(6);
  });

  test("bids of one connection applied out of the order sent", () => {
    // Bidder 0 sent 500 then 300. In order, 300 is OUTBID; applied in reverse, both were ACCEPTED.
    const log = new ClientLog();
    const bidder = log.bidder();
    bidder.sent(1, AUCTION, 1, 500);
    bidder.sent(2, AUCTION, 1, 300);
    bidder.result(2, Status.ACCEPTED, AUCTION, 300, 1);
    bidder.result(1, Status.ACCEPTED, AUCTION, 500, 1);
    const final: FinalAuction = {
      id: AUCTION,
      seq: 2,
      amount: 500,
      leader: 1,
      closed: false,
      winner: null,
      history: [
        { seq: 1, amount: 300, user: 1 },
        { seq: 2, amount: 500, user: 1 },
      ],
    };
    expect(check(log, [final]).map((v) => v.kind)).toEqual([ViolationKind.ORDER]);
  });

  test("an outbid that should have won is a wrong status", () => {
    const run = simulate();
    const outbid = run.bidders.flatMap((b) => b.records).find((r) => r.status === Status.OUTBID)!;
    outbid.amount = outbid.resultAmount + 1000;
    expect(kinds(run)).toEqual([ViolationKind.NOT_LINEARIZABLE, ViolationKind.WRONG_STATUS]);
  });

  test("assertConsistent lists every violation", () => {
    const run = simulate();
    run.final.history.pop();
    run.final.seq--;
    run.subs[0]!.traces.get(AUCTION)!.updates.push({ ...run.subs[0]!.traces.get(AUCTION)!.updates.at(-1)! });
    let error: unknown;
    try {
      assertConsistent(run.log, [run.final]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConsistencyError);
    const violations = (error as ConsistencyError).violations;
    expect(violations.length).toBeGreaterThan(2);
    expect((error as Error).message).toContain("lost-bid");
    expect((error as Error).message).toContain("seq-duplicate");
  });
});
