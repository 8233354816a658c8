// The metrics module on its own: typed-array histograms in Prometheus's shape, and every
// gavel_* metric in the exposition with the values the counters hold.

import { describe, expect, test } from "bun:test";
import { CloseResult, ServerCounters } from "../../src/metrics/counters.ts";
import { LatencyHistogram } from "../../src/metrics/latency-histogram.ts";
import { createMetricsRegistry } from "../../src/metrics/registry.ts";
import { Status } from "../../src/protocol/constants.ts";

describe("LatencyHistogram", () => {
  test("counts each observation in the first bucket whose bound it does not exceed, +Inf last", () => {
    const histogram = new LatencyHistogram([1, 2, 5]);
    for (const value of [0.5, 1, 1.5, 2, 4.9, 5, 6, 100]) histogram.observe(value);
    expect([...histogram.counts]).toEqual([2, 2, 2, 2]);
    expect(histogram.cumulative()).toEqual([2, 4, 6, 8]);
    expect(histogram.count).toBe(8);
    expect(histogram.sum).toBeCloseTo(120.9);
  });

  test("refuses bounds that are not strictly ascending", () => {
    expect(() => new LatencyHistogram([1, 1])).toThrow(RangeError);
  });
});

describe("the registry", () => {
  test("exposes every gavel_* metric, with lower-case status labels and the counters' values", async () => {
    const counters = new ServerCounters();
    counters.countBid(Status.ACCEPTED);
    counters.countBid(Status.ACCEPTED);
    counters.countBid(Status.UNCONFIRMED);
    counters.countClosed(CloseResult.SOLD);
    counters.countClosed(CloseResult.CANCELLED);
    counters.updatesSent = 7;
    counters.conflated = 3;
    counters.slowSubscriberDisconnects = 1;
    counters.bidLatency.observe(0.0003);
    counters.storeBatchSeconds.observe(0.002);
    counters.storeBatchSize.observe(100);
    const registry = createMetricsRegistry({
      counters,
      ringDepth: () => 12,
      connections: () => ({ tcp: 4, ws: 2 }),
      subscriptions: () => 9,
      storeUp: () => true,
      circuitOpen: () => false,
    });
    const text = await registry.metrics();
    const lines = new Set(text.split("\n"));
    for (const line of [
      'gavel_bids_total{status="accepted"} 2',
      'gavel_bids_total{status="unconfirmed"} 1',
      'gavel_bids_total{status="outbid"} 0',
      'gavel_auctions_closed_total{result="sold"} 1',
      'gavel_auctions_closed_total{result="unsold"} 0',
      'gavel_auctions_closed_total{result="cancelled"} 1',
      'gavel_connections{transport="tcp"} 4',
      'gavel_connections{transport="ws"} 2',
      "gavel_ring_depth 12",
      "gavel_subscriptions 9",
      "gavel_updates_sent_total 7",
      "gavel_conflated_total 3",
      "gavel_slow_subscriber_disconnects_total 1",
      "gavel_store_up 1",
      "gavel_circuit_open 0",
      'gavel_bid_latency_seconds_bucket{le="0.00025"} 0',
      'gavel_bid_latency_seconds_bucket{le="0.0005"} 1',
      'gavel_bid_latency_seconds_bucket{le="+Inf"} 1',
      "gavel_bid_latency_seconds_count 1",
      "gavel_store_batch_seconds_count 1",
      'gavel_store_batch_size_bucket{le="128"} 1',
      "# TYPE gavel_bid_latency_seconds histogram",
    ]) {
      expect({ line, present: lines.has(line) }).toEqual({ line, present: true });
    }
    expect(text).toContain("process_cpu_seconds_total");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
    // Two scrapes in a row give the same counts (collect resets before it reads).
    expect(await registry.metrics()).toContain('gavel_bids_total{status="accepted"} 2');
  });
});
