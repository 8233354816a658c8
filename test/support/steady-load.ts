// A steady bid load for fault tests: several raw connections each send a few BIDs every tick,
// for as long as the test lets them, while a fault is injected under them. Every BID and every
// reply goes into a ClientLog for the consistency checker, and each reply's latency is kept, so
// a test can say "every request was answered within X ms" and "these were refused fast".
//
// @example
//   const log = new ClientLog();
//   const load = await SteadyLoad.start({ port, auctions, connections: 4, perTick: 20, log });
//   await Bun.sleep(1000);            // healthy
//   await redis.kill();               // the fault, under load
//   ...
//   load.stop();
//   await load.settle();
//   expect(load.maxWaitMs).toBeLessThan(bound);
//   assertConsistent(log, await fetchFinalState(httpUrl, auctions), { unavailableMayBeStored: true });

import { encodeBid, encodeSubscribe } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, FrameType, HEADER_SIZE, PayloadLength } from "../../src/protocol/constants.ts";
import type { BidderLog, ClientLog, SubscriberLog } from "./consistency.ts";
import { connectRaw, type RawClient } from "./raw-client.ts";

/** `Reply.status` for a reply that was an ERROR (e.g. SHUTTING_DOWN): see `errorCode`. */
export const ERROR_REPLY = -1;
const DEFAULT_TICK_MS = 10;
const DEFAULT_FIRST_AMOUNT = 1_000;
const DEFAULT_USER_BASE = 100;
const SETTLE_POLL_MS = 20;

export interface SteadyLoadOptions {
  port: number;
  /** Auctions bid on, round robin. */
  auctions: readonly number[];
  connections: number;
  /** BIDs each connection sends per tick. */
  perTick: number;
  /** Default 10 ms. */
  tickMs?: number;
  log: ClientLog;
  /** Amounts rise by one per BID sent across all connections, from this (default 1000). */
  firstAmount?: number;
  /** Connection c bids as user `userBase + c` (default 100). */
  userBase?: number;
  /** Label prefix in the log (default "bidder"). */
  label?: string;
}

/** One reply as it arrived: when, after how long, and what it said. */
export interface Reply {
  connection: number;
  req: number;
  /** ms since the epoch, to the tick. */
  at: number;
  latencyMs: number;
  /** The RESULT status, or ERROR_REPLY. */
  status: number;
  /** The ERROR code for ERROR_REPLY, else 0. */
  errorCode: number;
}

interface Bidder {
  client: RawClient;
  log: BidderLog;
  user: number;
  /** Frames already looked at. */
  seen: number;
  nextReq: number;
  /** sentAt[req]: when the BID left (ms); answered[req]: a reply came. */
  sentAt: number[];
  answered: boolean[];
  /** The lowest req not answered yet. */
  oldest: number;
}

export class SteadyLoad {
  readonly replies: Reply[] = [];
  /** Longest any BID waited for its reply, answered or still waiting, at tick resolution. */
  maxWaitMs = 0;
  private sending = true;
  private amount: number;
  private bidIndex = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly scratch: Uint8Array;

  private constructor(
    private readonly options: SteadyLoadOptions,
    private readonly bidders: Bidder[],
  ) {
    this.amount = options.firstAmount ?? DEFAULT_FIRST_AMOUNT;
    this.scratch = new Uint8Array(options.perTick * BID_FRAME_SIZE);
    this.timer = setInterval(() => this.tick(), options.tickMs ?? DEFAULT_TICK_MS);
  }

  static async start(options: SteadyLoadOptions): Promise<SteadyLoad> {
    const bidders: Bidder[] = [];
    const label = options.label ?? "bidder";
    for (let c = 0; c < options.connections; c++) {
      bidders.push({
        client: await connectRaw(options.port),
        log: options.log.bidder(`${label} ${c}`),
        user: (options.userBase ?? DEFAULT_USER_BASE) + c,
        seen: 0,
        nextReq: 1,
        sentAt: [],
        answered: [],
        oldest: 1,
      });
    }
    return new SteadyLoad(options, bidders);
  }

  /** BIDs sent so far. */
  get sent(): number {
    let sent = 0;
    for (const b of this.bidders) sent += b.nextReq - 1;
    return sent;
  }

  /** BIDs not answered yet on connections still open. */
  get outstanding(): number {
    let waiting = 0;
    for (const b of this.bidders) if (!b.client.isClosed()) waiting += b.nextReq - b.oldest - this.answeredAbove(b);
    return waiting;
  }

  /** Replies with this status (ERROR_REPLY for ERRORs) that arrived at or after `since`. */
  count(status: number, since = 0): number {
    let n = 0;
    for (const r of this.replies) if (r.status === status && r.at >= since) n++;
    return n;
  }

  /** Waits until a reply with this status arrives at or after `since`; returns when it came. */
  async waitForStatus(status: number, since: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      const found = this.replies.find((r) => r.status === status && r.at >= since);
      if (found !== undefined) return found.at;
      if (Date.now() > deadline) throw new Error(`no reply with status ${status} within ${timeoutMs} ms`);
      await Bun.sleep(SETTLE_POLL_MS);
    }
  }

  /**
   * Waits until at least `count` BIDs are out unanswered (right after a tick's send): the
   * moment to inject a crash with requests in flight.
   */
  async waitForOutstanding(count: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      if (this.outstanding >= count) return;
      if (Date.now() > deadline) throw new Error(`never ${count} BIDs outstanding within ${timeoutMs} ms`);
      await Bun.sleep(1);
    }
  }

  /** Stops sending; replies are still collected. */
  stop(): void {
    this.sending = false;
  }

  /** Resolves once every BID is answered or its connection closed; throws on timeout. */
  async settle(timeoutMs = 15_000): Promise<void> {
    this.stop();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      if (this.outstanding === 0) return;
      if (Date.now() > deadline) throw new Error(`${this.outstanding} BIDs still unanswered after ${timeoutMs} ms`);
      await Bun.sleep(SETTLE_POLL_MS);
    }
  }

  /** Stops the timer and closes the connections. */
  close(): void {
    this.stop();
    clearInterval(this.timer);
    this.poll();
    for (const b of this.bidders) b.client.close();
  }

  private tick(): void {
    this.poll();
    if (!this.sending) return;
    const { auctions, perTick } = this.options;
    for (const b of this.bidders) {
      if (b.client.isClosed()) continue;
      let offset = 0;
      const now = Date.now();
      for (let i = 0; i < perTick; i++) {
        const req = b.nextReq++;
        const auction = auctions[this.bidIndex++ % auctions.length]!;
        const amount = this.amount++;
        offset = encodeBid(this.scratch, offset, req, auction, b.user, amount);
        b.log.sent(req, auction, b.user, amount);
        b.sentAt[req] = now;
      }
      b.client.send(this.scratch.slice(0, offset));
    }
  }

  /** Feeds new frames to the logs, stamps their latency, and updates the longest wait. */
  private poll(): void {
    const now = Date.now();
    this.bidders.forEach((b, c) => {
      const frames = b.client.frames;
      for (; b.seen < frames.length; b.seen++) {
        const frame = frames[b.seen]!;
        b.log.observe(frame);
        if (frame.type !== FrameType.RESULT && frame.type !== FrameType.ERROR) continue;
        const req = frame.req;
        const sentAt = b.sentAt[req];
        if (sentAt === undefined || b.answered[req]) continue; // untied ERROR, or a second reply (the checker counts it)
        b.answered[req] = true;
        const latencyMs = now - sentAt;
        if (latencyMs > this.maxWaitMs) this.maxWaitMs = latencyMs;
        this.replies.push({
          connection: c,
          req,
          at: now,
          latencyMs,
          status: frame.type === FrameType.RESULT ? frame.status : ERROR_REPLY,
          errorCode: frame.type === FrameType.ERROR ? frame.code : 0,
        });
      }
      while (b.oldest < b.nextReq && b.answered[b.oldest]) b.oldest++;
      if (b.oldest < b.nextReq && !b.client.isClosed()) {
        const waiting = now - b.sentAt[b.oldest]!;
        if (waiting > this.maxWaitMs) this.maxWaitMs = waiting;
      }
    });
  }

  private answeredAbove(b: Bidder): number {
    let n = 0;
    for (let req = b.oldest; req < b.nextReq; req++) if (b.answered[req]) n++;
    return n;
  }
}

/** A subscriber connection logged for the checker; `sync` feeds it what arrived. */
export interface LoggedSubscriber {
  client: RawClient;
  log: SubscriberLog;
  sync(): void;
}

/** SUBSCRIBEs to each auction with `since` (0: the whole history, then live). */
export async function loggedSubscriber(port: number, log: SubscriberLog, auctions: readonly number[], since = 0): Promise<LoggedSubscriber> {
  const client = await connectRaw(port);
  const bytes = new Uint8Array(auctions.length * (HEADER_SIZE + PayloadLength.SUBSCRIBE));
  let offset = 0;
  auctions.forEach((auction, i) => {
    offset = encodeSubscribe(bytes, offset, i + 1, auction, since);
    log.subscribed(auction, since);
  });
  client.send(bytes);
  let seen = 0;
  return {
    client,
    log,
    sync() {
      for (; seen < client.frames.length; seen++) log.observe(client.frames[seen]!);
      if (client.isClosed()) log.disconnected();
    },
  };
}
