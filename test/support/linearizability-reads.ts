// Reads of an auction for the linearizability check (linearizability.ts): a QUERY and the STATE
// that answered it, or a SUBSCRIBE's STATE snapshot, each with when it was sent and answered.
//
// @example
//   const reader = log.reader("reader 1");          // a ClientLog's QUERY connection
//   reader.sent(req, auction);                      // as each QUERY leaves
//   for (const frame of raw.frames) reader.observe(frame);

import type { Frame } from "../../src/protocol/codec.ts";
import { FrameType, Phase } from "../../src/protocol/constants.ts";

/** One read: what the STATE said, and the time window it was taken in (performance.now()). */
export interface ReadRecord {
  auction: number;
  sentAt: number;
  /** Infinity until the STATE came. */
  receivedAt: number;
  /** The STATE's fields; null while unanswered (or, for phase/amount/leader, when not recorded). */
  seq: number | null;
  phase: number | null;
  amount: number | null;
  leader: number | null;
}

/** The QUERYs one connection sent and the STATEs that answered them (matched by req). */
export class ReaderLog {
  readonly records: ReadRecord[] = [];
  private readonly waiting = new Map<number, ReadRecord>();

  constructor(
    readonly id: number,
    readonly label: string,
  ) {}

  /** Records a QUERY as it leaves. */
  sent(req: number, auction: number, at = performance.now()): ReadRecord {
    const record: ReadRecord = { auction, sentAt: at, receivedAt: Number.POSITIVE_INFINITY, seq: null, phase: null, amount: null, leader: null };
    this.records.push(record);
    this.waiting.set(req, record);
    return record;
  }

  /** Records the STATE that answered QUERY `req`; a STATE of phase UNKNOWN names no auction. */
  state(req: number, phase: number, seq: number, amount: number, leader: number, at = performance.now()): void {
    const record = this.waiting.get(req);
    if (record === undefined) return;
    this.waiting.delete(req);
    if (phase === Phase.UNKNOWN) return;
    record.receivedAt = at;
    record.seq = seq;
    record.phase = phase;
    record.amount = amount;
    record.leader = leader;
  }

  /** Records any frame on the connection: STATE answers a QUERY, an ERROR (UNAVAILABLE) ends it unanswered. */
  observe(frame: Frame): void {
    if (frame.type === FrameType.STATE) this.state(frame.req, frame.phase, frame.seq, frame.amount, frame.leader);
    else if (frame.type === FrameType.ERROR) this.waiting.delete(frame.req);
  }
}
