// bench/unit-costs-doc.ts: the scaling model's numbers are filled from the bench's JSON, again
// on every run, and a name that matches nothing stops it rather than leaving a hole.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { derive, fill, format, readUnitCosts, SCENARIO, UNIT_COSTS, type UnitCosts } from "../../bench/unit-costs-doc.ts";

/** Round unit costs whose derived figures can be worked out by hand. */
const COSTS: UnitCosts = {
  gavel_us_per_bid_memory: 1,
  gavel_us_per_bid_redis: 4,
  redis_us_per_bid: 2,
  redis_us_per_call: 20,
  redis_bids_per_call: 10,
  redis_cpu_us_per_bid: 5,
  redis_in_bytes_per_bid: 30,
  redis_out_bytes_per_bid: 40,
  redis_us_per_bid_marginal: 1.5,
  redis_us_per_call_fixed: 5,
  gavel_us_per_feed_update: 0.1,
  redis_us_per_feed_update: 0.2,
  gavel_us_per_update: 0.5,
  rss_bytes_per_connection: 2000,
  rss_bytes_per_subscription: 500,
  rss_bytes_per_websocket: 4000,
  wire_bytes_per_bid: 45,
  wire_bytes_per_update: 30,
};

describe("unit-costs-doc", () => {
  test("fills placeholders, and fills them again with new figures", () => {
    const doc = "masters: {{redis_masters}}; R = {{redis_us_per_bid}} µs\n";
    const once = fill(doc, { redis_masters: 13, redis_us_per_bid: 5.2345 });
    expect(once).toBe("masters: <!--{{redis_masters}}-->13<!--/-->; R = <!--{{redis_us_per_bid}}-->5.23<!--/--> µs\n");
    const twice = fill(once, { redis_masters: 1500, redis_us_per_bid: 4 });
    expect(twice).toBe("masters: <!--{{redis_masters}}-->1,500<!--/-->; R = <!--{{redis_us_per_bid}}-->4<!--/--> µs\n");
  });

  test("a placeholder that names nothing stops the fill, naming it", () => {
    expect(() => fill("{{redis_mastres}}", { redis_masters: 1 })).toThrow("{{redis_mastres}}");
  });

  test("a unit cost missing from the JSON is named", () => {
    const { rss_bytes_per_websocket: _dropped, ...rest } = COSTS;
    expect(() => readUnitCosts({ ...rest, context: {} })).toThrow("rss_bytes_per_websocket");
    expect(readUnitCosts({ ...COSTS, context: { quick: true } })).toEqual(COSTS);
  });

  test("derived figures follow the formulas docs/scaling.md states", () => {
    const d = derive(COSTS);
    const bids = SCENARIO.target_bids_per_s;
    const updates = bids * SCENARIO.watchers_per_auction;
    expect(d.updates_per_s).toBe(updates);
    const feed = (bids * COSTS.gavel_us_per_feed_update) / 1e6;
    expect(d.node_feed_cores).toBeCloseTo(feed);
    const work = (bids * COSTS.gavel_us_per_bid_redis + updates * COSTS.gavel_us_per_update) / 1e6;
    const nodesCpu = Math.ceil(work / (SCENARIO.utilisation - feed));
    expect(d.gavel_nodes_cpu).toBe(nodesCpu);
    const nodesConnections = Math.ceil(SCENARIO.target_connections / SCENARIO.connections_per_node);
    expect(d.gavel_nodes_connections).toBe(nodesConnections);
    const nodes = Math.max(nodesCpu, nodesConnections);
    expect(d.gavel_nodes).toBe(nodes);
    const redisUs = COSTS.redis_cpu_us_per_bid + (nodes - 1) * COSTS.redis_us_per_feed_update;
    expect(d.redis_us_per_bid_at_scale).toBeCloseTo(redisUs);
    expect(d.redis_masters).toBe(Math.ceil((bids * redisUs) / (1e6 * SCENARIO.utilisation)));
    expect(d.gavel_memory_gb).toBeCloseTo((SCENARIO.target_connections * (2000 + SCENARIO.subscriptions_per_connection * 500)) / 1e9);
    expect(d.feed_bids_ceiling).toBeCloseTo((SCENARIO.utilisation * 1e6) / COSTS.gavel_us_per_feed_update);
    expect(String(d.breaks_first)).toContain("hot auction");
  });

  test("routed by group with GAVEL_REDIS_FEED=subscribed: the feed is shared by the nodes, each UPDATE goes to one node", () => {
    const d = derive(COSTS);
    const bids = SCENARIO.target_bids_per_s;
    const updates = bids * SCENARIO.watchers_per_auction;
    const work = (bids * COSTS.gavel_us_per_bid_redis + updates * COSTS.gavel_us_per_update) / 1e6;
    const feed = (bids * COSTS.gavel_us_per_feed_update) / 1e6;
    expect(d.routed_gavel_cores).toBeCloseTo(work + feed);
    // The fewest n with (work + feed) / n <= utilisation.
    let n = 1;
    while ((work + feed) / n > SCENARIO.utilisation) n++;
    expect(d.routed_gavel_nodes_cpu).toBe(n);
    const nodesConnections = Math.ceil(SCENARIO.target_connections / SCENARIO.connections_per_node);
    const nodes = Math.max(n, nodesConnections);
    expect(d.routed_gavel_nodes).toBe(nodes);
    expect(d.routed_node_feed_cores).toBeCloseTo(feed / nodes);
    expect(d.routed_redis_us_per_bid_at_scale).toBeCloseTo(COSTS.redis_cpu_us_per_bid);
    expect(d.routed_redis_masters).toBe(Math.ceil((bids * COSTS.redis_cpu_us_per_bid) / (1e6 * SCENARIO.utilisation)));
    expect(d.routed_redis_processes).toBe(2 * (d.routed_redis_masters as number));
    expect(d.routed_redis_gbit).toBeCloseTo((bids * (COSTS.redis_in_bytes_per_bid + COSTS.redis_out_bytes_per_bid) * 8) / 1e9);
    expect(d.routed_feed_gbit_per_node).toBeCloseTo(((bids / nodes) * COSTS.wire_bytes_per_update * 8) / 1e9);
    expect(d.routed_min_shard_groups).toBe(Math.max(nodes, 4 * (d.routed_redis_masters as number)));
    expect(String(d.routed_breaks_first)).toContain("hot auction");
  });

  test("routed, a feed over one node's budget still has a node count", () => {
    const d = derive({ ...COSTS, gavel_us_per_feed_update: 2 });
    expect(d.gavel_nodes_cpu).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isFinite(d.routed_gavel_nodes_cpu as number)).toBe(true);
    const bids = SCENARIO.target_bids_per_s;
    const work = (bids * COSTS.gavel_us_per_bid_redis + bids * SCENARIO.watchers_per_auction * COSTS.gavel_us_per_update) / 1e6;
    expect(d.routed_gavel_nodes_cpu).toBe(Math.ceil((work + (bids * 2) / 1e6) / SCENARIO.utilisation));
  });

  test("a feed over a node's budget leaves no node count, and says so", () => {
    const d = derive({ ...COSTS, gavel_us_per_feed_update: 2 });
    expect(d.gavel_nodes_cpu).toBe(Number.POSITIVE_INFINITY);
    expect(format(d.gavel_nodes!)).toContain("none");
    expect(String(d.breaks_first)).toContain("feed");
    expect(Number.isFinite(d.redis_masters as number)).toBe(true);
  });

  test("docs/scaling.md names only unit costs, scenario parameters, derived figures and the run's record", () => {
    const doc = readFileSync(join(import.meta.dir, "../../docs/scaling.md"), "utf8");
    const record = { date: "", cores: 2, idle_connections: 1, subscriptions: 1, websockets: 1, redis_accepted_per_s: 1, memory_accepted_per_s: 1, fanout_updates_per_s: 1, baseline_rss_mb: 1 };
    const filled = fill(doc, { ...record, ...COSTS, ...derive(COSTS) });
    expect(filled).not.toMatch(/(?<!<!--)\{\{\w+\}\}(?!-->)/);
    for (const key of UNIT_COSTS) expect(doc).toContain(`{{${key}}}`);
  });
});
