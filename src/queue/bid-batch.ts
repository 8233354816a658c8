// One batch of bids on its way to a store and back; see docs/architecture.md.

import type { StoreBatch } from "../store/store.ts";

/**
 * A preallocated struct of typed arrays: the drain copies bids off the ring into it, the store
 * reads the inputs and fills the outputs for indices 0..count-1, and the return path routes each
 * result to its reply target (`T`: the connection, opaque here). Reused forever, so the steady
 * state allocates nothing.
 */
export class BidBatch<T = unknown> implements StoreBatch {
  count = 0;
  /** When the drain handed it to the store (performance.now(), ms; only while metrics count). */
  sentAt = 0;
  // Inputs.
  /** Where each result goes; opaque to the queue. */
  readonly replyTo: (T | null)[];
  readonly req: Uint32Array;
  readonly auction: Uint32Array;
  readonly user: Uint32Array;
  readonly amount: Float64Array;
  /** BidKind of each bid (BID or MAX_BID). */
  readonly kind: Uint8Array;
  /** When each bid's frame was read (performance.now(), ms), for the bid latency. */
  readonly readAt: Float64Array;
  // Outputs, filled by the store.
  readonly status: Uint8Array;
  /** The auction's amount and leader after this bid (0 when unknown). */
  readonly resultAmount: Float64Array;
  readonly resultLeader: Uint32Array;
  /** 1 when the bid made a visible step (ACCEPTED or OUTBID): its UPDATE goes out. */
  readonly stepped: Uint8Array;
  /** For ACCEPTED and every step: the auction's new seq and ends_at, what its UPDATE carries. */
  readonly seq: Uint32Array;
  readonly endsAt: Float64Array;

  constructor(readonly capacity: number) {
    this.replyTo = new Array<T | null>(capacity).fill(null);
    this.req = new Uint32Array(capacity);
    this.auction = new Uint32Array(capacity);
    this.user = new Uint32Array(capacity);
    this.amount = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.readAt = new Float64Array(capacity);
    this.status = new Uint8Array(capacity);
    this.resultAmount = new Float64Array(capacity);
    this.resultLeader = new Uint32Array(capacity);
    this.stepped = new Uint8Array(capacity);
    this.seq = new Uint32Array(capacity);
    this.endsAt = new Float64Array(capacity);
  }

  /** Marks every bid with one status and no auction data (e.g. UNAVAILABLE). */
  failAll(status: number): void {
    for (let i = 0; i < this.count; i++) {
      this.status[i] = status;
      this.resultAmount[i] = 0;
      this.resultLeader[i] = 0;
      this.stepped[i] = 0;
    }
  }
}
