// Correct histories for the linearizability check's self-test: concurrent clients bid on and
// query auctions held by a simulated, atomic server that applies the real bid rule
// (src/auction/bid-rule.ts) at one instant inside each request's time window. Some bids are
// refused before the store, answered UNCONFIRMED or never answered (each of these last two taken
// or not, at random); some auctions open late, end during the run or are bought outright. What
// the clients saw goes into a ClientLog with the simulated times, the store's end state into
// FinalAuctions, exactly as a real run records them.

import { freshAuction, phaseAt, type AuctionState } from "../../src/auction/auction.ts";
import { applyBidRule } from "../../src/auction/bid-rule.ts";
import { Phase, Status } from "../../src/protocol/constants.ts";
import { ClientLog, type FinalAuction } from "./consistency.ts";
import { seededRandom } from "./random.ts";

export interface SimulationOptions {
  seed: number;
  auctions: number;
  /** Clients, each with one request in flight at a time: the concurrency. */
  clients: number;
  /** Requests in all (bids and queries). */
  operations: number;
  /** Shares of the requests (defaults in DEFAULT_SHARES). */
  queryShare?: number;
  refusedShare?: number;
  unconfirmedShare?: number;
  unansweredShare?: number;
  /** Auctions that open late, end mid-run, or have a buy-now price (default true). */
  eventful?: boolean;
}

export interface Simulation {
  log: ClientLog;
  final: FinalAuction[];
}

const DEFAULT_SHARES = { query: 0.1, refused: 0.03, unconfirmed: 0.03, unanswered: 0.02 } as const;
/** A request reaches the store within this many ms of being sent, and its reply as long after. */
const MAX_LATENCY_MS = 4;
/** A client waits up to this long before its next request. */
const MAX_THINK_MS = 3;
const STARTING_PRICE = 100;
const MIN_INCREMENT = 5;
/** Bids land between this many increments below and above the next minimum. */
const SPREAD_BELOW = 2;
const SPREAD_ABOVE = 4;
/** One bid in this many jumps far up (buy-now, when the auction has it). */
const JUMP_ODDS = 200;
const JUMP_FACTOR = 10;
const USER_BASE = 100;
const REFUSALS = [Status.OVERLOADED, Status.RATE_LIMITED, Status.UNAVAILABLE] as const;

/** What kind of request, decided up front. */
const Kind = { BID: 0, QUERY: 1, REFUSED: 2, UNCONFIRMED: 3, UNANSWERED: 4 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

interface Planned {
  client: number;
  auction: number;
  kind: Kind;
  call: number;
  /** When the store applies it. */
  at: number;
  ret: number;
  /** Filled in at `at`. */
  amount: number;
  status: number;
  replyAmount: number;
  replyLeader: number;
  phase: number;
  seq: number;
}

/** Runs the simulation; the same options give the same history. */
export function simulateAuctions(options: SimulationOptions): Simulation {
  const random = seededRandom(options.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const shares = {
    query: options.queryShare ?? DEFAULT_SHARES.query,
    refused: options.refusedShare ?? DEFAULT_SHARES.refused,
    unconfirmed: options.unconfirmedShare ?? DEFAULT_SHARES.unconfirmed,
    unanswered: options.unansweredShare ?? DEFAULT_SHARES.unanswered,
  };
  const perClient = Math.ceil(options.operations / options.clients);
  const span = perClient * (MAX_LATENCY_MS + MAX_THINK_MS);

  const states: AuctionState[] = [];
  for (let a = 0; a < options.auctions; a++) {
    const eventful = (options.eventful ?? true) && a % 4 !== 0;
    states.push(
      freshAuction({
        id: a + 1,
        title: "",
        startingPrice: STARTING_PRICE,
        minIncrement: MIN_INCREMENT,
        reserve: eventful && a % 2 === 1 ? STARTING_PRICE * JUMP_FACTOR : 0,
        buyNowPrice: eventful && a % 3 === 1 ? STARTING_PRICE * JUMP_FACTOR * 2 : 0,
        startsAt: eventful && a % 4 === 3 ? span * random() * 0.3 : 0,
        endsAt: eventful && a % 4 === 2 ? span * (0.3 + random() * 0.6) : span * 10,
        antiSnipeMs: eventful && a % 8 === 2 ? MAX_LATENCY_MS * 3 : 0,
        maxEndsAt: 0,
      }),
    );
  }

  // Plan every request's window first: times do not depend on outcomes.
  const planned: Planned[] = [];
  let left = options.operations;
  for (let client = 0; client < options.clients && left > 0; client++) {
    let t = random() * MAX_THINK_MS;
    for (let i = 0; i < perClient && left > 0; i++, left--) {
      const roll = random();
      const kind: Kind =
        roll < shares.query
          ? Kind.QUERY
          : roll < shares.query + shares.refused
            ? Kind.REFUSED
            : roll < shares.query + shares.refused + shares.unconfirmed
              ? Kind.UNCONFIRMED
              : roll < shares.query + shares.refused + shares.unconfirmed + shares.unanswered
                ? Kind.UNANSWERED
                : Kind.BID;
      const at = t + random() * MAX_LATENCY_MS;
      const ret = at + random() * MAX_LATENCY_MS;
      planned.push({ client, auction: pick(options.auctions), kind, call: t, at, ret, amount: 0, status: 0, replyAmount: 0, replyLeader: 0, phase: 0, seq: 0 });
      t = ret + random() * MAX_THINK_MS;
    }
  }

  // The server: one atomic step per request, in the order of the instants it is applied at.
  const histories: FinalAuction["history"][] = states.map(() => []);
  for (const p of [...planned].sort((a, b) => a.at - b.at)) {
    const state = states[p.auction]!;
    if (p.kind === Kind.QUERY) {
      p.phase = phaseAt(state, p.at);
      p.seq = state.seq;
      p.replyAmount = state.amount;
      p.replyLeader = state.leader;
      continue;
    }
    const next = state.leader === 0 ? state.startingPrice : state.amount + state.minIncrement;
    p.amount = Math.max(1, next + (pick(SPREAD_BELOW + SPREAD_ABOVE + 1) - SPREAD_BELOW) * state.minIncrement);
    if (pick(JUMP_ODDS) === 0) p.amount += STARTING_PRICE * JUMP_FACTOR * 2;
    if (p.kind === Kind.REFUSED) {
      p.status = REFUSALS[pick(REFUSALS.length)]!;
      continue;
    }
    // An UNCONFIRMED or unanswered bid was applied, or not.
    if ((p.kind === Kind.UNCONFIRMED || p.kind === Kind.UNANSWERED) && random() < 0.5) continue;
    p.status = applyBidRule(state, USER_BASE + p.client, p.amount, p.at);
    if (p.status === Status.ACCEPTED) histories[p.auction]!.push({ seq: state.seq, amount: state.amount, user: state.leader });
    p.replyAmount = state.amount;
    p.replyLeader = state.leader;
  }

  // What the clients recorded, one connection each, in the order each sent.
  const log = new ClientLog();
  const bidders = Array.from({ length: options.clients }, (_, c) => log.bidder(`client ${c}`));
  const readers = Array.from({ length: options.clients }, (_, c) => log.reader(`client ${c}`));
  let req = 0;
  for (const p of planned) {
    req++;
    const auction = p.auction + 1;
    if (p.kind === Kind.QUERY) {
      readers[p.client]!.sent(req, auction, p.call);
      readers[p.client]!.state(req, p.phase, p.seq, p.replyAmount, p.replyLeader, p.ret);
      continue;
    }
    const bidder = bidders[p.client]!;
    bidder.sent(req, auction, USER_BASE + p.client, p.amount, p.call);
    if (p.kind === Kind.UNANSWERED) continue;
    if (p.kind === Kind.UNCONFIRMED) bidder.result(req, Status.UNCONFIRMED, auction, 0, 0, p.ret);
    else if (p.kind === Kind.REFUSED) bidder.result(req, p.status, auction, 0, 0, p.ret);
    else bidder.result(req, p.status, auction, p.replyAmount, p.replyLeader, p.ret);
  }

  const end = planned.reduce((t, p) => Math.max(t, p.ret), 0) + 1;
  const final = states.map((state, a): FinalAuction => ({
    id: state.id,
    seq: state.seq,
    amount: state.amount,
    leader: state.leader,
    closed: phaseAt(state, end) === Phase.CLOSED,
    winner: null,
    reserve: state.reserve,
    buyNowPrice: state.buyNowPrice,
    startingPrice: state.startingPrice,
    minIncrement: state.minIncrement,
    history: histories[a]!,
  }));
  return { log, final };
}
