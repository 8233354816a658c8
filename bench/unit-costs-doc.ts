// Fills docs/scaling.md's model from bench/unit-costs.ts's JSON, in place, so no figure of the
// model is written by hand:
//
//   bun run bench/unit-costs.ts --json > unit-costs.json
//   bun run bench/unit-costs-doc.ts unit-costs.json [--doc docs/scaling.md]
//
// A placeholder is `{{name}}`: a unit cost (a key of the JSON), a parameter of the scenario
// (SCENARIO below) or a figure derived from both (derive()). Filled, it becomes
// `<!--{{name}}-->value<!--/-->`, which renders as the value alone and is filled again by the
// next run. An unknown name, or a unit cost missing from the JSON, stops the script naming it.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

/** The unit costs the model reads (bench/unit-costs.ts's JSON keys). */
export const UNIT_COSTS = [
  "gavel_us_per_bid_memory",
  "gavel_us_per_bid_redis",
  "redis_us_per_bid",
  "redis_us_per_call",
  "redis_bids_per_call",
  "redis_cpu_us_per_bid",
  "redis_in_bytes_per_bid",
  "redis_out_bytes_per_bid",
  "redis_us_per_bid_marginal",
  "redis_us_per_call_fixed",
  "gavel_us_per_feed_update",
  "redis_us_per_feed_update",
  "gavel_us_per_update",
  "rss_bytes_per_connection",
  "rss_bytes_per_subscription",
  "rss_bytes_per_websocket",
  "wire_bytes_per_bid",
  "wire_bytes_per_update",
] as const;
export type UnitCosts = Record<(typeof UNIT_COSTS)[number], number>;

/** The deployment the model sizes, as docs/scaling.md states it. */
export const SCENARIO = {
  target_bids_per_s: 1_000_000,
  target_connections: 1_000_000,
  /** Subscribers each accepted bid's UPDATE reaches. */
  watchers_per_auction: 10,
  subscriptions_per_connection: 1,
  /** The share of a core each process is planned to use. */
  utilisation: 0.5,
  /** GAVEL_MAX_CONNECTIONS's default. */
  connections_per_node: 16_000,
  /** Ethernet (with preamble and gap) + IPv4 + TCP with timestamps, per packet. */
  packet_overhead_bytes: 90,
  nic_gbit: 10,
  /** Centrifugo's published run: WebSocket connections and messages delivered per second. */
  centrifugo_connections: 1_000_000,
  centrifugo_updates_per_s: 500_000,
} as const;

const MICROS = 1e6;
const BITS = 8;
const GIGA = 1e9;

/**
 * How UPDATEs reach the nodes. `all` (GAVEL_REDIS_FEED's default): every node subscribes to every
 * group and receives every accepted bid's UPDATE. `routed`: GAVEL_REDIS_FEED=subscribed with the
 * clients routed by group, so each group's watchers sit on one node: each UPDATE goes to one node,
 * and the feed is spread over the nodes instead of copied to each.
 */
export type Feed = "all" | "routed";

/** What one load costs: nodes, masters, memory, bandwidth. */
function size(u: UnitCosts, bids: number, connections: number, updates: number, perConnectionBytes: number, feed: Feed = "all") {
  const s = SCENARIO;
  const budget = s.utilisation * MICROS;
  // The feed's whole cost: with `all` each node pays it, routed it is shared by the nodes.
  const feedUs = bids * u.gavel_us_per_feed_update;
  const workUs = bids * u.gavel_us_per_bid_redis + updates * u.gavel_us_per_update;
  // all: n with workUs / n + feedUs <= budget. routed: n with (workUs + feedUs) / n <= budget.
  const nodesCpu =
    feed === "routed"
      ? Math.ceil((workUs + feedUs) / budget)
      : feedUs >= budget
        ? Number.POSITIVE_INFINITY
        : Math.ceil(workUs / (budget - feedUs));
  const nodesConnections = Math.ceil(connections / s.connections_per_node);
  const nodes = Math.max(nodesCpu, nodesConnections, 1);
  // When the feed alone is over a node's budget there is no CPU answer: Redis is then sized
  // for the nodes the connections need (the fewest that would exist).
  const feedNodes = Number.isFinite(nodes) ? nodes : nodesConnections;
  // Nodes each UPDATE goes to besides the one redis_cpu_us_per_bid already counts.
  const extraCopies = feed === "routed" ? 0 : feedNodes - 1;
  const redisUsAtScale = u.redis_cpu_us_per_bid + extraCopies * u.redis_us_per_feed_update;
  const masters = Math.ceil((bids * redisUsAtScale) / budget);
  const memoryBytes = connections * perConnectionBytes + connections * s.subscriptions_per_connection * u.rss_bytes_per_subscription;
  // The feed's share of one node: all of it, or 1/nodes of it when routed.
  const nodeFeedUs = feed === "routed" ? feedUs / feedNodes : feedUs;
  return {
    feedCores: nodeFeedUs / MICROS,
    workCores: workUs / MICROS,
    totalCores: (workUs + feedUs) / MICROS,
    nodesCpu,
    nodesConnections,
    nodes,
    feedNodes,
    extraCopies,
    redisUsAtScale,
    masters,
    memoryBytes,
  };
}

/** Every derived figure of the model, by placeholder name. */
export function derive(u: UnitCosts): Record<string, number | string> {
  const s = SCENARIO;
  const updates = s.target_bids_per_s * s.watchers_per_auction;
  const tcp = size(u, s.target_bids_per_s, s.target_connections, updates, u.rss_bytes_per_connection);
  const ws = size(u, s.target_bids_per_s, s.target_connections, updates, u.rss_bytes_per_websocket);
  const cfBids = s.centrifugo_updates_per_s / s.watchers_per_auction;
  const cf = size(u, cfBids, s.centrifugo_connections, s.centrifugo_updates_per_s, u.rss_bytes_per_websocket);

  const gbit = (bytesPerS: number) => (bytesPerS * BITS) / GIGA;
  const clientFrames = s.target_bids_per_s * u.wire_bytes_per_bid + updates * u.wire_bytes_per_update;
  // Worst case: every frame in a packet of its own (BID and RESULT: two packets).
  const clientPackets = clientFrames + (2 * s.target_bids_per_s + updates) * s.packet_overhead_bytes;
  const redisBytes = (copies: number) => s.target_bids_per_s * (u.redis_in_bytes_per_bid + u.redis_out_bytes_per_bid + copies * u.wire_bytes_per_update);
  // GAVEL_REDIS_FEED=subscribed, clients routed by group: each UPDATE goes to one node.
  const routed = size(u, s.target_bids_per_s, s.target_connections, updates, u.rss_bytes_per_connection, "routed");
  const routedWs = size(u, s.target_bids_per_s, s.target_connections, updates, u.rss_bytes_per_websocket, "routed");
  const routedMasterCeiling = (s.utilisation * MICROS) / routed.redisUsAtScale;
  const feedCeiling = (s.utilisation * MICROS) / u.gavel_us_per_feed_update;
  const hotAuctionCeiling = MICROS / u.redis_cpu_us_per_bid;
  const masterCeiling = (s.utilisation * MICROS) / tcp.redisUsAtScale;

  // The feed bounds the whole deployment; a hot auction only one auction (and its group).
  const breaksFirst =
    feedCeiling < s.target_bids_per_s
      ? `the Pub/Sub feed every node receives, at about ${format(feedCeiling)} accepted bids/s for the whole deployment, below the target`
      : `no bound of the deployment's size (it grows by adding nodes and masters); a single hot auction breaks first, at about ${format(hotAuctionCeiling)} accepted bids/s on that one auction`;

  // Routed, no ceiling of the whole deployment is left: one hot auction binds first, and the
  // node count is set by the connections or the CPU, whichever asks for more.
  const routedBreaksFirst =
    routed.nodesConnections >= routed.nodesCpu
      ? `a single hot auction, at about ${format(hotAuctionCeiling)} accepted bids/s on that one auction; nothing else binds as the deployment grows, and the node count is set by the connections (${format(routed.nodesConnections)} nodes hold them where ${format(routed.nodesCpu)} would do for the CPU)`
      : `a single hot auction, at about ${format(hotAuctionCeiling)} accepted bids/s on that one auction; nothing else binds as the deployment grows, and the node count is set by the CPU (${format(routed.nodesCpu)} nodes)`;

  return {
    ...s,
    updates_per_s: updates,
    node_feed_cores: tcp.feedCores,
    gavel_work_cores: tcp.workCores,
    gavel_nodes_cpu: tcp.nodesCpu,
    gavel_nodes_connections: tcp.nodesConnections,
    gavel_nodes: tcp.nodes,
    gavel_nodes_ws: ws.nodes,
    redis_us_per_bid_at_scale: tcp.redisUsAtScale,
    redis_masters: tcp.masters,
    redis_processes: 2 * tcp.masters,
    redis_us_per_bid_one_per_call: u.redis_us_per_bid_marginal + u.redis_us_per_call_fixed,
    bids_per_master_ceiling: masterCeiling,
    gavel_memory_gb: tcp.memoryBytes / GIGA,
    gavel_memory_gb_ws: ws.memoryBytes / GIGA,
    client_gbit_frames: gbit(clientFrames),
    client_gbit_packets: gbit(clientPackets),
    client_nics: Math.ceil(gbit(clientPackets) / (s.utilisation * s.nic_gbit)),
    redis_gbit: gbit(redisBytes(tcp.extraCopies)),
    feed_gbit_per_node: gbit(s.target_bids_per_s * u.wire_bytes_per_update),
    feed_bids_ceiling: feedCeiling,
    hot_auction_bids_ceiling: hotAuctionCeiling,
    breaks_first: breaksFirst,
    routed_node_feed_cores: routed.feedCores,
    routed_gavel_cores: routed.totalCores,
    routed_gavel_nodes_cpu: routed.nodesCpu,
    routed_gavel_nodes_connections: routed.nodesConnections,
    routed_gavel_nodes: routed.nodes,
    routed_gavel_nodes_ws: routedWs.nodes,
    routed_redis_us_per_bid_at_scale: routed.redisUsAtScale,
    routed_redis_masters: routed.masters,
    routed_redis_processes: 2 * routed.masters,
    routed_bids_per_master_ceiling: routedMasterCeiling,
    routed_redis_gbit: gbit(redisBytes(routed.extraCopies)),
    routed_feed_gbit_per_node: gbit((s.target_bids_per_s / routed.feedNodes) * u.wire_bytes_per_update),
    // Each node must watch groups of its own, and each master hold several (see "Choosing G").
    routed_min_shard_groups: Math.max(routed.nodes, 4 * routed.masters),
    routed_breaks_first: routedBreaksFirst,
    centrifugo_bids_per_s: cfBids,
    centrifugo_gavel_nodes_cpu: cf.nodesCpu,
    centrifugo_gavel_nodes_connections: cf.nodesConnections,
    centrifugo_gavel_memory_gb: cf.memoryBytes / GIGA,
    centrifugo_redis_masters: cf.masters,
  };
}

/** Three significant figures, thousands separated; whole numbers stay whole. */
export function format(value: number | string): string {
  if (typeof value === "string") return value;
  if (value === Number.POSITIVE_INFINITY) return "none (the feed alone is over budget)";
  if (!Number.isFinite(value)) return "n/a";
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const rounded = Math.abs(value) >= 1000 ? Math.round(value) : Number(value.toPrecision(3));
  return rounded.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

const FILLED = /<!--\{\{(\w+)\}\}-->[\s\S]*?<!--\/-->/g;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** The document with every placeholder (filled before or not) set from `figures`. */
export function fill(doc: string, figures: Record<string, number | string>): string {
  const bare = doc.replace(FILLED, (_all, name: string) => `{{${name}}}`);
  return bare.replace(PLACEHOLDER, (_all, name: string) => {
    if (!(name in figures)) throw new Error(`docs placeholder {{${name}}} is neither a unit cost, a scenario parameter nor a derived figure`);
    return `<!--{{${name}}}-->${format(figures[name]!)}<!--/-->`;
  });
}

/** The unit costs from the bench's JSON; a missing or non-number one is named. */
export function readUnitCosts(json: unknown): UnitCosts {
  const record = json as Record<string, unknown>;
  const costs = {} as UnitCosts;
  for (const key of UNIT_COSTS) {
    const value = record[key];
    if (typeof value !== "number") throw new Error(`unit cost ${key} is missing from the JSON (got ${JSON.stringify(value)})`);
    costs[key] = value;
  }
  return costs;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { doc: { type: "string", default: join(import.meta.dir, "../docs/scaling.md") } },
  });
  const [file] = positionals;
  if (file === undefined) {
    console.error("usage: bun run bench/unit-costs-doc.ts <unit-costs.json> [--doc docs/scaling.md]");
    process.exit(2);
  }
  try {
    const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    const costs = readUnitCosts(json);
    const doc = readFileSync(values.doc!, "utf8");
    const context = (json.context ?? {}) as Record<string, unknown>;
    // The run's own record (date, loads reached) can be shown too: {{date}}, {{redis_accepted_per_s}}...
    const shown = Object.fromEntries(Object.entries(context).filter((e): e is [string, number | string] => typeof e[1] === "number" || typeof e[1] === "string"));
    writeFileSync(values.doc!, fill(doc, { ...shown, ...costs, ...derive(costs) }));
    if (context.quick === true) console.error("warning: these figures come from a --quick run and mean nothing");
    console.log(`filled ${values.doc} from ${file}`);
  } catch (error) {
    console.error(`unit-costs-doc: ${(error as Error).message}`);
    process.exit(1);
  }
}
