// Turns a byte stream into whole frames; see docs/protocol.md ("Framing").
// Frames lying whole inside a chunk are handed out in place (the chunk plus an offset); only a
// frame split across chunks is copied, into one preallocated 257-byte buffer.

import { HEADER_SIZE, MAX_FRAME } from "./constants.ts";

/**
 * Receives one whole frame: its type, the bytes holding it and where its payload starts.
 * The bytes are only valid during the call. Return false to stop reading this stream
 * (the rest of the chunk and any later chunk are ignored).
 */
export type FrameHandler = (type: number, bytes: Uint8Array, payload: number, length: number) => boolean;

export class FrameAssembler {
  /** A frame split across chunks is gathered here. */
  private readonly partial = new Uint8Array(MAX_FRAME);
  private partialLength = 0;
  private stopped = false;
  /** Set by `suspend()`: the rest of the stream waits in `backlog` until `resume()`. */
  private suspended = false;
  private backlog: Uint8Array | null = null;
  /**
   * The backlog being handed out by resume(): already our own copy, so a suspend in the middle
   * of it keeps a view of its rest instead of copying it again (a consumer that suspends every
   * few frames would otherwise copy the same bytes over and over).
   */
  private owned: Uint8Array | null = null;

  constructor(private readonly onFrame: FrameHandler) {}

  /** True while part of a frame waits for more bytes (for slow-sender detection). */
  get hasPartialFrame(): boolean {
    return this.partialLength > 0;
  }

  /**
   * Called from a handler: hand out no more frames until `resume()`. The rest of the chunk is
   * copied aside (the consumer is full; the caller also stops reading the socket, so what waits
   * is at most what was already read).
   */
  suspend(): void {
    this.suspended = true;
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Hands out what waited since `suspend()`; it may suspend again. */
  resume(): boolean {
    if (!this.suspended) return !this.stopped;
    this.suspended = false;
    const backlog = this.backlog;
    this.backlog = null;
    if (backlog === null) return !this.stopped;
    this.owned = backlog;
    try {
      return this.push(backlog);
    } finally {
      this.owned = null;
    }
  }

  /** Feeds one chunk; returns false once a handler asked to stop. */
  push(chunk: Uint8Array): boolean {
    if (this.stopped) return false;
    if (this.suspended) {
      this.keep(chunk, 0);
      return true;
    }
    let offset = 0;
    const end = chunk.length;

    if (this.partialLength > 0) {
      offset = this.completePartial(chunk);
      if (offset < 0) return true; // the chunk was all consumed into the partial frame
      if (this.stopped) return false;
      if (this.suspended) {
        this.keep(chunk, offset);
        return true;
      }
    }

    while (end - offset >= HEADER_SIZE) {
      const length = chunk[offset + 1]!;
      const frameEnd = offset + HEADER_SIZE + length;
      if (frameEnd > end) break;
      if (!this.onFrame(chunk[offset]!, chunk, offset + HEADER_SIZE, length)) {
        this.stopped = true;
        return false;
      }
      offset = frameEnd;
      if (this.suspended) {
        this.keep(chunk, offset);
        return true;
      }
    }

    if (offset < end) {
      this.partial.set(chunk.subarray(offset, end), 0);
      this.partialLength = end - offset;
    }
    return true;
  }

  /** Copies chunk[offset..] behind whatever already waits. */
  private keep(chunk: Uint8Array, offset: number): void {
    if (offset >= chunk.length) return;
    const rest = chunk.subarray(offset);
    if (this.backlog === null) {
      this.backlog = chunk === this.owned ? rest : rest.slice();
      return;
    }
    const joined = new Uint8Array(this.backlog.length + rest.length);
    joined.set(this.backlog);
    joined.set(rest, this.backlog.length);
    this.backlog = joined;
  }

  /**
   * Moves bytes from the chunk into the partial frame. Returns the chunk offset after the
   * completed frame, or -1 when the chunk ran out first.
   */
  private completePartial(chunk: Uint8Array): number {
    let offset = 0;
    if (this.partialLength < HEADER_SIZE) {
      const take = Math.min(HEADER_SIZE - this.partialLength, chunk.length);
      for (let i = 0; i < take; i++) this.partial[this.partialLength++] = chunk[i]!;
      offset = take;
      if (this.partialLength < HEADER_SIZE) return -1;
    }
    const frameSize = HEADER_SIZE + this.partial[1]!;
    const take = Math.min(frameSize - this.partialLength, chunk.length - offset);
    if (take > 0) this.partial.set(chunk.subarray(offset, offset + take), this.partialLength);
    this.partialLength += take;
    offset += take;
    if (this.partialLength < frameSize) return -1;

    this.partialLength = 0;
    if (!this.onFrame(this.partial[0]!, this.partial, HEADER_SIZE, frameSize - HEADER_SIZE)) this.stopped = true;
    return offset;
  }
}
