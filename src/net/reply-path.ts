// The way back of a bid: its RESULT onto its connection (counted), the local UPDATE fan-out of
// an accepted bid, and the ring's backpressure on readers (pause a reader at the ring's
// high-water mark, resume every paused one at its low-water mark). See docs/architecture.md
// ("A bid, end to end"). Nothing here allocates per bid.

import { Status } from "../protocol/constants.ts";
import type { ServerCounters } from "../metrics/counters.ts";
import type { BidBatch } from "../queue/bid-batch.ts";
import type { BidRing } from "../queue/bid-ring.ts";
import { PauseReason, type Connection } from "./connection.ts";
import type { Outbox } from "./outbox.ts";

/** Reading pauses at 3/4 of the ring and resumes at 1/4. */
export const RING_HIGH_WATER_FRACTION = 0.75;
export const RING_LOW_WATER_FRACTION = 0.25;
const MS_PER_SECOND = 1000;

/** Where a step's UPDATE goes on this node (the subscription hub). */
export interface LocalFanOut {
  deliverUpdate(auction: number, seq: number, amount: number, leader: number, endsAt: number): void;
}

export interface ReplyPathOptions {
  ring: BidRing<Connection>;
  outbox: Outbox;
  /** The hub, when UPDATEs are fanned out here; null when they come back through the store's feed. */
  fanOut: LocalFanOut | null;
  /** Counts RESULTs by status and bid latency; null counts nothing. */
  counters: ServerCounters | null;
}

export class ReplyPath {
  private readonly ring: BidRing<Connection>;
  private readonly outbox: Outbox;
  private readonly fanOut: LocalFanOut | null;
  private readonly counters: ServerCounters | null;
  private readonly ringHighWater: number;
  private readonly ringLowWater: number;
  /** Connections paused because the ring passed its high-water mark. */
  private readonly pausedForRing: Connection[] = [];

  constructor(options: ReplyPathOptions) {
    this.ring = options.ring;
    this.outbox = options.outbox;
    this.fanOut = options.fanOut;
    this.counters = options.counters;
    this.ringHighWater = Math.floor(options.ring.capacity * RING_HIGH_WATER_FRACTION);
    this.ringLowWater = Math.floor(options.ring.capacity * RING_LOW_WATER_FRACTION);
  }

  /** A RESULT decided before the store (FORBIDDEN, INVALID, RATE_LIMITED, OVERLOADED). */
  answer(connection: Connection, req: number, status: Status, auction: number): void {
    this.counters?.countBid(status);
    connection.queueResult(req, status, auction, 0, 0);
    this.outbox.markDirty(connection);
  }

  /**
   * A bid went into the ring. Past the high-water mark, backpressure rather than OVERLOADED:
   * stop reading this socket and leave the rest of the chunk unparsed until the drain has made room.
   */
  queued(connection: Connection): void {
    connection.pending++;
    if (this.ring.length >= this.ringHighWater && !connection.holdsFrames) {
      connection.holdFrames(PauseReason.RING);
      this.pausedForRing.push(connection);
    }
  }

  /** A batch came back from the store: each RESULT onto its connection, each UPDATE to the hub. */
  readonly deliver = (batch: BidBatch<Connection>): void => {
    const counters = this.counters;
    const now = counters === null ? 0 : performance.now();
    for (let i = 0; i < batch.count; i++) {
      const status = batch.status[i]!;
      // Every visible step, ACCEPTED or OUTBID (a hidden maximum answered), is an UPDATE.
      if (batch.stepped[i] === 1 && this.fanOut !== null) {
        this.fanOut.deliverUpdate(batch.auction[i]!, batch.seq[i]!, batch.resultAmount[i]!, batch.resultLeader[i]!, batch.endsAt[i]!);
      }
      const connection = batch.replyTo[i]!;
      connection.pending--;
      if (connection.closed) continue;
      connection.queueResult(batch.req[i]!, status, batch.auction[i]!, batch.resultAmount[i]!, batch.resultLeader[i]!);
      if (counters !== null) {
        counters.countBid(status);
        counters.bidLatency.observe((now - batch.readAt[i]!) / MS_PER_SECOND);
      }
      this.outbox.markDirty(connection);
    }
  };

  /** After a drain run: the ring is under its low-water mark, so every paused reader reads again. */
  readonly resumeReaders = (): void => {
    if (this.pausedForRing.length === 0 || this.ring.length > this.ringLowWater) return;
    const resuming = this.pausedForRing.splice(0);
    for (const connection of resuming) connection.releaseFrames(PauseReason.RING);
  };
}
