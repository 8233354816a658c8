// The bytes encoded and not yet taken by the connection, shared by the SDK's engine and the
// load generator. Frames are encoded straight into `buffer` at `tail` (the codec's encoders
// return the new end), so queueing a request allocates nothing. A transport may take fewer
// bytes than offered (Bun's socket.write does not buffer; the others stop at a high-water
// mark): the rest stays in buffer[head, tail) and is offered again on `drain`, while new
// frames append behind it. `maxBytes` bounds it: past it `reserve` says no, and the caller
// refuses the request instead of growing memory while the server does not read.

/** Where queued bytes go: a Transport, or a Bun socket (same signature). */
export interface ByteSink {
  write(bytes: Uint8Array, offset: number, length: number): number;
}

export class WriteQueue {
  /** Encode into buffer[tail...] after `reserve`, then set `tail` to the encoder's result. */
  buffer: Uint8Array;
  head = 0;
  tail = 0;
  /** The sink took less than offered: nothing more is offered until `drained`. */
  private waitingForDrain = false;

  constructor(
    initialBytes: number,
    /** Bound on bytes waiting; Infinity for a caller that bounds them itself (the load window). */
    readonly maxBytes: number,
  ) {
    this.buffer = new Uint8Array(initialBytes);
  }

  /** Bytes queued and not yet taken. */
  get queued(): number {
    return this.tail - this.head;
  }

  /** Makes room for `size` more bytes at `tail`; false when that would pass `maxBytes`. */
  reserve(size: number): boolean {
    const queued = this.tail - this.head;
    if (queued + size > this.maxBytes) return false;
    if (this.tail + size <= this.buffer.length) return true;
    if (this.head > 0) {
      this.buffer.copyWithin(0, this.head, this.tail);
      this.head = 0;
      this.tail = queued;
    }
    if (this.tail + size > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.tail + size));
      grown.set(this.buffer.subarray(0, this.tail));
      this.buffer = grown;
    }
    return true;
  }

  /** Offers what is queued, unless an earlier short write still waits for `drained`. */
  flush(sink: ByteSink): void {
    if (this.waitingForDrain) return;
    const queued = this.tail - this.head;
    if (queued === 0) return;
    const written = sink.write(this.buffer, this.head, queued);
    // -1: the connection is closing; its close handling deals with what is pending.
    if (written < 0) return;
    this.head += written;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else {
      this.waitingForDrain = true;
    }
  }

  /** The sink takes bytes again: offer the rest. */
  drained(sink: ByteSink): void {
    this.waitingForDrain = false;
    this.flush(sink);
  }

  /** Drops everything queued (the connection it was meant for is gone). */
  clear(): void {
    this.head = 0;
    this.tail = 0;
    this.waitingForDrain = false;
  }
}
