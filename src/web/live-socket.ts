/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="dom.asynciterable" />
// The live page's connection: the SDK's engine (src/client/core.ts, bundled for the browser)
// over a WebSocket to /ws; see docs/protocol.md ("WebSocket"). The engine correlates requests,
// reconnects with backoff and resumes the subscription from its last seq; this file only turns
// that into the page's events and samples the server clock from PONG (which also keeps the
// connection alive).

import { ClientCore } from "../client/core.ts";
import { GavelError } from "../client/errors.ts";
import type { AuctionSubscription, ClosedEvent, StateEvent, UpdateEvent } from "../client/subscription.ts";
import { webSocketTransport } from "../client/transports/websocket.ts";
import type { BidResult } from "../client/core.ts";

export type StateFrame = StateEvent;
export type UpdateFrame = UpdateEvent;
export type ClosedFrame = ClosedEvent;
export type ResultFrame = BidResult;
/** An ERROR tied to no request, or one that ended the subscription. */
export type ErrorFrame = { code: number; message: string };

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
export { GavelError as ReplyError };

/** Reconnect delays: doubling from the first to the last. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 8000;
/** How often the server clock is sampled (also the page's keepalive, well under GAVEL_IDLE_MS). */
export const PING_INTERVAL_MS = 10_000;
/** Clock samples kept; the one with the shortest round trip is trusted. */
const CLOCK_SAMPLES = 6;

interface ClockSample {
  rtt: number;
  offset: number;
}

export class LiveSocket {
  private client: ClientCore | null = null;
  private subscription: AuctionSubscription | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private readonly samples: ClockSample[] = [];
  /** The auction followed (0 for none) and the last seq already shown when it was picked. */
  private auction = 0;
  private since = 0;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly events: LiveEvents,
  ) {}

  /** Opens the connection (and reopens it whenever it drops, until `stop`). */
  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    void this.client?.close();
  }

  /**
   * Follows one auction (and stops following the previous one). `since` is the last seq
   * already shown (from the bid history), or NO_REPLAY.
   */
  watch(auction: number, since: number): void {
    this.auction = auction;
    this.since = since;
    if (this.client !== null) this.follow(this.client);
  }

  /** Sends a BID; resolves with its RESULT. */
  bid(auction: number, user: number, amount: number): Promise<ResultFrame> {
    if (this.client === null) return Promise.reject(new Error("not connected"));
    return this.client.bid(auction, user, amount);
  }

  /** MAX_BID: a private maximum the server bids with for `user`. */
  maxBid(auction: number, user: number, max: number): Promise<ResultFrame> {
    if (this.client === null) return Promise.reject(new Error("not connected"));
    return this.client.maxBid(auction, user, max);
  }

  get isOpen(): boolean {
    return this.client?.connected ?? false;
  }

  // ---- connection ----------------------------------------------------------------------------

  /** The first connection: retried here with backoff; the engine reconnects after that. */
  private async connect(): Promise<void> {
    let delay = RETRY_FIRST_MS;
    while (!this.stopped) {
      this.events.status("connecting");
      try {
        const client = await ClientCore.connect({
          transport: webSocketTransport(this.url),
          reconnect: { delayMs: RETRY_FIRST_MS, maxDelayMs: RETRY_MAX_MS },
          keepalive: false, // the clock's PINGs keep it alive
        });
        if (this.stopped) {
          void client.close();
          return;
        }
        this.attach(client);
        return;
      } catch {
        this.events.status("offline");
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private attach(client: ClientCore): void {
    this.client = client;
    client.onError((error) => this.events.error(error));
    client.onDisconnect(() => {
      this.events.status("offline");
      this.events.status("connecting");
    });
    client.onReconnect(() => this.live());
    this.live();
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    if (this.auction !== 0) this.follow(client);
  }

  private live(): void {
    this.events.status("live");
    this.samples.length = 0;
    this.ping();
  }

  /** Subscribes to the watched auction, replacing any earlier subscription. */
  private follow(client: ClientCore): void {
    void this.subscription?.close();
    const subscription = client.subscribe(this.auction, this.since);
    this.subscription = subscription;
    void (async () => {
      try {
        for await (const event of subscription) {
          if (event.type === "state") this.events.state(event);
          else if (event.type === "update") this.events.update(event);
          else this.events.closed(event);
        }
      } catch (error) {
        if (error instanceof GavelError) this.events.error(error);
      }
    })();
  }

  private ping(): void {
    const client = this.client;
    if (client === null || !client.connected) return;
    const sent = Date.now();
    client
      .ping()
      .then(({ now }) => {
        const received = Date.now();
        // The server read its clock about halfway through the round trip.
        this.samples.push({ rtt: received - sent, offset: now - (sent + received) / 2 });
        if (this.samples.length > CLOCK_SAMPLES) this.samples.shift();
        const best = this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
        this.events.clock(best.offset);
      })
      .catch(() => {});
  }
}
