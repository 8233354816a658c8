// The TypeScript client SDK over Bun TCP; see docs/protocol.md.
// Requests are pipelined: each gets a `req` from a wrapping u32 counter and a pending promise;
// replies, which may come in any order, are matched by `req`. Requests made in the same tick
// are encoded into one per-client buffer and leave in one socket write. Subscriptions
// (subscription.ts) see their frames synchronously, in the order they were read; with
// `reconnect`, a dropped connection is re-opened and every subscription resumes from its seq.

import type { Socket } from "bun";

import { FrameAssembler } from "../protocol/assembler.ts";
import { firstBidStored } from "../protocol/resubmission.ts";
import {
  decodeFrame,
  encodeAuth,
  encodeBid,
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
import { GavelBackpressureError, GavelConnectionError, GavelError, GavelProtocolError } from "./errors.ts";
import { AuctionSubscription, DEFAULT_MAX_BUFFERED_EVENTS, type SubscriptionLink } from "./subscription.ts";

/** Where `connect` goes when no host is given. */
export const DEFAULT_HOST = "127.0.0.1";
/**
 * Default bound on bytes waiting to be written (the server is slow to read). About 380,000
 * BIDs; past it, requests reject with GavelBackpressureError rather than grow memory.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** How long `close()` waits for the server to close its side before cutting the connection. */
export const CLOSE_TIMEOUT_MS = 1_000;
/** Reconnect delays start here and double per failed attempt, up to the maximum. */
export const DEFAULT_RECONNECT_DELAY_MS = 100;
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 5_000;

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

export interface ConnectOptions {
  /** Defaults to {@link DEFAULT_HOST}. */
  host?: string;
  port: number;
  /** Bound on unwritten bytes; defaults to {@link DEFAULT_MAX_QUEUED_BYTES}. */
  maxQueuedBytes?: number;
  /**
   * Re-open the connection when it drops (not after {@link GavelClient.close}), re-send AUTH
   * and resume every subscription from its last seq. `true` takes the defaults. Off by default:
   * the connection's end is then final, as {@link GavelClient.closed} reports.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Events a subscription holds for a loop that is behind; at the bound the client stops
   * reading until the loop has taken half. Defaults to {@link DEFAULT_MAX_BUFFERED_EVENTS}.
   */
  maxBufferedEvents?: number;
  /**
   * Connect with TLS (a server with GAVEL_TLS_CERT): `true` trusts the system's CAs; an object
   * can name the CA to trust (PEM), the name to verify (and send as SNI) instead of `host`, or
   * turn verification off. A certificate the client does not trust fails `connect`.
   */
  tls?: boolean | ClientTlsOptions;
}

export interface ClientTlsOptions {
  /** PEM certificate(s) to trust instead of the system's CAs (e.g. a self-signed server's). */
  ca?: string | string[];
  /** Default true. False accepts any certificate: for tests only. */
  rejectUnauthorized?: boolean;
  /** The name the certificate must carry (and the SNI sent); defaults to `host`. */
  serverName?: string;
}

export interface ReconnectOptions {
  /** Delay before the first attempt; doubles per failure. Default {@link DEFAULT_RECONNECT_DELAY_MS}. */
  delayMs?: number;
  /** Cap on the delay. Default {@link DEFAULT_MAX_RECONNECT_DELAY_MS}. */
  maxDelayMs?: number;
  /** Failed attempts in a row before giving up (`closed` then resolves). Default: never give up. */
  maxAttempts?: number;
}

/** A RESULT: the bid's status and the auction's highest bid and bidder after it. */
export interface BidResult {
  status: Status;
  auction: number;
  amount: number;
  leader: number;
}

/** A STATE: the auction as the server saw it when answering QUERY or SUBSCRIBE. */
export interface AuctionSnapshot {
  auction: number;
  phase: Phase;
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

/** The reply type each request waits for. */
type ReplyType = typeof FrameType.RESULT | typeof FrameType.STATE | typeof FrameType.PONG | typeof FrameType.OK;

interface Pending {
  expect: ReplyType;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * A connection to a Gavel server speaking the binary bid protocol.
 *
 * Every method may be called many times without awaiting: requests are pipelined and replies
 * are matched by `req`. A request rejects with {@link GavelError} when the server answers it
 * with ERROR, and with {@link GavelConnectionError} when the connection closes first.
 *
 * With the `reconnect` option the client outlives its TCP connection: when it drops, pending
 * requests reject with GavelConnectionError (a bid among them may still have been applied),
 * requests made while it is down reject at once, and the client connects again with backoff,
 * re-sends AUTH and resumes every {@link subscribe} from the last seq it delivered.
 *
 * @example
 * ```ts
 * const client = await GavelClient.connect({ port: 7070 });
 * const result = await client.bid(7, 42, 15_050);
 * if (result.status === Status.ACCEPTED) console.log("leading at", result.amount);
 *
 * // Pipelined: all three leave in one write, replies may come in any order.
 * const results = await Promise.all([client.bid(7, 42, 16_000), client.bid(7, 42, 17_000), client.ping()]);
 * await client.close();
 * ```
 */
export class GavelClient {
  /**
   * Resolves once the connection has closed for good: with null after {@link close}, otherwise
   * with why (a {@link GavelError} when the server said why, e.g. MALFORMED or SHUTTING_DOWN).
   * With `reconnect`, only {@link close} or giving up (`maxAttempts`) ends it. Never rejects.
   */
  readonly closed: Promise<Error | null>;

  private socket: Socket<undefined> | undefined;
  private assembler: FrameAssembler;
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;

  /** Bytes out[head, tail) are encoded and not yet taken by the socket. */
  private out = new Uint8Array(INITIAL_WRITE_BUFFER);
  private head = 0;
  private tail = 0;
  private flushScheduled = false;
  /** The socket took less than offered; nothing more is written until `drain`. */
  private waitingForDrain = false;

  /** Closed for good: no reconnect follows. */
  private isClosed = false;
  private closedByUser = false;
  /** Set when the server or the client says why before the socket closes. */
  private closeReason: Error | undefined;
  private resolveClosed!: (reason: Error | null) => void;

  /** Between a drop and the next connection (only with `reconnect`). */
  private reconnecting = false;
  /** A connection was up once: only then does a drop mean "reconnect" rather than "failed". */
  private attachedOnce = false;
  /** Counts sockets: events of an earlier one are ignored. */
  private generation = 0;
  /** Why the current connection is about to drop (an ERROR that closes it). */
  private lossReason: Error | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeReconnect: (() => void) | undefined;
  /** The token of the last accepted AUTH, re-sent after a reconnect. */
  private authToken: string | undefined;

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

  private readonly host: string;
  private readonly port: number;
  private readonly maxQueuedBytes: number;
  private readonly maxBufferedEvents: number;
  private readonly reconnect: Required<ReconnectOptions> | null;
  private readonly tls: boolean | ClientTlsOptions;

  private constructor(options: ConnectOptions) {
    this.host = options.host ?? DEFAULT_HOST;
    this.tls = options.tls ?? false;
    this.port = options.port;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.maxBufferedEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    const reconnect = options.reconnect === true ? {} : options.reconnect || null;
    this.reconnect =
      reconnect === null
        ? null
        : {
            delayMs: reconnect.delayMs ?? DEFAULT_RECONNECT_DELAY_MS,
            maxDelayMs: reconnect.maxDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS,
            maxAttempts: reconnect.maxAttempts ?? Number.POSITIVE_INFINITY,
          };
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.assembler = this.newAssembler();
  }

  /**
   * Opens a TCP connection to a Gavel server. The first connection must succeed (it rejects
   * with GavelConnectionError otherwise); `reconnect` covers later drops.
   *
   * @example
   * ```ts
   * const client = await GavelClient.connect({ host: "10.0.0.5", port: 7070 });
   * const live = await GavelClient.connect({ port: 7070, reconnect: { maxDelayMs: 2_000 } });
   * ```
   */
  static async connect(options: ConnectOptions): Promise<GavelClient> {
    const client = new GavelClient(options);
    try {
      await client.open();
    } catch (error) {
      client.isClosed = true;
      throw new GavelConnectionError(`cannot connect to ${client.host}:${client.port}`, { cause: error });
    }
    return client;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** True while a connection is up (false while reconnecting and once closed). */
  get connected(): boolean {
    return !this.isClosed && !this.reconnecting && this.socket !== undefined;
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
    const req = this.takeReq();
    this.tail = encodeBid(this.out, this.tail, req, auction, user, amount);
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
    const req = this.takeReq();
    this.tail = encodeQuery(this.out, this.tail, req, auction);
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
    const req = this.takeReq();
    this.tail = encodePing(this.out, this.tail, req);
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
    const req = this.takeReq();
    this.tail = encodeUnsubscribe(this.out, this.tail, req, auction);
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
    this.out.set(bytes, this.tail);
    this.tail += bytes.length;
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
      const socket = this.socket;
      if (socket) {
        socket.end();
        // A peer that never closes its side must not keep us waiting.
        const timer = setTimeout(() => socket.terminate(), CLOSE_TIMEOUT_MS);
        timer.unref();
        void this.closed.then(() => clearTimeout(timer));
      } else {
        this.onClose(undefined);
      }
    }
    await this.closed;
  }

  // ---- connecting ----------------------------------------------------------------------------

  /** Connects a new socket; its events count only while it is the current one. */
  private async open(): Promise<void> {
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    // With TLS, Bun.connect resolves before the handshake: the socket is attached once the
    // handshake succeeds, and a certificate the client does not trust fails this open().
    const handshake = Promise.withResolvers<void>();
    handshake.promise.catch(() => {}); // settled either way; awaited only with TLS
    const socket = await Bun.connect({
      hostname: this.host,
      port: this.port,
      tls: this.tls,
      socket: {
        binaryType: "uint8array",
        // Attached here, not when `connect` resolves: the server may write (and close) first.
        open: (socket) => {
          if (current() && !this.tls) this.attach(socket);
        },
        handshake: (socket, success, error) => {
          if (!success) {
            handshake.reject(new GavelConnectionError(`TLS handshake failed: ${error?.message}`, { cause: error }));
            socket.terminate();
            return;
          }
          handshake.resolve();
          if (current()) this.attach(socket);
        },
        data: (_socket, chunk: Uint8Array) => {
          if (current()) this.assembler.push(chunk);
        },
        drain: () => {
          if (current()) this.onDrain();
        },
        close: (_socket, error) => {
          handshake.reject(new GavelConnectionError("connection closed before the TLS handshake", { cause: error }));
          if (current()) this.onClose(error);
        },
        error: (_socket, error) => {
          if (current()) this.fail(new GavelConnectionError("socket error", { cause: error }));
        },
      },
    });
    if (this.tls) await handshake.promise;
    if (current() && this.socket === undefined && !this.isClosed) this.attach(socket);
  }

  /** A new socket is up: on a reconnect, restore AUTH and the subscriptions on it. */
  private attach(socket: Socket<undefined>): void {
    if (this.isClosed) {
      socket.terminate();
      return;
    }
    this.socket = socket;
    this.attachedOnce = true;
    if (this.fullSubscriptions > 0) socket.pause();
    if (!this.reconnecting) return;
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
    const socket = this.socket;
    this.generation++; // the dead socket's late events are ignored from here
    this.socket = undefined;
    this.reconnecting = true;
    this.lossReason = undefined;
    this.head = 0;
    this.tail = 0;
    this.waitingForDrain = false;
    // A frame split across the drop can never be completed.
    this.assembler = this.newAssembler();
    this.rejectPending(new GavelConnectionError("connection lost; reconnecting", { cause: reason }));
    for (const subscription of this.subscriptions.values()) subscription.onDisconnect();
    socket?.terminate();
    emit(this.disconnectListeners, reason);
    void this.reconnectLoop(reason);
  }

  private async reconnectLoop(reason: Error): Promise<void> {
    const { delayMs, maxDelayMs, maxAttempts } = this.reconnect!;
    let delay = delayMs;
    let lastError: unknown = reason;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      await new Promise<void>((resolve) => {
        this.wakeReconnect = resolve;
        this.reconnectTimer = setTimeout(resolve, delay);
      });
      this.reconnectTimer = undefined;
      this.wakeReconnect = undefined;
      if (this.isClosed) return;
      try {
        // Once its `open` has run, this socket is the connection; a later drop starts anew.
        await this.open();
        return;
      } catch (error) {
        lastError = error;
      }
      if (this.isClosed) return;
      delay = Math.min(delay * 2, maxDelayMs);
    }
    this.closeReason ??= new GavelConnectionError(`cannot reconnect to ${this.host}:${this.port} after ${maxAttempts} attempts`, {
      cause: lastError,
    });
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
    const req = this.takeReq();
    this.tail = encodeSubscribe(this.out, this.tail, req, subscription.auction, since);
    const live = () => this.subscriptions.get(subscription.auction) === subscription;
    // Settled synchronously as the STATE is read, so it is in order with the pushes around it.
    this.pending.set(req, {
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
          retry.unref();
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
   * read as bytes) and the socket stops reading: the kernel, then the server, hold the rest;
   * the server conflates it if it must, and the seq jump is repaired by a replay.
   */
  private backpressure(full: boolean): void {
    this.fullSubscriptions += full ? 1 : -1;
    if (full && this.fullSubscriptions === 1) {
      this.assembler.suspend();
      this.socket?.pause();
    } else if (!full && this.fullSubscriptions === 0) {
      // Not from inside the loop's next(): the frames resumed here may fill a buffer again.
      queueMicrotask(() => {
        if (this.fullSubscriptions > 0 || this.isClosed) return;
        this.socket?.resume();
        this.assembler.resume();
      });
    }
  }

  private sendAuth(token: string): Promise<void> {
    const problem = this.makeRoom(MAX_FRAME);
    if (problem) return Promise.reject(problem);
    const req = this.takeReq();
    try {
      this.tail = encodeAuth(this.out, this.tail, req, token);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.expect(req, FrameType.OK);
  }

  // ---- requests ------------------------------------------------------------------------------

  /** The next `req`: a u32 that wraps, skipping 0 (ERROR's "no request") and ids still pending. */
  private takeReq(): number {
    let req = this.nextReq;
    while (this.pending.has(req)) req = req === MAX_U32 ? 1 : req + 1;
    this.nextReq = req === MAX_U32 ? 1 : req + 1;
    return req;
  }

  /** Registers the request just encoded and makes sure it gets written this tick. */
  private expect<T>(req: number, reply: ReplyType): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(req, { expect: reply, resolve: resolve as (value: unknown) => void, reject });
    });
    this.scheduleFlush();
    return promise;
  }

  // ---- writing -------------------------------------------------------------------------------
  // Bun's socket.write does not buffer: it takes what the kernel accepts and returns that
  // count. The rest stays in out[head, tail) and is written on `drain`; meanwhile new requests
  // append behind it. The queue is bounded by maxQueuedBytes: past it a request is refused at
  // once instead of growing memory while the server does not read.

  /** Ensures `size` more bytes fit at `tail`, or says why they may not be queued. */
  private makeRoom(size: number): Error | undefined {
    if (this.isClosed) return this.closeReason ?? new GavelConnectionError("connection closed");
    if (this.reconnecting) return new GavelConnectionError("not connected: reconnecting");
    const queued = this.tail - this.head;
    if (queued + size > this.maxQueuedBytes) {
      return new GavelBackpressureError(`write queue full: ${queued} bytes unwritten, bound ${this.maxQueuedBytes}`);
    }
    if (this.tail + size <= this.out.length) return undefined;
    if (this.head > 0) {
      this.out.copyWithin(0, this.head, this.tail);
      this.head = 0;
      this.tail = queued;
    }
    if (this.tail + size > this.out.length) {
      const grown = new Uint8Array(Math.max(this.out.length * 2, this.tail + size));
      grown.set(this.out.subarray(0, this.tail));
      this.out = grown;
    }
    return undefined;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (!this.waitingForDrain) this.write();
  };

  private onDrain(): void {
    this.waitingForDrain = false;
    this.write();
  }

  private write(): void {
    const queued = this.tail - this.head;
    if (queued === 0 || this.isClosed || !this.socket) return;
    const written = this.socket.write(this.out, this.head, queued);
    // -1: the socket is closing; its close handler rejects what is pending.
    if (written < 0) return;
    this.head += written;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else {
      this.waitingForDrain = true;
    }
  }

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
        this.settle(frame.req, frame.type, {
          status: frame.status as Status,
          auction: frame.auction,
          amount: frame.amount,
          leader: frame.leader,
        } satisfies BidResult);
        return true;
      case FrameType.STATE:
        this.settle(frame.req, frame.type, {
          auction: frame.auction,
          phase: frame.phase as Phase,
          seq: frame.seq,
          amount: frame.amount,
          leader: frame.leader,
          endsAt: frame.endsAt,
        } satisfies AuctionSnapshot);
        return true;
      case FrameType.PONG:
        this.settle(frame.req, frame.type, { now: frame.now });
        return true;
      case FrameType.OK:
        this.settle(frame.req, frame.type, undefined);
        return true;
      default:
        // serverFrameFit admits only server types, all handled above.
        return true;
    }
  }

  private settle(req: number, type: ReplyType, value: unknown): void {
    const pending = this.pending.get(req);
    // No such request: nothing times out here, so this is a server bug; dropping the reply
    // keeps the other requests going.
    if (!pending) return;
    this.pending.delete(req);
    if (pending.expect === type) pending.resolve(value);
    else pending.reject(new GavelProtocolError(`req ${req} expected reply type ${pending.expect}, got ${type}`));
  }

  private receiveError(error: GavelError): void {
    if (error.req !== 0) {
      const pending = this.pending.get(error.req);
      if (pending) {
        this.pending.delete(error.req);
        pending.reject(error);
        return;
      }
    } else if (CLOSING_ERRORS.has(error.code)) {
      // The server is about to close and will answer nothing more: say why now.
      if (this.reconnect === null) this.closeReason ??= error;
      else this.lossReason ??= error;
      this.rejectPending(error);
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
    if (this.socket) this.socket.terminate();
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
    this.head = 0;
    this.tail = 0;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.wakeReconnect?.();
    const reason = this.closeReason ?? new GavelConnectionError("connection closed");
    this.rejectPending(reason);
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

  private rejectPending(reason: Error): void {
    if (this.pending.size === 0) return;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(reason);
  }
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
      reportError(error);
    }
  }
}
