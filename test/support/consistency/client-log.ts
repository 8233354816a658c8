// What clients saw during a run, recorded as it goes: every BID sent and the reply it got, per
// bidder connection, and every STATE, UPDATE and CLOSED per subscriber connection. The
// consistency check (check.ts) reads it once the run is quiet.

import type { Frame } from "../../../src/protocol/codec.ts";
import { ErrorCode, FrameType, Status } from "../../../src/protocol/constants.ts";
import { ReaderLog, type ReadRecord } from "../linearizability-reads.ts";

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
