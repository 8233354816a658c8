// Delivers the outbox's events to GAVEL_WEBHOOK_URL (docs/webhooks.md): each as a signed JSON
// POST, retried with capped exponential backoff until a 2xx answers it, then removed from the
// outbox. At least once: an event delivered but not yet removed when the process dies is sent
// again by the next one (receivers de-duplicate on its id).
//
// Order: an auction's events are delivered one after the other, each only once the one before
// it was answered; different auctions go in parallel (MAX_CONCURRENT_POSTS). Memory: at most
// `inFlight` events are read from the outbox and not delivered; the rest wait in the store.
// Nothing here runs on the bid path: the stores only write the outbox.

import { WEBHOOK_RETRY_BASE_MS } from "../config/settings.ts";
import type { LogSink } from "../log/log-sink.ts";
import type { WebhookCounters } from "../metrics/webhook-counters.ts";
import type { OutboxEntry, OutboxReader } from "../store/outbox.ts";
import { eventBody } from "./event-body.ts";
import { retryDelayMs } from "./retry-backoff.ts";
import { SIGNATURE_HEADER, signatureHeader } from "./webhook-signature.ts";

/** How often an idle dispatcher looks at the outbox again. */
const POLL_MS = 50;
/** POSTs out at once (one per auction at most): a receiver sees at most this many connections. */
export const MAX_CONCURRENT_POSTS = 16;
/** Failed deliveries are logged at most once per this long, with the count since the last line. */
const FAILURE_LOG_INTERVAL_MS = 10_000;
const MS_PER_SECOND = 1000;
/** Sent with each POST besides the signature: the event id, readable without parsing the body. */
export const EVENT_ID_HEADER = "Gavel-Event-Id";

export interface WebhookSettings {
  url: string;
  secret: string;
  /** A POST without a 2xx answer this long fails (GAVEL_WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** The longest wait between two tries of one event (GAVEL_WEBHOOK_RETRY_MAX_MS). */
  retryMaxMs: number;
  /** Events read and not delivered, at most (GAVEL_WEBHOOK_IN_FLIGHT). */
  inFlight: number;
}

interface Wait {
  timer: ReturnType<typeof setTimeout>;
  resolve: () => void;
}

/**
 * @example
 * const dispatcher = new WebhookDispatcher(store.outbox, settings, new WebhookCounters(), log);
 * dispatcher.start();
 * await dispatcher.stop(); // before the store closes
 */
export class WebhookDispatcher {
  /** Per auction, its events read and not delivered yet, in order (insertion-ordered map). */
  private readonly waiting = new Map<number, OutboxEntry[]>();
  /** Auctions whose first waiting event is being delivered. */
  private readonly running = new Set<number>();
  private readonly runners = new Set<Promise<void>>();
  /** Events read from the outbox and not delivered yet (bounded by settings.inFlight). */
  private held = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly aborter = new AbortController();
  private readonly waits = new Set<Wait>();
  private failuresSinceLog = 0;
  private lastFailureLogAt = -Infinity;
  private failing = false;

  constructor(
    private readonly outbox: OutboxReader,
    private readonly settings: WebhookSettings,
    private readonly counters: WebhookCounters,
    private readonly log: LogSink,
  ) {}

  /** Events read from the outbox and not delivered yet. */
  get inFlight(): number {
    return this.held;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops reading and sending (a POST in flight is abandoned: the event stays in the outbox). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.aborter.abort();
    for (const wait of this.waits) {
      clearTimeout(wait.timer);
      wait.resolve();
    }
    this.waits.clear();
    await this.loop;
    await Promise.allSettled([...this.runners]);
    await this.outbox.close();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const room = Math.max(0, this.settings.inFlight - this.held);
      let got = 0;
      try {
        // With no room it still calls: the Redis outbox renews its leases then.
        const entries = await this.outbox.take(room);
        got = entries.length;
        for (const entry of entries) this.hold(entry);
      } catch (error) {
        this.noteFailure(`reading the outbox failed: ${(error as Error).message}`);
      }
      this.schedule();
      // A full read: there may be more at once. Otherwise wait for new events.
      if (got === 0 || got < room) await this.wait(POLL_MS);
    }
  }

  private hold(entry: OutboxEntry): void {
    const auction = entry.event.auction;
    let queue = this.waiting.get(auction);
    if (queue === undefined) {
      queue = [];
      this.waiting.set(auction, queue);
    }
    queue.push(entry);
    this.held++;
  }

  /** Starts a runner for each auction with waiting events and none running, up to the bound. */
  private schedule(): void {
    if (this.stopped) return;
    for (const auction of this.waiting.keys()) {
      if (this.running.size >= MAX_CONCURRENT_POSTS) return;
      if (this.running.has(auction)) continue;
      this.running.add(auction);
      const runner: Promise<void> = this.runAuction(auction).finally(() => {
        this.running.delete(auction);
        this.runners.delete(runner);
        this.schedule();
      });
      this.runners.add(runner);
    }
  }

  /** Delivers the auction's waiting events in order, each after the one before it. */
  private async runAuction(auction: number): Promise<void> {
    const queue = this.waiting.get(auction)!;
    while (queue.length > 0) {
      const entry = queue[0]!;
      if (!(await this.deliver(entry))) return; // stopped
      queue.shift();
      this.held--;
      try {
        await this.outbox.ack(entry);
      } catch (error) {
        // Delivered but still stored: it is sent again after a restart (a duplicate, by id).
        this.noteFailure(`removing delivered event ${entry.id} from the outbox failed: ${(error as Error).message}`);
      }
    }
    this.waiting.delete(auction);
  }

  /** Tries until a 2xx answers (true) or the dispatcher stops (false). */
  private async deliver(entry: OutboxEntry): Promise<boolean> {
    const body = eventBody(entry);
    for (let attempt = 0; !this.stopped; attempt++) {
      const failure = await this.post(entry.id, body);
      if (failure === null) {
        this.counters.delivered++;
        if (this.failing) {
          this.failing = false;
          this.log("gavel: webhooks are delivered again", { level: "info", event: "webhook_up" });
        }
        return true;
      }
      if (this.stopped) return false;
      this.counters.failed++;
      this.noteFailure(`webhook ${entry.id} (${entry.event.type}, auction ${entry.event.auction}) failed: ${failure}; retried`);
      await this.wait(retryDelayMs(attempt, WEBHOOK_RETRY_BASE_MS, this.settings.retryMaxMs));
    }
    return false;
  }

  /** One POST; null when a 2xx answered it, else why not. */
  private async post(id: string, body: string): Promise<string | null> {
    const timestamp = Math.floor(Date.now() / MS_PER_SECOND);
    try {
      const response = await fetch(this.settings.url, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "user-agent": "gavel-webhooks",
          [SIGNATURE_HEADER]: signatureHeader(this.settings.secret, timestamp, body),
          [EVENT_ID_HEADER]: id,
        },
        // A redirect is the receiver's configuration error: followed, the body would go elsewhere.
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.aborter.signal]),
      });
      // Read to the end, so the connection can carry the next POST.
      await response.arrayBuffer();
      return response.ok ? null : `answered HTTP ${response.status}`;
    } catch (error) {
      const name = (error as Error).name;
      if (name === "TimeoutError") return `no answer within ${this.settings.timeoutMs} ms (GAVEL_WEBHOOK_TIMEOUT_MS)`;
      return (error as Error).message;
    }
  }

  /** Logs a failure now and then (never once per try): the first, then one line per interval. */
  private noteFailure(message: string): void {
    this.failing = true;
    this.failuresSinceLog++;
    const now = performance.now();
    if (now - this.lastFailureLogAt < FAILURE_LOG_INTERVAL_MS) return;
    const more = this.failuresSinceLog > 1 ? ` (${this.failuresSinceLog - 1} more failures since the last such line)` : "";
    this.log(`gavel: warning: ${message}${more}`, { level: "warn", event: "webhook_failed" });
    this.failuresSinceLog = 0;
    this.lastFailureLogAt = now;
  }

  /** Sleeps, or returns at once when the dispatcher stops. */
  private wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wait: Wait = {
        timer: setTimeout(() => {
          this.waits.delete(wait);
          resolve();
        }, ms),
        resolve,
      };
      this.waits.add(wait);
    });
  }
}
