// Takes batches off the ring to the store and hands the results back; see docs/architecture.md.

import { Status } from "../protocol/constants.ts";
import { StoreUnavailableError } from "../store/errors.ts";
import type { Store } from "../store/store.ts";
import type { ServerCounters } from "../metrics/counters.ts";
import type { BatchSpan, Tracing } from "../metrics/tracing.ts";
import { BidBatch } from "./bid-batch.ts";
import type { BidRing } from "./bid-ring.ts";

export interface DrainOptions {
  /** Bids per store call (GAVEL_BATCH). */
  batchSize: number;
  /**
   * Batches handed to an asynchronous store before the first comes back. Order still holds:
   * the store issues calls in order on one connection, so Redis runs them in order.
   */
  maxInFlight: number;
  /** Counts each store call's seconds and size; null or absent counts nothing. */
  counters?: ServerCounters | null;
  /** Spans for sampled batches (OTEL_EXPORTER_OTLP_ENDPOINT); null or absent traces nothing. */
  tracing?: Tracing | null;
}

const MS_PER_SECOND = 1000;

/** Receives each finished batch; `batch` is reused once this returns. */
export type BatchListener<T> = (batch: BidBatch<T>) => void;

export class Drain<T = unknown> {
  private readonly idle: BidBatch<T>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly waiters: (() => void)[] = [];
  private readonly counters: ServerCounters | null;
  private readonly tracing: Tracing | null;

  constructor(
    private readonly ring: BidRing<T>,
    private readonly store: Store,
    options: DrainOptions,
    private readonly onBatchDone: BatchListener<T>,
    /** Called after a run, once the results are handed over (flush sockets, resume readers). */
    private readonly onRunDone: () => void,
  ) {
    for (let i = 0; i < options.maxInFlight; i++) this.idle.push(new BidBatch<T>(options.batchSize));
    this.counters = options.counters ?? null;
    this.tracing = options.tracing ?? null;
  }

  /** Runs the drain soon; many socket reads in one tick share its batches. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  /** True when nothing is queued or in flight. */
  get isIdle(): boolean {
    return this.ring.length === 0 && this.inFlight === 0;
  }

  /** Resolves once the ring is empty and every batch has come back. */
  whenIdle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private readonly run = (): void => {
    this.scheduled = false;
    while (this.ring.length > 0 && this.idle.length > 0) {
      const batch = this.idle.pop()!;
      this.ring.takeInto(batch);
      this.apply(batch);
    }
    this.onRunDone();
    this.notifyIfIdle();
  };

  private apply(batch: BidBatch<T>): void {
    if (this.counters !== null) batch.sentAt = performance.now();
    // Tracing off: one null check per batch, nothing per bid.
    const span = this.tracing === null ? null : this.tracing.startBatch(batch.count);
    let pending: void | Promise<void>;
    try {
      pending = this.store.applyBids(batch);
    } catch (error) {
      // A circuit breaker refused the batch, or a synchronous store failed (e.g. disk full).
      batch.failAll(failedBatchStatus(error));
      this.finish(batch, span, error);
      return;
    }
    if (pending === undefined) {
      this.finish(batch, span, null);
      return;
    }
    this.inFlight++;
    pending.then(
      () => this.settle(batch, span, null),
      (error: unknown) => {
        batch.failAll(failedBatchStatus(error));
        this.settle(batch, span, error);
      },
    );
  }

  /** An asynchronous batch came back: hand it over and keep the drain going. */
  private settle(batch: BidBatch<T>, span: BatchSpan | null, error: unknown): void {
    this.inFlight--;
    this.finish(batch, span, error);
    this.run();
  }

  private finish(batch: BidBatch<T>, span: BatchSpan | null, error: unknown): void {
    const counters = this.counters;
    if (counters !== null) {
      counters.storeBatchSeconds.observe((performance.now() - batch.sentAt) / MS_PER_SECOND);
      counters.storeBatchSize.observe(batch.count);
    }
    if (span !== null) this.tracing!.endBatch(span, batch, error);
    this.onBatchDone(batch);
    for (let i = 0; i < batch.count; i++) batch.replyTo[i] = null;
    batch.count = 0;
    this.idle.push(batch);
  }

  private notifyIfIdle(): void {
    if (!this.isIdle || this.waiters.length === 0) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

/**
 * What a failed batch's bids are answered. UNAVAILABLE promises the client that nothing was
 * stored, so only a store that is certain says so, with StoreUnavailableError (the breaker did
 * not ask it, nothing was sent, the transaction rolled back). Any other failure may have come
 * after the store applied some or all of the batch (a timeout, a connection lost after the
 * write, a script error, a bug halfway through): UNCONFIRMED, "may or may not be stored".
 */
export function failedBatchStatus(error: unknown): Status {
  return error instanceof StoreUnavailableError ? Status.UNAVAILABLE : Status.UNCONFIRMED;
}
