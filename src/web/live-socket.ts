/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="dom.asynciterable" />
// The live page's connection: the binary protocol (src/protocol/, bundled for the browser)
// over a WebSocket to /ws, one frame per message; see docs/protocol.md ("WebSocket").
// It keeps one auction subscribed across reconnects (resuming with `since` = the last seq it
// saw) and tracks the server clock from PONG.

import { FrameAssembler } from "../protocol/assembler.ts";
import { decodeFrame, encodeBid, encodePing, encodeSubscribe, encodeUnsubscribe, Fit, serverFrameFit, type Frame } from "../protocol/codec.ts";
import { FrameType, MAX_FRAME, NO_REPLAY } from "../protocol/constants.ts";

export type ResultFrame = Extract<Frame, { type: typeof FrameType.RESULT }>;
export type StateFrame = Extract<Frame, { type: typeof FrameType.STATE }>;
export type UpdateFrame = Extract<Frame, { type: typeof FrameType.UPDATE }>;
export type ClosedFrame = Extract<Frame, { type: typeof FrameType.CLOSED }>;
export type ErrorFrame = Extract<Frame, { type: typeof FrameType.ERROR }>;

export type LinkStatus = "connecting" | "live" | "offline";

export interface LiveEvents {
  status(status: LinkStatus): void;
  state(state: StateFrame): void;
  update(update: UpdateFrame): void;
  closed(closed: ClosedFrame): void;
  /** Server clock minus this browser's clock, in ms. */
  clock(offsetMs: number): void;
  /** An ERROR tied to no request (MALFORMED, TOO_MANY_CONNECTIONS, SHUTTING_DOWN...). */
  error(error: ErrorFrame): void;
}

/** A request's reply was an ERROR frame. */
export class ReplyError extends Error {
  override name = "ReplyError";
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** Reconnect delays: doubling from the first to the last. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 8000;
/** How often the server clock is sampled. */
export const PING_INTERVAL_MS = 10_000;
/** Clock samples kept; the one with the shortest round trip is trusted. */
const CLOCK_SAMPLES = 6;
const MAX_U32 = 0xffff_ffff;
const WS_OPEN = 1;

interface Pending {
  expect: number;
  resolve(frame: Frame): void;
  reject(error: Error): void;
}

interface ClockSample {
  rtt: number;
  offset: number;
}

export class LiveSocket {
  private ws: WebSocket | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  private readonly scratch = new Uint8Array(MAX_FRAME);
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private readonly samples: ClockSample[] = [];
  /** The auction followed, 0 for none, and the highest seq seen of it. */
  private auction = 0;
  private lastSeq = -1;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly events: LiveEvents,
  ) {}

  /** Opens the connection (and reopens it whenever it drops, until `stop`). */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.ws?.close();
  }

  /**
   * Follows one auction (and stops following the previous one). `since` is the last seq
   * already shown (from the bid history), or NO_REPLAY.
   */
  watch(auction: number, since: number): void {
    if (this.auction !== 0 && this.auction !== auction && this.isOpen) {
      this.request(FrameType.OK, (out, req) => encodeUnsubscribe(out, 0, req, this.auction)).catch(() => {});
    }
    this.auction = auction;
    this.lastSeq = since === NO_REPLAY ? -1 : since;
    if (this.isOpen) this.subscribe();
  }

  /** Sends a BID; resolves with its RESULT. */
  bid(auction: number, user: number, amount: number): Promise<ResultFrame> {
    return this.request(FrameType.RESULT, (out, req) => encodeBid(out, 0, req, auction, user, amount)) as Promise<ResultFrame>;
  }

  get isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === WS_OPEN;
  }

  // ---- connection ----------------------------------------------------------------------------

  private connect(): void {
    this.retryTimer = null;
    this.events.status("connecting");
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    const assembler = new FrameAssembler((type, bytes, payload, length) => this.receive(type, bytes, payload, length));
    ws.onopen = () => {
      this.retryMs = RETRY_FIRST_MS;
      this.events.status("live");
      this.samples.length = 0;
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
      if (this.auction !== 0) this.subscribe();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (event.data instanceof ArrayBuffer) assembler.push(new Uint8Array(event.data));
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.pingTimer !== null) clearInterval(this.pingTimer);
      this.pingTimer = null;
      const lost = new Error("connection lost");
      for (const p of this.pending.values()) p.reject(lost);
      this.pending.clear();
      this.events.status("offline");
      if (this.stopped) return;
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    };
  }

  private subscribe(): void {
    const since = this.lastSeq < 0 ? NO_REPLAY : this.lastSeq;
    const auction = this.auction;
    this.request(FrameType.STATE, (out, req) => encodeSubscribe(out, 0, req, auction, since))
      .then((frame) => {
        const state = frame as StateFrame;
        if (state.auction !== this.auction) return;
        // With no replay asked, the snapshot is where the stream starts.
        if (this.lastSeq < 0) this.lastSeq = state.seq;
        this.events.state(state);
      })
      .catch(() => {});
  }

  private ping(): void {
    const sent = Date.now();
    this.request(FrameType.PONG, (out, req) => encodePing(out, 0, req))
      .then((frame) => {
        const received = Date.now();
        const now = (frame as Extract<Frame, { type: typeof FrameType.PONG }>).now;
        // The server read its clock about halfway through the round trip.
        this.samples.push({ rtt: received - sent, offset: now - (sent + received) / 2 });
        if (this.samples.length > CLOCK_SAMPLES) this.samples.shift();
        const best = this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
        this.events.clock(best.offset);
      })
      .catch(() => {});
  }

  // ---- frames --------------------------------------------------------------------------------

  private request(expect: number, encode: (out: Uint8Array, req: number) => number): Promise<Frame> {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WS_OPEN) return Promise.reject(new Error("not connected"));
    let req = this.nextReq;
    while (this.pending.has(req)) req = req === MAX_U32 ? 1 : req + 1;
    this.nextReq = req === MAX_U32 ? 1 : req + 1;
    const end = encode(this.scratch, req);
    return new Promise<Frame>((resolve, reject) => {
      this.pending.set(req, { expect, resolve, reject });
      ws.send(this.scratch.slice(0, end));
    });
  }

  private receive(type: number, bytes: Uint8Array, payload: number, length: number): boolean {
    if (serverFrameFit(type, length) !== Fit.OK) return true; // a newer server's frame: skip
    const frame = decodeFrame(type, bytes, payload, length)!;
    switch (frame.type) {
      case FrameType.UPDATE:
        if (frame.auction !== this.auction || frame.seq <= this.lastSeq) return true;
        this.lastSeq = frame.seq;
        this.events.update(frame);
        return true;
      case FrameType.CLOSED:
        if (frame.auction === this.auction) this.events.closed(frame);
        return true;
      case FrameType.ERROR: {
        const pending = frame.req === 0 ? undefined : this.pending.get(frame.req);
        if (pending === undefined) {
          this.events.error(frame);
          return true;
        }
        this.pending.delete(frame.req);
        pending.reject(new ReplyError(frame.code, frame.message));
        return true;
      }
      case FrameType.RESULT:
      case FrameType.STATE:
      case FrameType.PONG:
      case FrameType.OK: {
        const pending = this.pending.get(frame.req);
        if (pending === undefined) return true;
        this.pending.delete(frame.req);
        if (pending.expect === frame.type) pending.resolve(frame);
        else pending.reject(new Error(`expected frame type ${pending.expect}, got ${frame.type}`));
        return true;
      }
      default:
        return true;
    }
  }
}
