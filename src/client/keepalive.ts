// Keepalive: a PING every interval, so that a connection that only listens (a subscription
// to a quiet auction) is not closed by the server's idle sweep (GAVEL_IDLE_MS, default 300 s,
// counts what the client sends). By default it pings only while the client has
// subscriptions: a client that only bids keeps the connection busy itself.

/** Default ping interval: well under the server's default idle limit of 300 s. */
export const DEFAULT_KEEPALIVE_MS = 60_000;

export interface KeepaliveOptions {
  /** Ping interval in ms. Default {@link DEFAULT_KEEPALIVE_MS}. */
  intervalMs?: number;
  /** Ping even without subscriptions. Default false. */
  always?: boolean;
}

export class Keepalive {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly intervalMs: number,
    /** Asked at each tick: is a ping due (connected, and subscribed unless `always`)? */
    private readonly due: () => boolean,
    private readonly ping: () => void,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.due()) this.ping();
    }, this.intervalMs);
    // The timer alone must not keep a process alive: the connection does, while it is open.
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
