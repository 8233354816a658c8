// What the subscription hub needs of a subscriber: a bounded outbound queue it can append
// frames to, and the means to close it. The net room's Connection implements it; the hub
// knows nothing of sockets or transports.

export interface Subscriber {
  /** The subscriber is gone: nothing queued on it reaches anyone. */
  readonly closed: boolean;
  /** Bytes queued and not yet written (how far behind the subscriber is). */
  readonly queuedBytes: number;
  /** Requests read and not answered yet; the hub counts the SUBSCRIBEs it is answering. */
  pending: number;
  /** Appends frames already encoded (one UPDATE, encoded once for every subscriber). */
  queueBytes(bytes: Uint8Array, offset: number, length: number): void;
  queueState(req: number, auction: number, phase: number, seq: number, amount: number, leader: number, endsAt: number): void;
  queueClosed(auction: number, seq: number, winner: number, amount: number): void;
  queueOk(req: number): void;
  queueError(req: number, code: number, message: string): void;
  /** Closes once everything queued is written. */
  closeAfterFlush(): void;
  /** Drops the subscriber now (it stayed too far behind). */
  abort(): void;
  /**
   * Stops reading requests from this subscriber (the rest of what it sent stays unread) until
   * releaseRequests: the hub holds a subscriber whose SUBSCRIBEs and UNSUBSCRIBEs pile up faster
   * than the store answers them, as the ring holds a bidder. Optional: without it the hub's
   * bound answers the excess ERROR LIMIT instead.
   */
  holdRequests?(): void;
  releaseRequests?(): void;
}

/** Called after frames were queued on a subscriber: write it at the end of this tick. */
export type MarkDirty<S extends Subscriber> = (subscriber: S) => void;
