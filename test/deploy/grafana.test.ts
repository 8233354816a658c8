// deploy/grafana/gavel.json: every metric its PromQL reads is one the server exposes.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ServerCounters } from "../../src/metrics/counters.ts";
import { createMetricsRegistry } from "../../src/metrics/registry.ts";

const DASHBOARD = join(import.meta.dir, "../../deploy/grafana/gavel.json");

/** PromQL words that are not metric names. */
const PROMQL_WORDS = new Set([
  "sum", "min", "max", "avg", "by", "without", "rate", "increase", "irate", "histogram_quantile", "le", "instance",
  "status", "transport", "result", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
]);

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

/** The metric names an expression reads: identifiers outside `{...}` and `[...]` that are no PromQL word. */
function metricNames(expr: string): string[] {
  const bare = expr.replace(/\{[^}]*\}/g, "").replace(/\[[^\]]*\]/g, "").replace(/"[^"]*"/g, "");
  return (bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((word) => !PROMQL_WORDS.has(word) && !word.startsWith("$"));
}

async function exposedNames(): Promise<Set<string>> {
  const registry = createMetricsRegistry({
    counters: new ServerCounters(),
    ringDepth: () => 0,
    connections: () => ({ tcp: 0, ws: 0 }),
    subscriptions: () => 0,
    storeUp: () => true,
    circuitOpen: () => false,
  });
  const text = await registry.metrics();
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}

describe("the Grafana dashboard", () => {
  test("every metric name in its PromQL exists in the server's exposition (histograms as _bucket, _sum, _count)", async () => {
    const dashboard = (await Bun.file(DASHBOARD).json()) as { panels: Panel[]; uid: string };
    const exposed = await exposedNames();
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      expect({ panel: panel.title, targets: (panel.targets ?? []).length > 0 }).toEqual({ panel: panel.title, targets: true });
      for (const target of panel.targets ?? []) for (const name of metricNames(target.expr)) used.add(name);
    }
    const missing = [...used].filter((name) => !exposed.has(name));
    expect(missing).toEqual([]);
    // What the operations guide promises the dashboard shows.
    for (const name of [
      "gavel_bids_total", "gavel_bid_latency_seconds_bucket", "gavel_store_batch_seconds_bucket", "gavel_store_batch_size_sum",
      "gavel_ring_depth", "gavel_connections", "gavel_subscriptions", "gavel_updates_sent_total", "gavel_conflated_total",
      "gavel_slow_subscriber_disconnects_total", "gavel_auctions_closed_total", "gavel_store_up", "gavel_circuit_open",
      "process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_p99_seconds",
    ]) {
      expect({ name, used: used.has(name) }).toEqual({ name, used: true });
    }
  });

  test("the name extraction sees through labels, ranges and functions", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(gavel_bid_latency_seconds_bucket{instance=~"$instance"}[$__rate_interval])))')).toEqual([
      "gavel_bid_latency_seconds_bucket",
    ]);
    expect(metricNames("gavel_a / gavel_b")).toEqual(["gavel_a", "gavel_b"]);
  });
});
