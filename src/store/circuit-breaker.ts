// A circuit breaker around any store's bid path; see docs/reliability.md ("Store faults (Redis)").
//
// A Redis that is gone fails each call at once (no offline queue), but a Redis that hangs holds
// every call for the whole command timeout, and the drain has only so many batches in flight:
// bids then wait in the ring and clients wait for UNAVAILABLE. Once a batch has failed, a batch
// goes to the store only when none is out (the others are answered UNAVAILABLE at once) until
// one succeeds; once `failures` batches in a row have failed, the breaker opens: every batch is
// answered UNAVAILABLE at once, without asking the store. After `cooldownMs` one batch goes
// through as a probe (half-open); if it succeeds the breaker closes, if not it stays open for
// another cool-down.

import type { ClosedAuction, NewAuction, Store, StoreBatch, UpdateFeed } from "./store.ts";
import { StoreUnavailableError } from "./errors.ts";
import type { OutboxReader } from "./outbox.ts";
import type { LogSink } from "../log/log-sink.ts";

export const BreakerState = { CLOSED: "closed", OPEN: "open", HALF_OPEN: "half-open" } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export interface CircuitBreakerOptions {
  /** Batches failed in a row that open the breaker (GAVEL_BREAKER_FAILURES, at least 1). */
  failures: number;
  /** How long it stays open before one probe batch (GAVEL_BREAKER_COOLDOWN_MS). */
  cooldownMs: number;
  /** Told when the breaker opens and when it closes again: one line each, never per bid. */
  log: LogSink;
  /** The clock (ms); tests pass their own. */
  now?: () => number;
}

/**
 * A Store that passes everything to `inner`, except that `applyBids` fails fast (throws
 * {@link StoreUnavailableError}, which the drain answers UNAVAILABLE) while the breaker is open,
 * and while the one batch let through after a failure is out: those batches were certainly not
 * stored. The inner store's own failures pass through unchanged (and count as failures), so
 * their class still tells the drain UNAVAILABLE or UNCONFIRMED.
 * Only the bid path is guarded: reads (QUERY, the admin API, replays) and the closer are few
 * and already bounded by the store's own timeouts.
 *
 * @example
 * const store = new CircuitBreakerStore(await RedisStore.connect({ url }), {
 *   failures: 5, cooldownMs: 1000, log: console.warn,
 * });
 * store.applyBids(batch); // throws at once while Redis is known to be away
 */
export class CircuitBreakerStore implements Store {
  readonly kind: string;
  readonly feed?: UpdateFeed;
  readonly outbox?: OutboxReader;
  private current: BreakerState = BreakerState.CLOSED;
  /** Batches failed in a row while closed. */
  private failedInRow = 0;
  /** While open: when the next probe may go. */
  private probeAt = 0;
  /** Bumped each time the breaker closes, so a call started before an outage cannot count in the next. */
  private epoch = 0;
  /** When it last opened, and the bids answered at once since then (for the closing line). */
  private openedAt = 0;
  private refusedBids = 0;
  private failedProbes = 0;
  private readonly clock: () => number;
  /** Calls to the store not settled yet. */
  private inFlight = 0;
  /** One instance each: thrown once per batch while open, so an outage under load allocates nothing. */
  private readonly openError = new StoreUnavailableError("the store's circuit breaker is open");
  private readonly suspectError = new StoreUnavailableError("the store just failed a batch and has not answered one since");

  constructor(
    private readonly inner: Store,
    private readonly options: CircuitBreakerOptions,
  ) {
    if (!Number.isInteger(options.failures) || options.failures < 1) throw new RangeError(`failures must be at least 1, got ${options.failures}`);
    this.kind = inner.kind;
    if (inner.feed !== undefined) this.feed = inner.feed;
    if (inner.outbox !== undefined) this.outbox = inner.outbox;
    this.clock = options.now ?? Date.now;
  }

  /** closed, open, or half-open (a probe batch is out). */
  get state(): BreakerState {
    return this.current;
  }

  applyBids(batch: StoreBatch): void | Promise<void> {
    let probe = false;
    if (this.current !== BreakerState.CLOSED) {
      if (this.current === BreakerState.HALF_OPEN || this.clock() < this.probeAt) {
        this.refusedBids += batch.count;
        throw this.openError;
      }
      this.current = BreakerState.HALF_OPEN;
      probe = true;
    } else if (this.failedInRow > 0) {
      // The last batch failed. Until one succeeds, a batch goes to the store only when none is
      // out: the batches still out tell first (on a hung store they fail too, and open the
      // breaker). Otherwise each timeout would send the ring's oldest bids, which have waited
      // one timeout already, into the hung store for another.
      if (this.inFlight > 0) throw this.suspectError;
    }
    const epoch = this.epoch;
    let pending: void | Promise<void>;
    try {
      pending = this.inner.applyBids(batch);
    } catch (error) {
      this.failed(probe, epoch, error);
      throw error;
    }
    if (pending === undefined) {
      this.succeeded(probe, epoch);
      return;
    }
    this.inFlight++;
    return pending.then(
      () => {
        this.inFlight--;
        this.succeeded(probe, epoch);
      },
      (error: unknown) => {
        this.inFlight--;
        this.failed(probe, epoch, error);
        throw error;
      },
    );
  }

  private succeeded(probe: boolean, epoch: number): void {
    if (probe) {
      const seconds = ((this.clock() - this.openedAt) / 1000).toFixed(1);
      this.options.log(
        `${this.kind}: circuit breaker closed, the store answers again (open ${seconds} s; ${this.refusedBids} bids answered UNAVAILABLE without asking it; probes failed: ${this.failedProbes})`,
        { level: "info", event: "breaker_closed", store: this.kind, open_s: Number(seconds), refused_bids: this.refusedBids, failed_probes: this.failedProbes },
      );
      this.current = BreakerState.CLOSED;
      this.failedInRow = 0;
      this.epoch++;
      return;
    }
    // A batch sent before the breaker last closed says nothing about the store now.
    if (epoch === this.epoch && this.current === BreakerState.CLOSED) this.failedInRow = 0;
  }

  private failed(probe: boolean, epoch: number, error: unknown): void {
    if (probe) {
      // Still away: another cool-down, without another log line.
      this.failedProbes++;
      this.current = BreakerState.OPEN;
      this.probeAt = this.clock() + this.options.cooldownMs;
      return;
    }
    if (epoch !== this.epoch || this.current !== BreakerState.CLOSED) return;
    if (++this.failedInRow < this.options.failures) return;
    this.current = BreakerState.OPEN;
    this.openedAt = this.clock();
    this.probeAt = this.openedAt + this.options.cooldownMs;
    this.refusedBids = 0;
    this.failedProbes = 0;
    this.options.log(
      `${this.kind}: circuit breaker open after ${this.failedInRow} failed batches in a row (${describeError(error)}): bids are answered UNAVAILABLE at once, one probe every ${this.options.cooldownMs} ms`,
      { level: "warn", event: "breaker_open", store: this.kind, failed_batches: this.failedInRow, cooldown_ms: this.options.cooldownMs },
    );
  }

  // ---- Everything else goes straight through -------------------------------------------------

  createAuction(spec: NewAuction) {
    return this.inner.createAuction(spec);
  }

  getAuction(id: number) {
    return this.inner.getAuction(id);
  }

  listAuctions(...args: Parameters<Store["listAuctions"]>) {
    return this.inner.listAuctions(...args);
  }

  history(auction: number, afterSeq: number, limit: number) {
    return this.inner.history(auction, afterSeq, limit);
  }

  historyNewestFirst(auction: number, beforeSeq: number, limit: number) {
    return this.inner.historyNewestFirst(auction, beforeSeq, limit);
  }

  closeDue(limit: number): Promise<ClosedAuction[]> {
    return this.inner.closeDue(limit);
  }

  cancel(id: number) {
    return this.inner.cancel(id);
  }

  now(): number {
    return this.inner.now();
  }

  unavailableReason(): string | null {
    return this.inner.unavailableReason();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The error and its cause, one line (ioredis puts the useful part in the cause). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
