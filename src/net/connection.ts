// One client connection, over TCP or WebSocket: its frame assembler and its bounded outbound
// queue. Backpressure, once: a transport's `write` does not buffer, it takes what it can now
// (TCP: what the kernel takes; WebSocket: whole frames until Bun reports backpressure). What it
// leaves stays at the front of `out` and goes on `drain`. When more than `outboundHighWater`
// bytes wait, reading from the client pauses (its own TCP window then pushes back on it); past
// `maxOutbound` the client is stuck and is disconnected.

import {
  encodeClosed,
  encodeError,
  encodeOk,
  encodePong,
  encodeResult,
  encodeState,
} from "../protocol/codec.ts";
import { FrameAssembler, type FrameHandler } from "../protocol/assembler.ts";
import { MAX_FRAME } from "../protocol/constants.ts";
import type { Subscriber } from "../live/subscriber.ts";
import type { Transport } from "./transport.ts";

export interface OutboundLimits {
  /** Pause reading above this many queued bytes. */
  outboundHighWater: number;
  /** Disconnect a client whose queue would grow past this. */
  maxOutbound: number;
}

const INITIAL_OUTBOUND = 4096;
const NO_BUFFER = new Uint8Array(0);

/** Why reading is paused; reading resumes only when no reason is left. */
export const PauseReason = { OUTBOUND: 1, RING: 2, AUTH: 4, SUBSCRIPTIONS: 8 } as const;

export class Connection implements Subscriber {
  readonly assembler: FrameAssembler;
  /** Allocated at the first reply: an idle connection (a watcher, a pool) costs no buffer. */
  private out = NO_BUFFER;
  private outLength = 0;
  private pauseReasons = 0;
  /** The reasons (a subset of pauseReasons) for which frames already read are held back too. */
  private frameHolds = 0;
  /** The server has decided to close: after MALFORMED, shutdown, or a stuck client. */
  closing = false;
  /** Shutdown: once everything owed is written, end only the server's side (`Transport.halfClose`). */
  private halfCloseWhenDone = false;
  /** The server's side has ended; the socket waits for the client's close (or the deadline). */
  halfClosed = false;
  closed = false;
  /** Queued on the server's flush list this tick. */
  dirty = false;
  /** Requests read but not yet answered (store round trips). */
  pending = 0;
  /** When the client last sent anything, ms (the idle limit, limits/connection-guard.ts). */
  lastActivity = Date.now();
  /** When the partial frame the assembler holds was begun, ms; 0 when none (slowloris). */
  partialSince = 0;
  /** When the chunk being read arrived (performance.now(), ms), with `timeReads`; else 0. */
  chunkReadAt = 0;
  /** Whole frames read so far. */
  framesRead = 0;
  /** The address this connection counts against (GAVEL_MAX_CONN_PER_IP); null when not counted. */
  countedAddress: string | null = null;
  /** The user a verified AUTH token speaks for; 0 before any (only with GAVEL_AUTH=jwt). */
  authUser = 0;
  /** When that token expires, ms since the epoch. */
  authExpiresAt = 0;

  constructor(
    readonly transport: Transport,
    private readonly limits: OutboundLimits,
    onFrame: FrameHandler,
    /** Stamp each chunk with its read time (for the bid latency metric); off costs nothing. */
    private readonly timeReads = false,
  ) {
    this.assembler = new FrameAssembler((type, bytes, payload, length) => {
      this.framesRead++;
      return onFrame(type, bytes, payload, length);
    });
  }

  /** Feeds bytes read from the client, noting when for the idle and slow-frame limits. */
  receive(chunk: Uint8Array): void {
    const now = Date.now();
    this.lastActivity = now;
    if (this.timeReads) this.chunkReadAt = performance.now();
    const framesBefore = this.framesRead;
    this.assembler.push(chunk);
    if (!this.assembler.hasPartialFrame) this.partialSince = 0;
    // A frame completed in this chunk: the partial one left over began in it too.
    else if (this.partialSince === 0 || this.framesRead !== framesBefore) this.partialSince = now;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  get queuedBytes(): number {
    return this.outLength;
  }

  // ---- Encoding replies into the queue -------------------------------------------------------

  /** Makes room for `bytes` more; false when the client is stuck (it is then being closed). */
  private reserve(bytes: number): boolean {
    if (this.closed) return false;
    const needed = this.outLength + bytes;
    if (needed <= this.out.length) return true;
    if (needed > this.limits.maxOutbound) {
      this.abort();
      return false;
    }
    let size = Math.max(this.out.length * 2, INITIAL_OUTBOUND);
    while (size < needed) size *= 2;
    const grown = new Uint8Array(Math.min(size, Math.max(this.limits.maxOutbound, needed)));
    grown.set(this.out.subarray(0, this.outLength));
    this.out = grown;
    return true;
  }

  queueResult(req: number, status: number, auction: number, amount: number, leader: number): void {
    if (!this.reserve(MAX_FRAME)) return;
    this.outLength = encodeResult(this.out, this.outLength, req, status, auction, amount, leader);
  }

  queueError(req: number, code: number, message: string): void {
    if (!this.reserve(MAX_FRAME)) return;
    this.outLength = encodeError(this.out, this.outLength, req, code, message);
  }

  queuePong(req: number, now: number): void {
    if (!this.reserve(MAX_FRAME)) return;
    this.outLength = encodePong(this.out, this.outLength, req, now);
  }

  queueOk(req: number): void {
    if (!this.reserve(MAX_FRAME)) return;
    this.outLength = encodeOk(this.out, this.outLength, req);
  }

  queueState(req: number, auction: number, phase: number, seq: number, amount: number, leader: number, endsAt: number): void {
    if (!this.reserve(MAX_FRAME)) return;
    this.outLength = encodeState(this.out, this.outLength, req, auction, phase, seq, amount, leader, endsAt);
  }

  queueClosed(auction: number, seq: number, winner: number, amount: number): void {
    if (!this.reserve(MAX_FRAME)) return;
    this.outLength = encodeClosed(this.out, this.outLength, auction, seq, winner, amount);
  }

  /** Appends frames already encoded elsewhere (UPDATEs fanned out to many subscribers). */
  queueBytes(bytes: Uint8Array, offset: number, length: number): void {
    if (!this.reserve(length)) return;
    this.out.set(length === bytes.length && offset === 0 ? bytes : bytes.subarray(offset, offset + length), this.outLength);
    this.outLength += length;
  }

  // ---- Writing --------------------------------------------------------------------------------

  /** Writes what is queued; keeps what the transport did not take. Called per tick and on drain. */
  flush(): void {
    if (this.closed || this.outLength === 0) {
      if (this.closing && !this.closed && this.outLength === 0 && this.pending === 0) this.endNow();
      return;
    }
    const written = this.transport.write(this.out, 0, this.outLength);
    if (written < 0) return; // closed under us; the close handler cleans up
    if (written < this.outLength) this.out.copyWithin(0, written, this.outLength);
    this.outLength -= written;

    if (this.outLength > this.limits.outboundHighWater) this.pauseReading(PauseReason.OUTBOUND);
    else if (this.pauseReasons & PauseReason.OUTBOUND) this.resumeReading(PauseReason.OUTBOUND);

    // Requests read before the close still get their replies (the drain answers them later).
    if (this.closing && this.outLength === 0 && this.pending === 0) this.endNow();
  }

  private endNow(): void {
    if (!this.halfCloseWhenDone) this.transport.end();
    else if (!this.halfClosed) {
      this.halfClosed = true;
      this.transport.halfClose();
    }
  }

  /**
   * Stops reading for `reason` and hands out no more frames of what was already read (the
   * assembler keeps the rest of the chunk): the ring is full, an AUTH is being verified, too many
   * SUBSCRIBEs wait for the store. Frames flow again once every such reason is released.
   */
  holdFrames(reason: number): void {
    this.frameHolds |= reason;
    this.pauseReading(reason);
    this.assembler.suspend();
  }

  releaseFrames(reason: number): void {
    if (!(this.frameHolds & reason)) return;
    this.frameHolds &= ~reason;
    this.resumeReading(reason);
    if (this.frameHolds === 0 && !this.closed) this.assembler.resume();
  }

  get holdsFrames(): boolean {
    return this.frameHolds !== 0;
  }

  /** The subscription hub's hold (Subscriber): too many SUBSCRIBEs and UNSUBSCRIBEs wait. */
  holdRequests(): void {
    this.holdFrames(PauseReason.SUBSCRIPTIONS);
  }

  releaseRequests(): void {
    this.releaseFrames(PauseReason.SUBSCRIPTIONS);
  }

  pauseReading(reason: number): void {
    if (this.closed) return;
    if (this.pauseReasons === 0) this.transport.pause();
    this.pauseReasons |= reason;
  }

  resumeReading(reason: number): void {
    if (!(this.pauseReasons & reason)) return;
    this.pauseReasons &= ~reason;
    if (this.pauseReasons === 0 && !this.closed) this.transport.resume();
  }

  get isPaused(): boolean {
    return this.pauseReasons !== 0;
  }

  /** Closes once everything queued is written. */
  closeAfterFlush(): void {
    this.closing = true;
  }

  /**
   * Shutdown: reads nothing more; once every request read is answered and written, ends the
   * server's side only (FIN, or a WebSocket close frame), so the client reads every reply.
   */
  closeGracefully(): void {
    this.closing = true;
    this.halfCloseWhenDone = true;
  }

  /**
   * Nothing left between client and server: every request read is answered and written, no
   * frame is half read, and reading is not held back (a paused socket may hold unread requests).
   */
  get owesNothing(): boolean {
    return this.pending === 0 && this.outLength === 0 && this.pauseReasons === 0 && !this.assembler.isSuspended && !this.assembler.hasPartialFrame;
  }

  /** Drops the connection now: the client cannot keep up or the server is going away. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.outLength = 0;
    this.transport.terminate();
  }
}
