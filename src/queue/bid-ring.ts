// The preallocated ring that socket handlers decode BIDs into; see docs/architecture.md.

import type { BidBatch } from "./bid-batch.ts";

/**
 * A fixed-capacity FIFO of bids as a struct of typed arrays, plus one array of reply targets
 * (`T`: the connection each result goes back to, opaque here). Socket handlers push, the drain
 * takes batches off the head. Nothing is allocated after construction.
 */
export class BidRing<T = unknown> {
  private readonly mask: number;
  private head = 0;
  private size = 0;
  private readonly replyTo: (T | null)[];
  private readonly req: Uint32Array;
  private readonly auction: Uint32Array;
  private readonly user: Uint32Array;
  private readonly amount: Float64Array;
  private readonly kind: Uint8Array;
  private readonly readAt: Float64Array;

  /** @param capacity a power of two (config validates it) */
  constructor(readonly capacity: number) {
    if (capacity < 1 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity must be a power of two, got ${capacity}`);
    this.mask = capacity - 1;
    this.replyTo = new Array<T | null>(capacity).fill(null);
    this.req = new Uint32Array(capacity);
    this.auction = new Uint32Array(capacity);
    this.user = new Uint32Array(capacity);
    this.amount = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.readAt = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /**
   * Returns false, storing nothing, when the ring is full (the caller answers OVERLOADED).
   * `readAt` is when the frame was read (performance.now(), ms; 0 when nobody measures);
   * `kind` is the BidKind (BID or MAX_BID), opaque here.
   */
  push(replyTo: T, req: number, auction: number, user: number, amount: number, readAt = 0, kind = 0): boolean {
    if (this.size === this.capacity) return false;
    const slot = (this.head + this.size) & this.mask;
    this.replyTo[slot] = replyTo;
    this.req[slot] = req;
    this.auction[slot] = auction;
    this.user[slot] = user;
    this.amount[slot] = amount;
    this.kind[slot] = kind;
    this.readAt[slot] = readAt;
    this.size++;
    return true;
  }

  /** Moves up to `batch.capacity` bids, oldest first, into `batch`; returns how many. */
  takeInto(batch: BidBatch<T>): number {
    const count = Math.min(this.size, batch.capacity);
    let slot = this.head;
    for (let i = 0; i < count; i++) {
      batch.replyTo[i] = this.replyTo[slot]!;
      this.replyTo[slot] = null; // let a closed connection be collected
      batch.req[i] = this.req[slot]!;
      batch.auction[i] = this.auction[slot]!;
      batch.user[i] = this.user[slot]!;
      batch.amount[i] = this.amount[slot]!;
      batch.kind[i] = this.kind[slot]!;
      batch.readAt[i] = this.readAt[slot]!;
      slot = (slot + 1) & this.mask;
    }
    this.head = slot;
    this.size -= count;
    batch.count = count;
    return count;
  }
}
