// Closes auctions at their ends_at. Every node runs one; the store's atomic closing step
// decides which node closes each auction, so there is exactly one CLOSED per auction.

import type { ClosedAuction } from "./auction.ts";
import type { LogSink } from "../log/log-sink.ts";

/**
 * The store's closing step: atomically closes up to `limit` auctions whose ends_at has passed and
 * returns them; each auction is returned by exactly one call, on whichever node runs it.
 */
export type CloseDue = (limit: number) => Promise<ClosedAuction[]>;

/**
 * Auctions closed per store call (one transaction on SQLite); a longer backlog is worked off in
 * the same tick. On SQLite a transaction rewrites every page its closes touch (the rows, the
 * open and closed indexes), so the page size sets the bytes written: 50,000 auctions ending in
 * one second took 2.3 s and 263 MB of WAL at 64 a call, 0.85 s and 75 MB at 256 (about 4 ms a
 * call, one slice), no better at 1024 and 18 ms a call.
 */
export const CLOSE_PAGE = 256;
/**
 * A tick holds the event loop at most about this long before it lets bids, PINGs and replies
 * through (setImmediate) and goes on: a mass close (50,000 auctions ending in one second)
 * becomes many short slices instead of one long stall.
 */
const SLICE_BUDGET_MS = 4;
/**
 * Closed auctions announced between two looks at the slice budget. Each yield also flushes the
 * subscribers' sockets, so yielding often costs throughput: at 50,000 auctions ending in one
 * second on SQLite, every 32 made the latest CLOSED 934 ms late (PING max 25 ms), every 256 390 ms
 * (PING max 48 ms), every 64 460-530 ms (PING max 19-28 ms).
 */
const ANNOUNCE_CHECK_EVERY = 64;

/** Resolves after the event loop has run its pending I/O once. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Closer {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running = false;
  /** The last pass failed: an outage is logged when it starts and when it ends, not every tick. */
  private failing = false;

  constructor(
    private readonly closeDue: CloseDue,
    private readonly intervalMs: number,
    /** Told about each auction this node closed (in-process stores fan CLOSED out from here). */
    private readonly onClosed: (closed: ClosedAuction) => void,
    private readonly log: LogSink,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass: close everything due, in slices. Overlapping passes are skipped. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let sliceStart = performance.now();
      for (;;) {
        const closed = await this.closeDue(CLOSE_PAGE);
        // Announcing is sliced too: a Redis step returns up to a page per group (4,096 auctions
        // over 16 groups), whose CLOSED frames and log lines held the loop for 60 ms in one go.
        for (let i = 0; i < closed.length; i++) {
          this.onClosed(closed[i]!);
          if (i % ANNOUNCE_CHECK_EVERY === ANNOUNCE_CHECK_EVERY - 1 && performance.now() - sliceStart >= SLICE_BUDGET_MS) {
            await yieldToEventLoop();
            sliceStart = performance.now();
          }
        }
        if (closed.length < CLOSE_PAGE) break;
        // An in-process store answers without giving the loop back: yield between slices.
        if (performance.now() - sliceStart >= SLICE_BUDGET_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
      if (this.failing) this.log("closer: the store answers again", { level: "info", event: "closer_recovered" });
      this.failing = false;
    } catch (error) {
      // The store is away; the next tick tries again, and the phase is CLOSED by the clock anyway.
      if (!this.failing) this.log(`closer: ${(error as Error).message} (retrying every ${this.intervalMs} ms)`, { level: "warn", event: "closer_failing" });
      this.failing = true;
    } finally {
      this.running = false;
    }
  }
}
