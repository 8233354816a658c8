// A live view of one auction for the SDK: the typed events a subscriber iterates, and the rules
// that turn the wire's STATE, UPDATE and CLOSED frames into "every seq once, in order" across
// replays, reconnects and the seq jumps of a conflated subscriber. See docs/protocol.md.

import { NO_REPLAY, Phase } from "../protocol/constants.ts";
import { GavelConnectionError } from "./errors.ts";

/** The auction as the server saw it when the subscription started (the STATE snapshot). */
export interface StateEvent {
  type: "state";
  auction: number;
  phase: Phase;
  seq: number;
  amount: number;
  leader: number;
  /** Closing time, ms since the Unix epoch. */
  endsAt: number;
}

/** An accepted bid: `seq` is one more than the previous event's. */
export interface UpdateEvent {
  type: "update";
  auction: number;
  seq: number;
  amount: number;
  leader: number;
  /** Closing time after this bid (anti-sniping moves it). */
  endsAt: number;
}

/** The auction closed; `winner` and `amount` are 0 when nothing sold. Always the last event. */
export interface ClosedEvent {
  type: "closed";
  auction: number;
  /** The auction's final seq. */
  seq: number;
  winner: number;
  amount: number;
}

export type AuctionEvent = StateEvent | UpdateEvent | ClosedEvent;

/** What a subscription needs from the connection it rides on (GavelClient provides it). */
export interface SubscriptionLink {
  /** Sends SUBSCRIBE with this `since` now, or once connected again. */
  resubscribe(subscription: AuctionSubscription, since: number): void;
  /** Forgets the subscription and tells the server (UNSUBSCRIBE); never rejects. */
  release(subscription: AuctionSubscription): Promise<void>;
  /** The consumer is `maxBuffered` events behind (true) or caught up to half of it (false). */
  backpressure(subscription: AuctionSubscription, full: boolean): void;
}

/** Events held for a consumer that does not keep up; past this the connection stops reading. */
export const DEFAULT_MAX_BUFFERED_EVENTS = 4_096;
/** Compact the event queue once this many taken events lie at its front. */
const QUEUE_COMPACT_AT = 1_024;

type Waiter = { resolve: (result: IteratorResult<AuctionEvent>) => void; reject: (error: Error) => void };

/**
 * One auction's live events, from {@link GavelClient.subscribe}: an async iterable that yields
 * a `state` event (the snapshot), then an `update` per accepted bid, each `seq` exactly once and
 * in order, then a `closed` event, after which iteration ends. Replayed UPDATEs (with `since`)
 * come right after the state event, before live ones.
 *
 * Behind the scenes it repairs what the wire may lose: a seq jump (the server conflated a slow
 * subscriber) makes it resubscribe with `since` = the last seq it holds, and the replay fills
 * the gap; with `reconnect` set on the client, a dropped connection is re-opened and the
 * subscription resumes the same way. Duplicates from overlapping replays are dropped.
 *
 * Iterate it once. Breaking out of the loop (or {@link close}) unsubscribes. Events wait in a
 * bounded buffer when the loop is slower than the auction; when it is full the client stops
 * reading its socket until the loop catches up (the server then conflates, and the gap is
 * replayed), so a subscription that is never iterated must be closed.
 *
 * @example
 * ```ts
 * const client = await GavelClient.connect({ port: 7400, reconnect: true });
 * for await (const event of client.subscribe(7)) {
 *   if (event.type === "state") render(event.amount, event.leader, event.endsAt);
 *   else if (event.type === "update") render(event.amount, event.leader, event.endsAt);
 *   else console.log(event.winner ? `sold to ${event.winner} for ${event.amount}` : "no sale");
 * }
 * ```
 */
export class AuctionSubscription implements AsyncIterable<AuctionEvent>, AsyncIterator<AuctionEvent> {
  /**
   * Resolves with the first STATE, once the server has registered the subscription (bids sent
   * after it are seen); rejects if the subscription ends before that (an ERROR such as
   * UNAUTHENTICATED, a lost connection without `reconnect`, or {@link close}).
   */
  readonly ready: Promise<StateEvent>;

  /** `since` for the next SUBSCRIBE until the first STATE is in. */
  private readonly initialSince: number;
  /** Highest seq handed to the queue; -1 before the first STATE. */
  private seq = -1;
  /** A state event with a known auction was delivered (an UNKNOWN one later means it was lost). */
  private known = false;
  /** A SUBSCRIBE is on its way: frames that do not follow on are left to its replay. */
  private awaiting = true;
  private ended = false;
  private failure: Error | null = null;
  private readonly queue: AuctionEvent[] = [];
  private head = 0;
  private readonly waiters: Waiter[] = [];
  private full = false;
  private resolveReady!: (state: StateEvent) => void;
  private rejectReady!: (error: Error) => void;
  private closing: Promise<void> | null = null;

  /** @internal Made by GavelClient.subscribe. */
  constructor(
    readonly auction: number,
    since: number,
    private readonly link: SubscriptionLink,
    private readonly maxBuffered: number = DEFAULT_MAX_BUFFERED_EVENTS,
  ) {
    this.initialSince = since;
    this.ready = new Promise<StateEvent>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Whoever only iterates learns of failures there; `ready` must not count as unhandled.
    this.ready.catch(() => {});
  }

  /** The last seq delivered (resubscribes resume after it); -1 before the snapshot. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Events received and not yet taken by the loop. */
  get buffered(): number {
    return this.queue.length - this.head;
  }

  /** True once iteration is over (closed event taken, {@link close}, or a failure). */
  get done(): boolean {
    return this.ended && this.buffered === 0;
  }

  /** The `since` a (re)subscription asks for: after the last seq held, or the caller's. */
  get resumeSince(): number {
    return this.seq < 0 ? this.initialSince : this.seq;
  }

  /**
   * Stops the subscription: the loop ends (events not yet taken are dropped) and the server is
   * told. Resolves once it answered or the connection is gone. Safe to call more than once.
   *
   * @example
   * ```ts
   * const live = client.subscribe(7);
   * setTimeout(() => void live.close(), 60_000);
   * for await (const event of live) show(event);
   * ```
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.queue.length = 0;
    this.head = 0;
    this.finish(null);
    this.closing = this.link.release(this);
    return this.closing;
  }

  [Symbol.asyncIterator](): AsyncIterator<AuctionEvent> {
    return this;
  }

  next(): Promise<IteratorResult<AuctionEvent>> {
    if (this.head < this.queue.length) return Promise.resolve({ value: this.take(), done: false });
    if (this.ended) {
      const failure = this.failure;
      if (failure !== null) {
        this.failure = null; // thrown once; iterating again just ends
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * `break` (or `return`) in a for-await loop lands here: unsubscribe. The loop goes on at
   * once; `close()` returns the same promise for whoever wants to wait for the server's OK.
   */
  return(): Promise<IteratorResult<AuctionEvent>> {
    void this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  // ---- from the connection (GavelClient) -----------------------------------------------------

  /** @internal The STATE answering this subscription's latest SUBSCRIBE. */
  onState(phase: Phase, seq: number, amount: number, leader: number, endsAt: number): void {
    if (this.ended) return;
    this.awaiting = false;
    const state: StateEvent = { type: "state", auction: this.auction, phase, seq, amount, leader, endsAt };
    if (this.seq < 0) {
      // The replay asked for (if any) brings since+1 .. seq next.
      const since = this.initialSince;
      this.seq = since !== NO_REPLAY && since < seq ? since : seq;
      this.known = phase !== Phase.UNKNOWN;
      this.deliver(state);
      this.resolveReady(state);
      return;
    }
    // A resubscribe: the replay continues from our last seq, unless the server went back (a
    // store without durability restarted), when the consumer needs the new picture.
    if (seq < this.seq || (phase === Phase.UNKNOWN && this.known)) {
      this.seq = seq;
      this.known = phase !== Phase.UNKNOWN;
      this.deliver(state);
    }
  }

  /** @internal An UPDATE for this auction. */
  onUpdate(seq: number, amount: number, leader: number, endsAt: number): void {
    if (this.ended || this.seq < 0 || seq <= this.seq) return; // before the snapshot, or seen
    if (seq === this.seq + 1) {
      this.seq = seq;
      this.deliver({ type: "update", auction: this.auction, seq, amount, leader, endsAt });
      return;
    }
    // A gap: the pending SUBSCRIBE's replay will bring it; otherwise ask for one.
    if (!this.awaiting) this.repair();
  }

  /** @internal A CLOSED for this auction. */
  onClosed(seq: number, winner: number, amount: number): void {
    // While a SUBSCRIBE is pending, its answer ends with the CLOSED again, after the replay.
    if (this.ended || this.seq < 0 || this.awaiting) return;
    if (seq > this.seq) {
      this.repair(); // UPDATEs before it are missing
      return;
    }
    this.deliver({ type: "closed", auction: this.auction, seq, winner, amount });
    this.finish(null);
    // Nothing more will come: free the auction on both sides (a later close() is a no-op).
    this.closing = this.link.release(this);
  }

  /** @internal The connection dropped and is being re-opened: a resubscribe will follow. */
  onDisconnect(): void {
    this.awaiting = true;
  }

  /**
   * @internal Ends the subscription: with `error`, the loop throws it after the events already
   * received; with null it just ends.
   */
  finish(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.full) {
      this.full = false;
      this.link.backpressure(this, false);
    }
    if (this.seq < 0) this.rejectReady(error ?? new GavelConnectionError("the subscription ended before the server answered"));
    if (this.buffered > 0) return;
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) {
      if (this.failure !== null) {
        waiter.reject(this.failure);
        this.failure = null;
      } else {
        waiter.resolve({ value: undefined, done: true });
      }
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  private repair(): void {
    this.awaiting = true;
    this.link.resubscribe(this, this.seq);
  }

  private deliver(event: AuctionEvent): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (!this.full && this.buffered >= this.maxBuffered) {
      this.full = true;
      this.link.backpressure(this, true);
    }
  }

  private take(): AuctionEvent {
    const event = this.queue[this.head]!;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= QUEUE_COMPACT_AT) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.full && this.buffered <= this.maxBuffered / 2) {
      this.full = false;
      this.link.backpressure(this, false);
    }
    return event;
  }
}
