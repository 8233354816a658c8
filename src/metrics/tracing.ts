// Optional tracing with OpenTelemetry: spans for the store calls of sampled drain batches and
// closer runs, exported over OTLP/HTTP (JSON) to OTEL_EXPORTER_OTLP_ENDPOINT. Off by default:
// the OpenTelemetry packages are imported only by startTracing(), which the server calls only
// when an endpoint is set; with tracing off each batch pays one null check and nothing per bid.

import type { Span, SpanStatusCode as SpanStatusCodes } from "@opentelemetry/api";
import type { OtelTracing } from "../config/otel.ts";
import { statusName } from "../protocol/names.ts";

/** Span names, as docs/operations.md ("Tracing") lists them. */
export const SpanName = {
  APPLY_BIDS: "gavel.store.apply_bids",
  CLOSE_DUE: "gavel.store.close_due",
} as const;
export type SpanName = (typeof SpanName)[keyof typeof SpanName];

/** Span attribute keys. */
export const SpanAttribute = {
  BATCH_SIZE: "gavel.batch.size",
  STORE_KIND: "gavel.store.kind",
  /** Followed by the lower-case status name: gavel.result.accepted, gavel.result.outbid, ... */
  RESULT_PREFIX: "gavel.result.",
  CLOSED_COUNT: "gavel.closed.count",
  /** The semantic conventions' name for the class of a failure. */
  ERROR_TYPE: "error.type",
} as const;

/** The tracer's (instrumentation scope's) name. */
const TRACER_NAME = "gavel";
/** Shutdown waits this long at most for the last spans to reach the collector. */
export const TRACE_FLUSH_MS = 300;
/** One slot per RESULT status code, as the metrics count them. */
const STATUS_SLOTS = 16;

/** What the drain and the closer see of a batch's results. */
export interface TracedBatch {
  readonly count: number;
  readonly status: Uint8Array;
}

/** Lower-case attribute keys by status code, built once. */
const RESULT_KEYS: readonly (string | undefined)[] = Array.from({ length: STATUS_SLOTS }, (_, code) => {
  const name = statusName(code);
  return name === undefined ? undefined : `${SpanAttribute.RESULT_PREFIX}${name.toLowerCase()}`;
});

/** The class of a failure, for `error.type`: its Error name, else its type. */
function errorType(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

export type BatchSpan = Span;

/** Starts and ends Gavel's spans; one per server, from startTracing(). */
export class Tracing {
  /** Counts per status in the batch being ended (reused: batches end one at a time). */
  private readonly statusCounts = new Uint32Array(STATUS_SLOTS);

  constructor(
    private readonly tracer: import("@opentelemetry/api").Tracer,
    private readonly errorCode: typeof SpanStatusCodes.ERROR,
    private readonly sampleRatio: number,
    private readonly storeKind: string,
    private readonly flushAndStop: () => Promise<void>,
  ) {}

  /** Decided before any span exists, so a batch not sampled allocates nothing. */
  private sampled(): boolean {
    return this.sampleRatio > 0 && Math.random() < this.sampleRatio;
  }

  /** A span for one drain batch going to the store, or null when this batch is not sampled. */
  startBatch(size: number): BatchSpan | null {
    if (!this.sampled()) return null;
    return this.tracer.startSpan(SpanName.APPLY_BIDS, {
      attributes: { [SpanAttribute.BATCH_SIZE]: size, [SpanAttribute.STORE_KIND]: this.storeKind },
    });
  }

  /** Ends a batch's span with its result counts by status, and the failure's class if it failed. */
  endBatch(span: BatchSpan, batch: TracedBatch, error: unknown): void {
    const counts = this.statusCounts;
    counts.fill(0);
    for (let i = 0; i < batch.count; i++) counts[Math.min(batch.status[i]!, STATUS_SLOTS - 1)]!++;
    for (let code = 0; code < STATUS_SLOTS; code++) {
      const key = RESULT_KEYS[code];
      if (counts[code]! > 0 && key !== undefined) span.setAttribute(key, counts[code]!);
    }
    if (error !== null && error !== undefined) this.fail(span, error);
    span.end();
  }

  /** Runs a sampled closer call (closeDue) inside a span; unsampled calls run as they are. */
  async closeDue<T extends readonly unknown[]>(call: () => Promise<T>): Promise<T> {
    if (!this.sampled()) return call();
    const span = this.tracer.startSpan(SpanName.CLOSE_DUE, { attributes: { [SpanAttribute.STORE_KIND]: this.storeKind } });
    try {
      const closed = await call();
      span.setAttribute(SpanAttribute.CLOSED_COUNT, closed.length);
      return closed;
    } catch (error) {
      this.fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  private fail(span: Span, error: unknown): void {
    span.setAttribute(SpanAttribute.ERROR_TYPE, errorType(error));
    span.setStatus({ code: this.errorCode, message: error instanceof Error ? error.message : String(error) });
  }

  /** Sends the spans still queued, waiting at most TRACE_FLUSH_MS, and stops exporting. */
  async stop(): Promise<void> {
    await Promise.race([this.flushAndStop().catch(() => undefined), Bun.sleep(TRACE_FLUSH_MS)]);
  }
}

/**
 * Loads OpenTelemetry and starts exporting: a BasicTracerProvider with a BatchSpanProcessor
 * (bounded queue; OTEL_BSP_* tune it) and an OTLP/HTTP JSON exporter (OTEL_EXPORTER_OTLP_HEADERS
 * and _TIMEOUT apply as OpenTelemetry documents them). Export failures are dropped by the
 * processor: a collector that is down never slows or stops the bid path.
 * @example
 * const tracing = config.tracing === null ? null : await startTracing(config.tracing, config.traceSample, config.store);
 */
export async function startTracing(otel: OtelTracing, sampleRatio: number, storeKind: string): Promise<Tracing> {
  const [api, sdk, exporterModule, resources] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  const exporter = new exporterModule.OTLPTraceExporter({ url: otel.tracesUrl });
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ "service.name": otel.serviceName }),
    // Gavel samples before a span exists (see Tracing.sampled); every span it starts is kept.
    sampler: new sdk.AlwaysOnSampler(),
    spanProcessors: [new sdk.BatchSpanProcessor(exporter)],
  });
  return new Tracing(provider.getTracer(TRACER_NAME), api.SpanStatusCode.ERROR, sampleRatio, storeKind, () => provider.shutdown());
}
