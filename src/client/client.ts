// The TypeScript client SDK over Bun TCP; see docs/protocol.md.
// Requests are pipelined: each gets a `req` from a wrapping u32 counter and a pending promise;
// replies, which may come in any order, are matched by `req`. Requests made in the same tick
// are encoded into one per-client buffer and leave in one socket write.

import type { Socket } from "bun";

import { FrameAssembler } from "../protocol/assembler.ts";
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

/** Where `connect` goes when no host is given. */
export const DEFAULT_HOST = "127.0.0.1";
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
]);

export interface ConnectOptions {
  /** Defaults to {@link DEFAULT_HOST}. */
  host?: string;
  port: number;
  /** Bound on unwritten bytes; defaults to {@link DEFAULT_MAX_QUEUED_BYTES}. */
  maxQueuedBytes?: number;
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
   * Resolves once the connection has closed: with null after {@link close}, otherwise with
   * why (a {@link GavelError} when the server said why, e.g. MALFORMED or SHUTTING_DOWN).
   * Never rejects.
   */
  readonly closed: Promise<Error | null>;

  private socket: Socket<undefined> | undefined;
  private readonly assembler: FrameAssembler;
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;

  /** Bytes out[head, tail) are encoded and not yet taken by the socket. */
  private out = new Uint8Array(INITIAL_WRITE_BUFFER);
  private head = 0;
  private tail = 0;
  private flushScheduled = false;
  /** The socket took less than offered; nothing more is written until `drain`. */
  private waitingForDrain = false;

  private isClosed = false;
  private closedByUser = false;
  /** Set when the server or the client says why before the socket closes. */
  private closeReason: Error | undefined;
  private resolveClosed!: (reason: Error | null) => void;

  private readonly pushListeners: PushListener[] = [];
  private readonly errorListeners: ErrorListener[] = [];

  private constructor(private readonly maxQueuedBytes: number) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.assembler = new FrameAssembler((type, bytes, payload, length) => this.receive(type, bytes, payload, length));
  }

  /**
   * Opens a TCP connection to a Gavel server.
   *
   * @example
   * ```ts
   * const client = await GavelClient.connect({ host: "10.0.0.5", port: 7070 });
   * ```
   */
  static async connect(options: ConnectOptions): Promise<GavelClient> {
    const client = new GavelClient(options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES);
    const hostname = options.host ?? DEFAULT_HOST;
    try {
      client.socket = await Bun.connect({
        hostname,
        port: options.port,
        socket: {
          binaryType: "uint8array",
          // Set here too: the server may write (and close) before `connect` resolves.
          open: (socket) => {
            client.socket = socket;
          },
          data: (_socket, chunk: Uint8Array) => {
            client.assembler.push(chunk);
          },
          drain: () => client.onDrain(),
          close: (_socket, error) => client.onClose(error),
          error: (_socket, error) => client.fail(new GavelConnectionError("socket error", { cause: error })),
        },
      });
    } catch (error) {
      throw new GavelConnectionError(`cannot connect to ${hostname}:${options.port}`, { cause: error });
    }
    return client;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
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
   * token is empty or longer than 251 UTF-8 bytes.
   *
   * @example
   * ```ts
   * await client.auth(jwt);
   * ```
   */
  auth(token: string): Promise<void> {
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

  /**
   * Subscribes to an auction's UPDATE and CLOSED pushes and resolves with its STATE. With
   * `since`, the server first replays the UPDATEs with a higher `seq` that it still holds
   * (pass the last `seq` seen when resubscribing). Register {@link onPush} first: replayed
   * UPDATEs may arrive in the same read as the STATE.
   *
   * @example
   * ```ts
   * client.onPush((push) => {
   *   if (push.type === FrameType.UPDATE) render(push.amount, push.leader, push.endsAt);
   *   else showWinner(push.winner, push.amount);
   * });
   * const snapshot = await client.subscribe(7);
   * ```
   */
  subscribe(auction: number, since: number = NO_REPLAY): Promise<AuctionSnapshot> {
    const problem = checkU32("auction", auction) ?? checkU32("since", since) ?? this.makeRoom(HEADER_SIZE + PayloadLength.SUBSCRIBE);
    if (problem) return Promise.reject(problem);
    const req = this.takeReq();
    this.tail = encodeSubscribe(this.out, this.tail, req, auction, since);
    return this.expect(req, FrameType.STATE);
  }

  /**
   * Stops the pushes of an auction; resolves on the server's OK.
   *
   * @example
   * ```ts
   * await client.unsubscribe(7);
   * ```
   */
  unsubscribe(auction: number): Promise<void> {
    const problem = checkU32("auction", auction) ?? this.makeRoom(HEADER_SIZE + PayloadLength.UNSUBSCRIBE);
    if (problem) return Promise.reject(problem);
    const req = this.takeReq();
    this.tail = encodeUnsubscribe(this.out, this.tail, req, auction);
    return this.expect(req, FrameType.OK);
  }

  /**
   * Registers a listener for pushed UPDATE and CLOSED frames; returns a function that removes
   * it. Listeners run synchronously as frames are read; one that throws does not stop the rest.
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
   * Closes the connection. Requests still pending reject with GavelConnectionError (a bid
   * among them may still have been applied); requests not yet written are dropped unsent.
   * Resolves once the socket has closed.
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
      case FrameType.UPDATE:
      case FrameType.CLOSED:
        emit(this.pushListeners, frame);
        return true;
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
      this.closeReason ??= error;
      this.rejectPending(error);
    }
    // UNKNOWN_TYPE and the like leave the connection and its pending requests alone: the
    // server skipped one frame and still answers the rest.
    emit(this.errorListeners, error);
  }

  // ---- closing -------------------------------------------------------------------------------

  /** Closes the connection because the client cannot go on (bad bytes, socket error). */
  private fail(reason: Error): void {
    if (this.isClosed) return;
    this.closeReason ??= reason;
    this.shutDown();
    if (this.socket) this.socket.terminate();
    else this.onClose(undefined);
  }

  /** Refuses new requests, drops unwritten bytes and rejects what is pending. */
  private shutDown(): void {
    this.isClosed = true;
    this.head = 0;
    this.tail = 0;
    this.rejectPending(this.closeReason ?? new GavelConnectionError("connection closed"));
  }

  private onClose(error: Error | undefined): void {
    if (!this.isClosed) {
      this.closeReason ??= error
        ? new GavelConnectionError("connection lost", { cause: error })
        : new GavelConnectionError("connection closed by the server");
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
