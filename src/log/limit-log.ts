// Limits hit, logged sampled: a limit may be hit thousands of times a second (a rate-limited
// bidder, a full ring), so a hit only bumps a number in place (no allocation, no line), and a
// timer writes at most one line per limit per interval, with the count since the last one.

import type { LogSink } from "./log-sink.ts";

/** The limits that are counted, by slot. */
export const Limit = {
  /** GAVEL_MAX_CONNECTIONS or GAVEL_MAX_CONN_PER_IP: a connection refused. */
  CONNECTIONS: 0,
  /** GAVEL_BID_RATE: a bid answered RATE_LIMITED. */
  BID_RATE: 1,
  /** GAVEL_QUEUE: a bid answered OVERLOADED (the ring was full). */
  QUEUE: 2,
} as const;
export type Limit = (typeof Limit)[keyof typeof Limit];

/** Per slot: the setting it names and what one hit means, for the line. */
const LIMIT_NAMES = ["GAVEL_MAX_CONNECTIONS / GAVEL_MAX_CONN_PER_IP", "GAVEL_BID_RATE", "GAVEL_QUEUE"] as const;
const LIMIT_EVENTS = ["connections refused", "bids answered RATE_LIMITED", "bids answered OVERLOADED"] as const;
const LIMIT_KEYS = ["connections", "bid_rate", "queue"] as const;

/** At most one line per limit this often. */
export const LIMIT_LOG_INTERVAL_MS = 10_000;

export class LimitLog {
  private readonly hits = new Float64Array(LIMIT_NAMES.length);
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly log: LogSink,
    private readonly intervalMs: number = LIMIT_LOG_INTERVAL_MS,
  ) {}

  /** Counts one hit; the hot path calls this, so it only adds. */
  hit(limit: Limit): void {
    this.hits[limit]!++;
  }

  start(): void {
    this.timer = setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  /** Stops the timer and writes what was counted since the last line. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }

  /** One line per limit hit since the last flush. */
  flush(): void {
    const seconds = this.intervalMs / 1000;
    for (let limit = 0; limit < this.hits.length; limit++) {
      const count = this.hits[limit]!;
      if (count === 0) continue;
      this.hits[limit] = 0;
      this.log(`gavel: limit ${LIMIT_NAMES[limit]} hit: ${count} ${LIMIT_EVENTS[limit]} in the last ${seconds} s or less`, {
        level: "warn",
        event: "limit_hit",
        limit: LIMIT_KEYS[limit],
        count,
      });
    }
  }
}
