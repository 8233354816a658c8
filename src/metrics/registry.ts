// The Prometheus registry behind /metrics (prom-client). Nothing here runs per bid: each metric
// reads the hot path's typed-array counters (counters.ts) or asks the server when scraped.

import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from "prom-client";
import { CLOSE_RESULT_NAMES, STATUS_LABELS, type ServerCounters } from "./counters.ts";
import type { LatencyHistogram } from "./latency-histogram.ts";
import type { WebhookCounters } from "./webhook-counters.ts";

/**
 * How often the event-loop delay is sampled (prom-client's default, 10 ms, cost an idle server
 * ~0.5% CPU on its own; a lag worth alerting on lasts far longer than this).
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** What /metrics reads from the running server at scrape time. */
export interface MetricsSource {
  readonly counters: ServerCounters;
  /** Bids waiting in the ring. */
  ringDepth(): number;
  /** Open connections by transport. */
  connections(): { tcp: number; ws: number };
  /** (connection, auction) subscriptions on this node. */
  subscriptions(): number;
  /** The store answers (store.unavailableReason() is null). */
  storeUp(): boolean;
  /** The Redis circuit breaker is open (bids answered UNAVAILABLE without asking Redis). */
  circuitOpen(): boolean;
  /** Present when webhooks are on (GAVEL_WEBHOOK_URL): the dispatcher's counts and the outbox. */
  webhooks?: { counters: WebhookCounters; backlog(): number };
}

/**
 * A histogram whose buckets live in a LatencyHistogram: prom-client's own Histogram would
 * look up labels and allocate on every observe, which the bid path cannot afford.
 */
function typedHistogram(registry: Registry, name: string, help: string, histogram: LatencyHistogram): void {
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get() {
      const cumulative = histogram.cumulative();
      const values = histogram.bounds.map((bound, i) => ({ metricName: `${name}_bucket`, labels: { le: bound }, value: cumulative[i]! }));
      values.push({ metricName: `${name}_bucket`, labels: { le: "+Inf" as unknown as number }, value: cumulative[cumulative.length - 1]! });
      return {
        name,
        help,
        type: "histogram",
        aggregator: "sum",
        values: [...values, { metricName: `${name}_sum`, labels: {}, value: histogram.sum }, { metricName: `${name}_count`, labels: {}, value: histogram.count }],
      };
    },
  };
  registry.registerMetric(metric as unknown as Metric);
}

/** A counter whose value is read from the server at scrape time. */
function readCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function readGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/**
 * Builds the registry: Gavel's metrics (no auction or user ids as labels: their number is
 * unbounded) and prom-client's process metrics (CPU, memory, event-loop lag, GC).
 * @example
 * const registry = createMetricsRegistry(source);
 * return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
 */
export function createMetricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const { counters } = source;

  new Counter({
    name: "gavel_bids_total",
    help: "RESULTs sent for BIDs, by status",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      this.reset();
      for (let code = 0; code < STATUS_LABELS.length; code++) {
        const name = STATUS_LABELS[code];
        if (name !== undefined) this.inc({ status: name }, counters.bidsByStatus[code]!);
      }
    },
  });
  new Counter({
    name: "gavel_auctions_closed_total",
    help: "Auctions closed, by result: sold, unsold (no bid or reserve not met), cancelled",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      this.reset();
      CLOSE_RESULT_NAMES.forEach((result, i) => this.inc({ result }, counters.auctionsClosed[i]!));
    },
  });
  new Gauge({
    name: "gavel_connections",
    help: "Open client connections, by transport",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      const { tcp, ws } = source.connections();
      this.set({ transport: "tcp" }, tcp);
      this.set({ transport: "ws" }, ws);
    },
  });
  typedHistogram(registry, "gavel_bid_latency_seconds", "From a BID read to its RESULT queued for writing", counters.bidLatency);
  typedHistogram(registry, "gavel_store_batch_seconds", "One store call applying a drain batch", counters.storeBatchSeconds);
  typedHistogram(registry, "gavel_store_batch_size", "Bids per drain batch", counters.storeBatchSize);
  readGauge(registry, "gavel_ring_depth", "Bids read and waiting for the store", () => source.ringDepth());
  readGauge(registry, "gavel_subscriptions", "Subscriptions (connection, auction) on this node", () => source.subscriptions());
  readCounter(registry, "gavel_updates_sent_total", "UPDATE frames queued to subscribers", () => counters.updatesSent);
  readCounter(registry, "gavel_conflated_total", "UPDATEs folded into a slow subscriber's latest state instead of queued", () => counters.conflated);
  readCounter(
    registry,
    "gavel_slow_subscriber_disconnects_total",
    "Subscribers disconnected for staying over GAVEL_SUBSCRIBER_BUFFER longer than GAVEL_SLOW_SUBSCRIBER_MS",
    () => counters.slowSubscriberDisconnects,
  );
  readGauge(registry, "gavel_store_up", "1 while the store answers, 0 while it cannot be trusted with writes", () => (source.storeUp() ? 1 : 0));
  const { webhooks } = source;
  if (webhooks !== undefined) {
    new Counter({
      name: "gavel_webhooks_total",
      help: "Webhook POSTs, by result: delivered (a 2xx answered) or failed (retried)",
      labelNames: ["result"],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: "delivered" }, webhooks.counters.delivered);
        this.inc({ result: "failed" }, webhooks.counters.failed);
      },
    });
    readGauge(registry, "gavel_webhook_backlog", "Webhook events stored in the outbox and not delivered yet", () => webhooks.backlog());
  }
  readGauge(registry, "gavel_circuit_open", "1 while the Redis circuit breaker is open", () => (source.circuitOpen() ? 1 : 0));
  return registry;
}
