// One load connection: encodes BIDs into the SDK's write queue (src/client/write-queue.ts),
// writes them in one call per event, and reads RESULTs straight out of the socket chunk (the
// SDK's FrameAssembler + readU32). Nothing is allocated per bid: no Promise, no object, no
// closure. That is why it shares the client core's lower pieces (framing, codec, write queue)
// but not its request correlation: the SDK's promise per request would cost the benchmark's
// client more than the server it measures; Outstanding (a ring of typed arrays) does that here.

import type { Socket } from "bun";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import { readU32 } from "../../src/protocol/bytes.ts";
import { encodeBid, encodeMaxBid } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ERROR_HEADER_PAYLOAD, FrameType, PayloadLength } from "../../src/protocol/constants.ts";
import { WriteQueue } from "../../src/client/write-queue.ts";
import { Outstanding, Reply } from "./outstanding.ts";
import { OTHER_ERROR, OTHER_STATUS, type Tally } from "./tally.ts";

/** How bid amounts are chosen. */
export type AmountMode = "rising" | "random";

/**
 * Rising amounts: microseconds since the run's start times this, plus a per-connection counter
 * in the low bits, so two bids from one connection in the same microsecond still rise.
 */
export const AMOUNT_SCALE = 16;
/** Random amounts are uniform in 1..RANDOM_AMOUNT_MAX (most lose once the auction is warm). */
export const RANDOM_AMOUNT_MAX = 1_000_000_000;
const MICROS_PER_MS = 1000;
/** --max-share is kept in thousandths. */
export const PER_MILLE = 1000;
/** Golden-ratio multiplier: spreads consecutive user ids into unrelated PRNG seeds. */
const SEED_MULTIPLIER = 0x9e37_79b9;

/** What every connection of one load process shares. */
export interface LoadContext {
  readonly tally: Tally;
  /** The auctions to bid on; a hot run has one. */
  readonly auctionIds: Uint32Array;
  readonly amounts: AmountMode;
  /** Of each 1000 bids, about this many go as MAX_BID (the amount is then the hidden maximum). */
  readonly maxPerMille: number;
  /** Performance-clock time that rising amounts count from (the same instant in every process). */
  amountOrigin: number;
  /** Closed loop: no new bid is sent at or after this performance-clock time. */
  stopAt: number;
  /** Performance-clock time of the last bytes received on any connection (stall detection). */
  lastData: number;
}

export class BidConnection {
  socket: Socket<BidConnection> | null = null;
  /** False once the socket closed, for whatever reason. */
  open = false;
  /** We asked for the close: not the server's doing. */
  closing = false;

  /** Unbounded here: the window (closed loop) or Outstanding's span (open loop) bounds it. */
  private readonly out: WriteQueue;
  readonly outstanding: Outstanding;
  private readonly assembler: FrameAssembler;
  /** The time of the event being handled: one clock read per socket chunk, not per frame. */
  private now = 0;
  private random: number;
  private counter = 0;

  constructor(
    private readonly context: LoadContext,
    /** The user id on every bid of this connection (never 0). */
    readonly user: number,
    /** Closed loop: bids kept in flight; open loop: 0. */
    private readonly window: number,
    /** Bids this connection may still send (Infinity without a --bids budget). */
    public budget: number,
  ) {
    this.outstanding = new Outstanding(window * 4);
    this.out = new WriteQueue(Math.max(window, 16) * BID_FRAME_SIZE * 2, Number.POSITIVE_INFINITY);
    this.random = Math.imul(user, SEED_MULTIPLIER) >>> 0 || 1;
    this.assembler = new FrameAssembler((type, bytes, payload, length) => this.onFrame(type, bytes, payload, length));
  }

  /** Socket `data` handler: answers first, then (closed loop) as many new bids, one write. */
  onData(chunk: Uint8Array): void {
    this.now = performance.now();
    this.context.lastData = this.now;
    this.assembler.push(chunk);
    if (this.window > 0) this.refill();
    this.flush();
  }

  /** Closed loop: tops the window up, unless the run is over or the budget spent. */
  refill(): void {
    if (!this.open) return;
    const now = this.now === 0 ? performance.now() : this.now;
    if (now >= this.context.stopAt) return;
    while (this.outstanding.inFlight < this.window && this.budget > 0) this.send(now, now);
  }

  /**
   * Open loop: one bid scheduled for `scheduled`, leaving `now`. It is timed from the later of
   * the two: a bid sent ahead of its slot from when it left, a late one from its slot (so a
   * stalled generator shows up as latency). Returns false when skipped (too many outstanding).
   * The caller flushes.
   */
  offer(scheduled: number, now: number): boolean {
    const tally = this.context.tally;
    if (!this.outstanding.hasRoom || !this.open) {
      tally.skipped++;
      return false;
    }
    if (scheduled < now) {
      tally.sendLag.record((now - scheduled) * MICROS_PER_MS);
      this.send(now, scheduled);
    } else {
      tally.sendLag.record(0);
      this.send(now, now);
    }
    return true;
  }

  /**
   * Writes what is buffered; what the kernel did not take stays queued. Called on data and on
   * `drain` alike: Bun's write simply takes what fits, so offering again early costs nothing.
   */
  flush(): void {
    if (this.socket === null || !this.open) return;
    this.out.drained(this.socket);
  }

  close(): void {
    this.closing = true;
    this.socket?.end();
  }

  onClose(): void {
    if (this.open && !this.closing) this.context.tally.closedByServer++;
    this.open = false;
  }

  /**
   * Encodes one bid, timed from `intended`. Rising amounts follow `clock`, the moment the bid
   * leaves (read per connection just before its write), so they rise in the order bids reach
   * the server, not in slot order: a tick's bids go out connection by connection.
   */
  private send(clock: number, intended: number): void {
    const context = this.context;
    const tally = context.tally;
    const ids = context.auctionIds;
    const auction = ids.length === 1 ? ids[0]! : ids[this.nextRandom() % ids.length]!;
    let amount: number;
    if (context.amounts === "rising") {
      const micros = Math.max(0, Math.floor((clock - context.amountOrigin) * MICROS_PER_MS));
      amount = 1 + micros * AMOUNT_SCALE + (this.counter++ % AMOUNT_SCALE);
    } else {
      amount = 1 + (this.nextRandom() % RANDOM_AMOUNT_MAX);
    }
    const req = this.outstanding.add(intended, auction);
    this.out.reserve(BID_FRAME_SIZE);
    // MAX_BID has BID's layout: one more branch, nothing allocated.
    const asMaximum = context.maxPerMille > 0 && this.nextRandom() % PER_MILLE < context.maxPerMille;
    this.out.tail = asMaximum
      ? encodeMaxBid(this.out.buffer, this.out.tail, req, auction, this.user, amount)
      : encodeBid(this.out.buffer, this.out.tail, req, auction, this.user, amount);
    this.budget--;
    tally.sent++;
    if (intended >= tally.measureFrom) tally.measuredSent++;
  }

  /** xorshift32: cheap, allocation-free, and reproducible per user. */
  private nextRandom(): number {
    let x = this.random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.random = x >>> 0;
    return this.random;
  }

  private onFrame(type: number, bytes: Uint8Array, payload: number, length: number): boolean {
    const tally = this.context.tally;
    if (type === FrameType.RESULT) {
      if (length !== PayloadLength.RESULT) return this.malformed();
      const status = bytes[payload + 4]!;
      this.answer(readU32(bytes, payload), status < OTHER_STATUS ? status : OTHER_STATUS, readU32(bytes, payload + 5), false);
    } else if (type === FrameType.ERROR) {
      if (length < ERROR_HEADER_PAYLOAD) return this.malformed();
      const req = readU32(bytes, payload);
      const code = bytes[payload + 4]!;
      const slot = code > 0 && code < OTHER_ERROR ? code : OTHER_ERROR;
      if (req === 0) {
        tally.unattributedErrors++;
        tally.errorTotal[slot]!++;
      } else {
        this.answer(req, slot, 0, true);
      }
    } else {
      tally.otherFrames++;
    }
    return true;
  }

  /** One reply for `req`: checked against what is outstanding, then counted. */
  private answer(req: number, code: number, auction: number, isError: boolean): void {
    const tally = this.context.tally;
    const slot = this.outstanding.complete(req);
    if (slot < 0) {
      if (slot === Reply.DUPLICATE) tally.duplicates++;
      else tally.neverSent++;
      return;
    }
    tally.answered++;
    const sentAt = this.outstanding.sentAtOf(slot);
    const measured = sentAt >= tally.measureFrom;
    if (isError) {
      tally.errorTotal[code]!++;
      if (measured) tally.errorMeasured[code]!++;
    } else {
      if (auction !== this.outstanding.auctionOf(slot)) tally.mismatched++;
      tally.statusTotal[code]!++;
      if (measured) tally.statusMeasured[code]!++;
    }
    if (measured) {
      tally.measuredAnswered++;
      tally.latency.record((this.now - sentAt) * MICROS_PER_MS);
      tally.lastMeasuredReply = this.now;
    }
  }

  /** A frame that breaks the framing rules: nothing after it can be trusted on this stream. */
  private malformed(): boolean {
    this.context.tally.malformed++;
    this.close();
    return false;
  }
}
