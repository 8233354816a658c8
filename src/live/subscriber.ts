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
}

/** Called after frames were queued on a subscriber: write it at the end of this tick. */
export type MarkDirty<S extends Subscriber> = (subscriber: S) => void;
