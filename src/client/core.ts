// The client engine, one for every transport (transport.ts): framing (FrameAssembler), request
// correlation by `req` (requests.ts), a bounded write queue (write-queue.ts), subscriptions
// that resume from their last seq (subscription.ts), reconnect with backoff (reconnect.ts) and
// keepalive (keepalive.ts). See docs/protocol.md and docs/sdk.md.
// Requests made in the same tick are encoded into one buffer and leave in one write.
// Subscriptions see their frames synchronously, in the order they were read.
// No Bun, Node or DOM API here: this file runs in browsers, Node and Bun alike.

import { FrameAssembler } from "../protocol/assembler.ts";
import { firstBidStored } from "../protocol/resubmission.ts";
import {
  decodeFrame,
  encodeAuth,
  encodeBid,
  encodeMaxBid,
  encodePing,
  encodeQuery,
  encodeSubscribe,
  encodeUnsubscribe,
  Fit,
  type Frame,
  serverFrameFit,
} from "../protocol/codec.ts";
import {
  BID_FRAME_SIZE,
  ErrorCode,
  FrameType,
  HEADER_SIZE,
  MAX_FRAME,
  NO_REPLAY,
  PayloadLength,
  type Phase,
  type Status,
} from "../protocol/constants.ts";
import { phaseName, statusName } from "../protocol/names.ts";
import { GavelBackpressureError, GavelConnectionError, GavelError, GavelProtocolError } from "./errors.ts";
import { DEFAULT_KEEPALIVE_MS, Keepalive, type KeepaliveOptions } from "./keepalive.ts";
import { reconnectPolicy, Reconnector, type ReconnectOptions, type ReconnectPolicy } from "./reconnect.ts";
import { PendingRequests, type ReplyType } from "./requests.ts";
import { AuctionSubscription, DEFAULT_MAX_BUFFERED_EVENTS, type SubscriptionLink } from "./subscription.ts";
import type { Transport, TransportFactory } from "./transport.ts";
import { WriteQueue } from "./write-queue.ts";

/**
 * Default bound on bytes waiting to be written (the server is slow to read). About 380,000
 * BIDs; past it, requests reject with GavelBackpressureError rather than grow memory.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** How long `close()` waits for the server to close its side before cutting the connection. */
export const CLOSE_TIMEOUT_MS = 1_000;

/** The write buffer's starting size; it doubles as needed up to the queue bound. */
const INITIAL_WRITE_BUFFER = 16 * 1024;
const MAX_U32 = 0xffff_ffff;
/** Amounts travel as u64; the client sends any integer that fits and lets the server judge it. */
const U64_LIMIT = 2 ** 64;
/** ERROR codes after which the server closes the connection. */
const CLOSING_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.MALFORMED,
  ErrorCode.TOO_MANY_CONNECTIONS,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.RESET,
]);

/** What the engine needs, whatever carries its bytes. */
export interface CoreOptions {
  /** How to reach the server (transports/: Bun TCP, node:net, WebSocket). */
  transport: TransportFactory;
  /** Bound on unwritten bytes; defaults to {@link DEFAULT_MAX_QUEUED_BYTES}. */
  maxQueuedBytes?: number;
  /**
   * Re-open the connection when it drops (not after {@link ClientCore.close}), re-send AUTH
   * and resume every subscription from its last seq. `true` takes the defaults. Off by default:
   * the connection's end is then final, as {@link ClientCore.closed} reports.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Events a subscription holds for a loop that is behind; at the bound the client stops
   * reading until the loop has taken half. Defaults to {@link DEFAULT_MAX_BUFFERED_EVENTS}.
   */
  maxBufferedEvents?: number;
  /**
   * PING the server every `intervalMs` (default 60 s) while subscribed, or always, so that the
   * server's idle limit (GAVEL_IDLE_MS) does not close a connection that only listens. `false`
   * turns it off; a number is the interval.
   */
  keepalive?: boolean | number | KeepaliveOptions;
}

/** A RESULT: the bid's status and the auction's highest bid and bidder after it. */
export interface BidResult {
  status: Status;
  /**
   * The status's name in the contract: "ACCEPTED", "OUTBID", ... Set on every result the
   * client returns (a getter, so it stays out of logs and equality checks of the wire fields).
   */
  readonly statusName?: string;
  auction: number;
  amount: number;
  leader: number;
}

/** A STATE: the auction as the server saw it when answering QUERY or SUBSCRIBE. */
export interface AuctionSnapshot {
  auction: number;
  phase: Phase;
  /** The phase's name in the contract: "UNKNOWN", "SCHEDULED", "OPEN", "CLOSED" (a getter, always set). */
  readonly phaseName?: string;
  seq: number;
  amount: number;
  leader: number;
  /** Closing time, ms since the Unix epoch. */
  endsAt: number;
}

/** A frame the server pushes to subscribers: UPDATE (an accepted bid) or CLOSED. */
export type PushFrame = Extract<Frame, { type: typeof FrameType.UPDATE | typeof FrameType.CLOSED }>;
export type PushListener = (frame: PushFrame) => void;
/** Receives ERROR frames tied to no pending request (`req` 0 or unknown). */
export type ErrorListener = (error: GavelError) => void;
/** Told why the connection dropped, when `reconnect` is about to re-open it. */
export type DisconnectListener = (reason: Error) => void;

/** A RESULT as returned: the wire's fields as own properties, the status's name on the prototype. */
class NamedBidResult implements BidResult {
  constructor(
    public status: Status,
    public auction: number,
    public amount: number,
    public leader: number,
  ) {}

  get statusName(): string {
    return statusName(this.status) ?? `STATUS_${this.status}`;
  }
}

/** A STATE as returned: the wire's fields as own properties, the phase's name on the prototype. */
class NamedSnapshot implements AuctionSnapshot {
  constructor(
    public auction: number,
    public phase: Phase,
    public seq: number,
    public amount: number,
    public leader: number,
    public endsAt: number,
  ) {}

  get phaseName(): string {
    return phaseName(this.phase) ?? `PHASE_${this.phase}`;
  }
}

/**
 * A connection to a Gavel server speaking the binary bid protocol, over any transport;
 * {@link GavelClient} (client.ts) is this engine over TCP, chosen for the runtime.
 *
 * Every method may be called many times without awaiting: requests are pipelined and replies
 * are matched by `req`. A request rejects with {@link GavelError} when the server answers it
 * with ERROR, and with {@link GavelConnectionError} when the connection closes first.
 *
 * With the `reconnect` option the client outlives its connection: when it drops, pending
 * requests reject with GavelConnectionError (a bid among them may still have been applied),
 * requests made while it is down reject at once, and the client connects again with backoff,
 * re-sends AUTH and resumes every {@link subscribe} from the last seq it delivered.
 *
 * @example
 * ```ts
 * const client = await ClientCore.connect({ transport: webSocketTransport("ws://127.0.0.1:7401/ws") });
 * const result = await client.bid(7, 42, 15_050);
 * if (result.statusName === "ACCEPTED") console.log("leading at", result.amount);
 * await client.close();
 * ```
 */
export class ClientCore {
  /**
   * Resolves once the connection has closed for good: with null after {@link close}, otherwise
   * with why (a {@link GavelError} when the server said why, e.g. MALFORMED or SHUTTING_DOWN).
   * With `reconnect`, only {@link close} or giving up (`maxAttempts`) ends it. Never rejects.
   */
  readonly closed: Promise<Error | null>;

  private transport: Transport | undefined;
  private assembler: FrameAssembler;
  private readonly requests = new PendingRequests();
  private readonly queue: WriteQueue;
  private flushScheduled = false;

  /** Closed for good: no reconnect follows. */
  private isClosed = false;
  private closedByUser = false;
  /** Set when the server or the client says why before the connection closes. */
  private closeReason: Error | undefined;
  private resolveClosed!: (reason: Error | null) => void;

  /** Between a drop and the next connection (only with `reconnect`). */
  private reconnecting = false;
  /** A connection was up once: only then does a drop mean "reconnect" rather than "failed". */
  private attachedOnce = false;
  /** Counts connections: events of an earlier one are ignored. */
  private generation = 0;
  /** Why the current connection is about to drop (an ERROR that closes it). */
  private lossReason: Error | undefined;
  private reconnector: Reconnector | undefined;
  /** The token of the last accepted AUTH, re-sent after a reconnect. */
  private authToken: string | undefined;
  private readonly keepalive: Keepalive | undefined;

  /** Live subscriptions by auction (the server holds one per connection and auction). */
  private readonly subscriptions = new Map<number, AuctionSubscription>();
  /** Subscriptions whose buffer is full; reading is paused while any is. */
  private fullSubscriptions = 0;
  private readonly link: SubscriptionLink = {
    resubscribe: (subscription, since) => this.sendSubscribe(subscription, since),
    release: (subscription) => this.release(subscription),
    backpressure: (_subscription, full) => this.backpressure(full),
  };

  private readonly pushListeners: PushListener[] = [];
  private readonly errorListeners: ErrorListener[] = [];
  private readonly disconnectListeners: DisconnectListener[] = [];
  private readonly reconnectListeners: (() => void)[] = [];

  private readonly factory: TransportFactory;
  private readonly maxBufferedEvents: number;
  private readonly reconnect: ReconnectPolicy | null;

  protected constructor(options: CoreOptions) {
    this.factory = options.transport;
    this.queue = new WriteQueue(INITIAL_WRITE_BUFFER, options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES);
    this.maxBufferedEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.reconnect = reconnectPolicy(options.reconnect);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.assembler = this.newAssembler();
    const keepalive = keepaliveOptions(options.keepalive);
    if (keepalive !== null) {
      const always = keepalive.always ?? false;
      this.keepalive = new Keepalive(
        keepalive.intervalMs ?? DEFAULT_KEEPALIVE_MS,
        () => this.connected && (always || this.subscriptions.size > 0),
        () => void this.ping().catch(() => {}), // a lost connection is reported elsewhere
      );
    }
  }

  /**
   * Opens a connection over the given transport. The first connection must succeed (it
   * rejects with GavelConnectionError otherwise); `reconnect` covers later drops.
   *
   * @example
   * ```ts
   * const client = await ClientCore.connect({ transport: webSocketTransport(url), reconnect: true });
   * ```
   */
  static connect(options: CoreOptions): Promise<ClientCore> {
    return ClientCore.start(new ClientCore(options));
  }

  /** Makes the first connection of a client just constructed. */
  protected static async start<T extends ClientCore>(client: T): Promise<T> {
    try {
      await client.open();
    } catch (error) {
      client.isClosed = true;
      throw new GavelConnectionError(`cannot connect to ${client.factory.target}`, { cause: error });
    }
    client.keepalive?.start();
    return client;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.requests.size;
  }

  /** True while a connection is up (false while reconnecting and once closed). */
  get connected(): boolean {
    return !this.isClosed && !this.reconnecting && this.transport !== undefined;
  }

  /**
   * Places a bid. Resolves with the RESULT whatever its status (OUTBID, CLOSED, ... are
   * answers, not errors); rejects on ERROR (e.g. UNAUTHENTICATED) or a lost connection.
   * Ids must be u32 and the amount an integer below 2^64 (RangeError otherwise); zero ids and
   * amounts above 2^53-1 are sent, and the server answers INVALID.
   *
   * @example
   * ```ts
   * const { status, amount, leader } = await client.bid(auction, me, 15_050);
   * if (status === Status.OUTBID) console.log(`outbid: ${leader} leads at ${amount}`);
   * ```
   */
  bid(auction: number, user: number, amount: number): Promise<BidResult> {
    const problem =
      checkU32("auction", auction) ?? checkU32("user", user) ?? checkAmount(amount) ?? this.makeRoom(BID_FRAME_SIZE);
    if (problem) return Promise.reject(problem);
    const req = this.requests.take();
    this.queue.tail = encodeBid(this.queue.buffer, this.queue.tail, req, auction, user, amount);
    return this.expect(req, FrameType.RESULT);
  }

  /**
   * Leaves a maximum (proxy bidding, MAX_BID): the server bids for `user`, as little as needed,
   * up to `max`, now and against every later bid, the way eBay's automatic bidding works. The
   * maximum is never disclosed: the RESULT carries the visible price and leader after it.
   * ACCEPTED: `user` leads with this maximum (a leader raising their own maximum gets ACCEPTED
   * with the price unchanged). OUTBID: below the next minimum, or another bidder's maximum is at
   * least as high (a tie goes to the earlier maximum), which then answered: the RESULT shows
   * the price it rose to. Checks and rejections as {@link bid}.
   *
   * @example
   * ```ts
   * const { status, amount, leader } = await client.maxBid(auction, me, 50_000);
   * if (status === Status.ACCEPTED) console.log(`you lead at ${amount}; your maximum stays private`);
   * ```
   */
  maxBid(auction: number, user: number, max: number): Promise<BidResult> {
    const problem = checkU32("auction", auction) ?? checkU32("user", user) ?? checkAmount(max) ?? this.makeRoom(BID_FRAME_SIZE);
    if (problem) return Promise.reject(problem);
    const req = this.requests.take();
    this.queue.tail = encodeMaxBid(this.queue.buffer, this.queue.tail, req, auction, user, max);
    return this.expect(req, FrameType.RESULT);
  }

  /**
   * Settles a bid answered UNCONFIRMED (the server sent it to its store, which did not answer in
   * time: it may or may not be stored) the contract's way: it sends the same bid again. A bid is
   * never applied twice, so the second RESULT tells:
   *
   * - `stored: false`, status ACCEPTED: the first was not stored; this one is, and leads.
   * - `stored: true`, status OUTBID (or CLOSED) with this user leading at this amount: the first
   *   was stored and still leads.
   * - `stored: null`: the RESULT cannot tell. Someone has bid above it since (then the bid does
   *   not lead either way: `result` says who does), or the store again did not answer
   *   (UNCONFIRMED or UNAVAILABLE: try again later). Whether an outbid bid was ever stored is in
   *   the auction's history (SUBSCRIBE with `since` 0, or the admin API's bids).
   *
   * A QUERY alone proves less: a snapshot with this user leading at this amount shows it was
   * stored, but any other snapshot cannot tell "never stored" from "stored, then outbid". Pass
   * the same three values as the first bid; with a proxy maximum (MAX_BID) of the same user on
   * the auction, a lead at this exact amount may be the maximum's doing.
   *
   * @example
   * ```ts
   * let result = await client.bid(7, 42, 15_050);
   * if (result.status === Status.UNCONFIRMED) {
   *   const { stored, result: now } = await client.resolveUnconfirmed(7, 42, 15_050);
   *   if (now.leader === 42) console.log(stored ? "the first bid was stored" : "placed now");
   *   else if (stored === null) console.log(`not leading: ${now.leader} leads at ${now.amount}`);
   *   result = now;
   * }
   * ```
   */
  async resolveUnconfirmed(auction: number, user: number, amount: number): Promise<{ stored: boolean | null; result: BidResult }> {
    const result = await this.bid(auction, user, amount);
    return { stored: firstBidStored(result, user, amount), result };
  }

  /**
   * Reads an auction's current state.
   *
   * @example
   * ```ts
   * const { phase, amount, endsAt } = await client.query(7);
   * ```
   */
  query(auction: number): Promise<AuctionSnapshot> {
    const problem = checkU32("auction", auction) ?? this.makeRoom(HEADER_SIZE + PayloadLength.QUERY);
    if (problem) return Promise.reject(problem);
    const req = this.requests.take();
    this.queue.tail = encodeQuery(this.queue.buffer, this.queue.tail, req, auction);
    return this.expect(req, FrameType.STATE);
  }

  /**
   * Asks for the server's clock (ms since the epoch), the one that closes auctions.
   *
   * @example
   * ```ts
   * const sent = Date.now();
   * const { now } = await client.ping();
   * const offset = now - (sent + Date.now()) / 2;
   * ```
   */
  ping(): Promise<{ now: number }> {
    const problem = this.makeRoom(HEADER_SIZE + PayloadLength.PING);
    if (problem) return Promise.reject(problem);
    const req = this.requests.take();
    this.queue.tail = encodePing(this.queue.buffer, this.queue.tail, req);
    return this.expect(req, FrameType.PONG);
  }

  /**
   * Authenticates the connection with a JWT whose `sub` is the user id. Rejects with a
   * GavelError of code AUTH_FAILED when the server refuses it, and with RangeError when the
   * token is empty or longer than 251 UTF-8 bytes. With `reconnect`, an accepted token is
   * sent again on every new connection, before the subscriptions resume.
   *
   * @example
   * ```ts
   * await client.auth(jwt);
   * ```
   */
  async auth(token: string): Promise<void> {
    await this.sendAuth(token);
    this.authToken = token;
  }

  /**
   * Follows an auction: returns an {@link AuctionSubscription}, an async iterable of typed
   * events — the STATE snapshot as a `state` event, then an `update` per accepted bid, every
   * `seq` once and in order, then `closed`, where iteration ends. With `since` (the last seq
   * you saw), the UPDATEs after it that the server still holds are replayed right after the
   * state event. Seq gaps (a conflated slow subscriber) are repaired by resubscribing with
   * `since`; with `reconnect`, so are dropped connections.
   *
   * One subscription per auction and client: subscribing again to an auction already followed
   * throws, as do ids that are not u32 (RangeError). Problems of the connection end the
   * subscription: its `ready` rejects and the loop throws.
   *
   * @example
   * ```ts
   * const client = await GavelClient.connect({ port: 7400, reconnect: true });
   * const live = client.subscribe(7);
   * await live.ready; // registered: bids from here on are seen
   * for await (const event of live) {
   *   if (event.type === "update") console.log(`#${event.seq}: ${event.leader} bids ${event.amount}`);
   *   if (event.type === "update" && event.amount > 50_000) break; // unsubscribes
   * }
   * ```
   */
  subscribe(auction: number, since: number = NO_REPLAY): AuctionSubscription {
    const problem = checkU32("auction", auction) ?? checkU32("since", since);
    if (problem) throw problem;
    if (this.subscriptions.has(auction)) {
      throw new Error(`already subscribed to auction ${auction} on this client; close that subscription first`);
    }
    const subscription = new AuctionSubscription(auction, since, this.link, this.maxBufferedEvents);
    if (this.isClosed) {
      subscription.finish(this.closeReason ?? new GavelConnectionError("connection closed"));
      return subscription;
    }
    this.subscriptions.set(auction, subscription);
    this.sendSubscribe(subscription, since);
    return subscription;
  }

  /**
   * Stops the pushes of an auction, ending its {@link AuctionSubscription} if there is one;
   * resolves on the server's OK.
   *
   * @example
   * ```ts
   * await client.unsubscribe(7);
   * ```
   */
  unsubscribe(auction: number): Promise<void> {
    const problem = checkU32("auction", auction) ?? this.makeRoom(HEADER_SIZE + PayloadLength.UNSUBSCRIBE);
    const subscription = this.subscriptions.get(auction);
    if (subscription !== undefined) {
      this.subscriptions.delete(auction);
      void subscription.close(); // forgotten above, so it sends nothing itself
    }
    if (problem) return Promise.reject(problem);
    const req = this.requests.take();
    this.queue.tail = encodeUnsubscribe(this.queue.buffer, this.queue.tail, req, auction);
    return this.expect(req, FrameType.OK);
  }

  /**
   * Registers a listener for every pushed UPDATE and CLOSED frame, as it arrives (replays
   * and duplicates included: the raw wire, beneath {@link subscribe}'s ordering); returns a
   * function that removes it. Listeners run synchronously as frames are read; one that throws
   * does not stop the rest.
   *
   * @example
   * ```ts
   * const stop = client.onPush((push) => console.log(push));
   * stop();
   * ```
   */
  onPush(listener: PushListener): () => void {
    return addListener(this.pushListeners, listener);
  }

  /**
   * Registers a listener for ERROR frames tied to no pending request: `req` 0 (MALFORMED,
   * UNKNOWN_TYPE, TOO_MANY_CONNECTIONS) or a `req` the client is not waiting on.
   *
   * @example
   * ```ts
   * client.onError((error) => console.warn(error.codeName, error.message));
   * ```
   */
  onError(listener: ErrorListener): () => void {
    return addListener(this.errorListeners, listener);
  }

  /**
   * With `reconnect`: registers a listener told, with the reason, each time the connection
   * drops and a reconnect begins; returns a function that removes it.
   *
   * @example
   * ```ts
   * client.onDisconnect((reason) => banner.show(`reconnecting: ${reason.message}`));
   * client.onReconnect(() => banner.hide());
   * ```
   */
  onDisconnect(listener: DisconnectListener): () => void {
    return addListener(this.disconnectListeners, listener);
  }

  /** With `reconnect`: registers a listener told each time a new connection is up. */
  onReconnect(listener: () => void): () => void {
    return addListener(this.reconnectListeners, listener);
  }

  /**
   * Queues raw bytes on the connection, in order with requests, for tests that send frames
   * the SDK would never build. Replies to them are not correlated; watch {@link onError} and
   * {@link closed}. Throws GavelConnectionError once closed, GavelBackpressureError past the
   * queue bound.
   *
   * @example
   * ```ts
   * client.sendRaw(Uint8Array.of(FrameType.BID, 3, 0, 0, 0)); // server answers MALFORMED and closes
   * console.log(await client.closed);
   * ```
   */
  sendRaw(bytes: Uint8Array): void {
    const problem = this.makeRoom(bytes.length);
    if (problem) throw problem;
    this.queue.buffer.set(bytes, this.queue.tail);
    this.queue.tail += bytes.length;
    this.scheduleFlush();
  }

  /**
   * Closes the connection (and stops reconnecting). Requests still pending reject with
   * GavelConnectionError (a bid among them may still have been applied); requests not yet
   * written are dropped unsent; subscriptions end (their loops finish). Resolves once the
   * socket has closed.
   *
   * @example
   * ```ts
   * await client.close();
   * ```
   */
  async close(): Promise<void> {
    if (!this.isClosed) {
      this.closedByUser = true;
      // Keep a reason the server already gave (an ERROR before its close) for later requests.
      this.closeReason ??= new GavelConnectionError("closed by the client");
      this.shutDown();
      const transport = this.transport;
      if (transport) {
        transport.end();
        // A peer that never closes its side must not keep us waiting.
        const timer = setTimeout(() => transport.terminate(), CLOSE_TIMEOUT_MS);
        unref(timer);
        void this.closed.then(() => clearTimeout(timer));
      } else {
        this.onClose(undefined);
      }
    }
    await this.closed;
  }

  // ---- connecting ----------------------------------------------------------------------------

  /** Connects over the transport; the connection's events count only while it is the current one. */
  private async open(): Promise<void> {
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    const transport = await this.factory.connect({
      data: (chunk) => {
        if (current()) this.assembler.push(chunk);
      },
      drain: () => {
        if (current() && this.transport !== undefined) this.queue.drained(this.transport);
      },
      error: (error) => {
        if (current()) this.fail(new GavelConnectionError("socket error", { cause: error }));
      },
      close: (error) => {
        if (current()) this.onClose(error);
      },
    });
    if (current() && this.transport === undefined && !this.isClosed) this.attach(transport);
    else transport.terminate();
  }

  /** A new connection is up: on a reconnect, restore AUTH and the subscriptions on it. */
  private attach(transport: Transport): void {
    this.transport = transport;
    this.attachedOnce = true;
    if (this.fullSubscriptions > 0) transport.pause();
    if (!this.reconnecting) {
      this.scheduleFlush(); // anything queued before it was attached
      return;
    }
    this.reconnecting = false;
    if (this.authToken !== undefined) {
      // Before the SUBSCRIBEs, which a server requiring AUTH would refuse otherwise.
      this.sendAuth(this.authToken).catch((error: Error) => {
        if (error instanceof GavelError) emit(this.errorListeners, error);
      });
    }
    for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription, subscription.resumeSince);
    emit(this.reconnectListeners, undefined);
  }

  /** The connection dropped and `reconnect` is on: reset it and start connecting again. */
  private connectionLost(reason: Error): void {
    const transport = this.transport;
    this.generation++; // the dead connection's late events are ignored from here
    this.transport = undefined;
    this.reconnecting = true;
    this.lossReason = undefined;
    this.queue.clear();
    // A frame split across the drop can never be completed.
    this.assembler = this.newAssembler();
    this.requests.rejectAll(new GavelConnectionError("connection lost; reconnecting", { cause: reason }));
    for (const subscription of this.subscriptions.values()) subscription.onDisconnect();
    transport?.terminate();
    emit(this.disconnectListeners, reason);
    void this.reconnectLoop(reason);
  }

  private async reconnectLoop(reason: Error): Promise<void> {
    const reconnector = new Reconnector(this.reconnect!);
    this.reconnector = reconnector;
    // Once its `open` has run, that connection is the current one; a later drop starts anew.
    const outcome = await reconnector.run(() => this.open(), reason);
    if (this.reconnector === reconnector) this.reconnector = undefined;
    if (outcome.kind !== "gave-up" || this.isClosed) return;
    this.closeReason ??= new GavelConnectionError(
      `cannot reconnect to ${this.factory.target} after ${this.reconnect!.maxAttempts} attempts`,
      { cause: outcome.lastError },
    );
    this.shutDown();
    this.onClose(undefined);
  }

  private newAssembler(): FrameAssembler {
    return new FrameAssembler((type, bytes, payload, length) => this.receive(type, bytes, payload, length));
  }

  // ---- subscriptions -------------------------------------------------------------------------

  /** SUBSCRIBE for a subscription; while reconnecting it waits for the new connection. */
  private sendSubscribe(subscription: AuctionSubscription, since: number): void {
    if (this.reconnecting) return; // attach() resubscribes everything
    const problem = this.makeRoom(HEADER_SIZE + PayloadLength.SUBSCRIBE);
    if (problem) {
      this.endSubscription(subscription, problem);
      return;
    }
    const req = this.requests.take();
    this.queue.tail = encodeSubscribe(this.queue.buffer, this.queue.tail, req, subscription.auction, since);
    const live = () => this.subscriptions.get(subscription.auction) === subscription;
    // Settled synchronously as the STATE is read, so it is in order with the pushes around it.
    this.requests.add(req, {
      expect: FrameType.STATE,
      resolve: (value) => {
        const s = value as AuctionSnapshot;
        if (live()) subscription.onState(s.phase, s.seq, s.amount, s.leader, s.endsAt);
      },
      reject: (error) => {
        // A dropped connection is the reconnect's business (or ends everything without it).
        if (!live() || !(error instanceof GavelError)) return;
        if (this.reconnect !== null && error.code === ErrorCode.SHUTTING_DOWN) return; // resubscribed on the next server
        if (this.reconnect !== null && error.code === ErrorCode.UNAVAILABLE) {
          // The server's store is away for a moment: ask again.
          const retry = setTimeout(() => {
            if (live()) this.sendSubscribe(subscription, subscription.resumeSince);
          }, this.reconnect.delayMs);
          unref(retry);
          return;
        }
        this.endSubscription(subscription, error);
      },
    });
    this.scheduleFlush();
  }

  private endSubscription(subscription: AuctionSubscription, error: Error): void {
    if (this.subscriptions.get(subscription.auction) === subscription) this.subscriptions.delete(subscription.auction);
    subscription.finish(error);
  }

  /** The subscription is done: forget it and tell the server, if there is one to tell. */
  private release(subscription: AuctionSubscription): Promise<void> {
    if (this.subscriptions.get(subscription.auction) !== subscription) return Promise.resolve();
    this.subscriptions.delete(subscription.auction);
    if (!this.connected) return Promise.resolve();
    return this.unsubscribe(subscription.auction).catch(() => {});
  }

  /**
   * A subscription's buffer filled (or drained): reading stops while any is full. Full happens
   * while a frame is handed out, so the assembler stops right there (keeping the rest of the
   * read as bytes) and the transport stops reading: the kernel, then the server, hold the rest;
   * the server conflates it if it must, and the seq jump is repaired by a replay.
   */
  private backpressure(full: boolean): void {
    this.fullSubscriptions += full ? 1 : -1;
    if (full && this.fullSubscriptions === 1) {
      this.assembler.suspend();
      this.transport?.pause();
    } else if (!full && this.fullSubscriptions === 0) {
      // Not from inside the loop's next(): the frames resumed here may fill a buffer again.
      queueMicrotask(() => {
        if (this.fullSubscriptions > 0 || this.isClosed) return;
        this.transport?.resume();
        this.assembler.resume();
      });
    }
  }

  private sendAuth(token: string): Promise<void> {
    const problem = this.makeRoom(MAX_FRAME);
    if (problem) return Promise.reject(problem);
    const req = this.requests.take();
    try {
      this.queue.tail = encodeAuth(this.queue.buffer, this.queue.tail, req, token);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.expect(req, FrameType.OK);
  }

  // ---- requests and writing ------------------------------------------------------------------

  /** Registers the request just encoded and makes sure it gets written this tick. */
  private expect<T>(req: number, reply: ReplyType): Promise<T> {
    const promise = this.requests.wait<T>(req, reply);
    this.scheduleFlush();
    return promise;
  }

  /** Ensures `size` more bytes fit in the write queue, or says why they may not be queued. */
  private makeRoom(size: number): Error | undefined {
    if (this.isClosed) return this.closeReason ?? new GavelConnectionError("connection closed");
    if (this.reconnecting) return new GavelConnectionError("not connected: reconnecting");
    if (this.queue.reserve(size)) return undefined;
    return new GavelBackpressureError(`write queue full: ${this.queue.queued} bytes unwritten, bound ${this.queue.maxBytes}`);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (!this.isClosed && this.transport !== undefined) this.queue.flush(this.transport);
  };

  // ---- reading -------------------------------------------------------------------------------

  private receive(type: number, bytes: Uint8Array, payload: number, length: number): boolean {
    const fit = serverFrameFit(type, length);
    if (fit === Fit.MALFORMED) {
      this.fail(new GavelProtocolError(`server sent frame type ${type} with a payload of ${length} bytes`));
      return false;
    }
    // A type this client does not know (a newer server): skip it, as servers do.
    if (fit === Fit.UNKNOWN_TYPE) return true;

    const frame = decodeFrame(type, bytes, payload, length)!;
    switch (frame.type) {
      case FrameType.UPDATE: {
        emit(this.pushListeners, frame);
        this.subscriptions.get(frame.auction)?.onUpdate(frame.seq, frame.amount, frame.leader, frame.endsAt);
        return true;
      }
      case FrameType.CLOSED: {
        emit(this.pushListeners, frame);
        this.subscriptions.get(frame.auction)?.onClosed(frame.seq, frame.winner, frame.amount);
        return true;
      }
      case FrameType.ERROR:
        this.receiveError(new GavelError(frame.code, frame.message, frame.req));
        return true;
      case FrameType.RESULT:
        this.requests.settle(frame.req, frame.type, new NamedBidResult(frame.status as Status, frame.auction, frame.amount, frame.leader));
        return true;
      case FrameType.STATE:
        this.requests.settle(
          frame.req,
          frame.type,
          new NamedSnapshot(frame.auction, frame.phase as Phase, frame.seq, frame.amount, frame.leader, frame.endsAt),
        );
        return true;
      case FrameType.PONG:
        this.requests.settle(frame.req, frame.type, { now: frame.now });
        return true;
      case FrameType.OK:
        this.requests.settle(frame.req, frame.type, undefined);
        return true;
      default:
        // serverFrameFit admits only server types, all handled above.
        return true;
    }
  }

  private receiveError(error: GavelError): void {
    if (error.req !== 0) {
      if (this.requests.fail(error.req, error)) return;
    } else if (CLOSING_ERRORS.has(error.code)) {
      // The server is about to close and will answer nothing more: say why now.
      if (this.reconnect === null) this.closeReason ??= error;
      else this.lossReason ??= error;
      this.requests.rejectAll(error);
    }
    // UNKNOWN_TYPE and the like leave the connection and its pending requests alone: the
    // server skipped one frame and still answers the rest.
    emit(this.errorListeners, error);
  }

  // ---- closing -------------------------------------------------------------------------------

  /** The client cannot go on with this connection (bad bytes, socket error). */
  private fail(reason: Error): void {
    if (this.isClosed || this.reconnecting) return;
    if (this.willReconnect) {
      this.connectionLost(reason);
      return;
    }
    this.closeReason ??= reason;
    this.shutDown();
    if (this.transport) this.transport.terminate();
    else this.onClose(undefined);
  }

  /** A drop now is followed by a reconnect. */
  private get willReconnect(): boolean {
    return this.reconnect !== null && !this.closedByUser && this.attachedOnce;
  }

  /** Closed for good: refuses new requests, drops unwritten bytes, ends what is pending. */
  private shutDown(): void {
    this.isClosed = true;
    this.reconnecting = false;
    this.queue.clear();
    this.keepalive?.stop();
    this.reconnector?.cancel();
    const reason = this.closeReason ?? new GavelConnectionError("connection closed");
    this.requests.rejectAll(reason);
    const subscriptions = [...this.subscriptions.values()];
    this.subscriptions.clear();
    // Closed by the caller: loops end now. Lost: they end with the reason, after what was received.
    for (const subscription of subscriptions) {
      if (this.closedByUser) void subscription.close();
      else subscription.finish(reason);
    }
  }

  private onClose(error: Error | undefined): void {
    // A reconnect attempt that never opened: its loop sees the failure and tries again.
    if (this.reconnecting && !this.isClosed) return;
    if (!this.isClosed) {
      const reason =
        this.lossReason ??
        (error
          ? new GavelConnectionError("connection lost", { cause: error })
          : new GavelConnectionError("connection closed by the server"));
      if (this.willReconnect) {
        this.connectionLost(reason);
        return;
      }
      this.closeReason ??= reason;
      this.shutDown();
    }
    this.resolveClosed(this.closedByUser ? null : this.closeReason!);
  }
}

/** `reportError` where there is one (Bun, browsers); Node 20 lacks it: an uncaught throw instead. */
function report(error: unknown): void {
  const reportError = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (reportError !== undefined) reportError(error);
  else
    queueMicrotask(() => {
      throw error;
    });
}

function keepaliveOptions(option: CoreOptions["keepalive"]): KeepaliveOptions | null {
  if (option === false) return null;
  if (option === undefined || option === true) return {};
  if (typeof option === "number") return { intervalMs: option };
  return option;
}

/** Timers of Node and Bun can be told not to keep the process alive; a browser's cannot. */
function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

function checkU32(name: string, value: number): RangeError | undefined {
  if (Number.isInteger(value) && value >= 0 && value <= MAX_U32) return undefined;
  return new RangeError(`${name} must be an integer in 0..${MAX_U32}, got ${value}`);
}

function checkAmount(value: number): RangeError | undefined {
  if (Number.isInteger(value) && value >= 0 && value < U64_LIMIT) return undefined;
  return new RangeError(`amount must be a non-negative integer below 2^64, got ${value}`);
}

function addListener<T>(listeners: T[], listener: T): () => void {
  listeners.push(listener);
  return () => {
    const index = listeners.indexOf(listener);
    if (index >= 0) listeners.splice(index, 1);
  };
}

/**
 * Calls every listener. One that throws goes to `reportError` (an uncaught exception, as from
 * any event handler) after the others have run, so that it cannot cut the read loop short and
 * lose the frames behind it.
 */
function emit<T>(listeners: ((value: T) => void)[], value: T): void {
  for (const listener of listeners.slice()) {
    try {
      listener(value);
    } catch (error) {
      report(error);
    }
  }
}
