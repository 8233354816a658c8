// Per-unit costs: the figures docs/scaling.md's model is built from, measured in one command.
//
//   bun run bench/unit-costs.ts [--seconds 10] [--connections 50] [--window 16] [--auctions 1000]
//       [--idle 5000] [--subs-per-connection 4] [--websockets 5000] [--subscribers 200]
//       [--fanout-auctions 4] [--feed-nodes 2] [--json] [--quick]
//
// What it runs, each on its own throwaway servers (bench/load/spawn.ts), with the closed-loop
// generator of bench/load.ts (runShard) in this process, rising amounts (almost every bid is
// ACCEPTED), each measured run after a short warm-up run on other auctions and with the
// processes' idle CPU (read for a few seconds just before) taken off:
//
//   memory      Gavel CPU per acknowledged bid on the memory store (server CPU from /proc over
//               the run / ACCEPTED bids);
//   redis       the same on one Redis; and inside Redis, from INFO commandstats before and
//               after: cmdstat_evalsha usec / ACCEPTED bids (the Lua script's own time), usec
//               per batch call, bids per call; the whole redis-server CPU per bid (script,
//               parsing, replies, the one Pub/Sub delivery to the node); Redis's network bytes
//               in and out per bid (INFO stats);
//   small-batch the same with GAVEL_BATCH=4, so a call carries about one bid: with the run
//               above, a line through (bids per call, usec per call) gives the fixed usec of a
//               Lua call and the usec each further bid in it adds;
//   feed        the redis run again with --feed-nodes extra Gavel nodes that serve no client:
//               each still receives every UPDATE through Pub/Sub (one message per Lua call,
//               the call's UPDATEs back to back), so their CPU per bid is what one UPDATE of
//               the feed costs a node, and Redis's extra CPU per bid per extra node what
//               sending it to one more node costs Redis; then once more with
//               GAVEL_REDIS_FEED=subscribed on every node: the extra nodes follow no auction, so
//               they listen to no channel and should receive nothing (their CPU per bid is
//               then only idle noise, and Redis sends no copy to them);
//   fan-out     memory store, --subscribers connections each following --fanout-auctions
//               auctions, one bidding connection on the same auctions: (server CPU - ACCEPTED
//               x the memory per-bid cost) / UPDATEs delivered (bytes received / 30);
//   memory use  a fresh memory server: RSS before and after --idle TCP connections (each sent
//               a PING and got its PONG), after --subs-per-connection SUBSCRIBEs on each (all
//               STATEs received), after --websockets WebSocket connections on /ws (PING/PONG
//               each): delta / count.
//
// Bytes on the wire per bid and per UPDATE are computed from the protocol's frame sizes, not
// measured. --json prints one JSON object (the keys are docs/scaling.md's placeholders; fill
// them with `bun run bench/unit-costs-doc.ts <file>`). --quick: a few seconds, small sizes, to
// see that it runs; its figures mean nothing. Run it alone on the machine: every figure is a
// CPU or memory reading of whole processes.

import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Socket } from "bun";
import { Redis } from "ioredis";
import { encodePing, encodeSubscribe } from "../src/protocol/codec.ts";
import {
  BID_FRAME_SIZE,
  HEADER_SIZE,
  NO_REPLAY,
  PayloadLength,
  RESULT_FRAME_SIZE,
  Status,
  UPDATE_FRAME_SIZE,
} from "../src/protocol/constants.ts";
import { createAuctions } from "./load/auctions.ts";
import { treeCpuSeconds } from "./load/cpu.ts";
import { runShard } from "./load/shard.ts";
import { spawnRedis, spawnServer, stopAllSpawned, type SpawnedRedis, type SpawnedServer, type SpawnStore } from "./load/spawn.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    window: { type: "string", default: "16" },
    auctions: { type: "string", default: "1000" },
    idle: { type: "string", default: "5000" },
    "subs-per-connection": { type: "string", default: "4" },
    websockets: { type: "string", default: "5000" },
    subscribers: { type: "string", default: "200" },
    "fanout-auctions": { type: "string", default: "4" },
    "feed-nodes": { type: "string", default: "2" },
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
  },
});
const quick = values.quick!;
const SECONDS = quick ? 1 : Number(values.seconds);
const WARMUP_SECONDS = quick ? 0.3 : 2;
const CONNECTIONS = quick ? 4 : Number(values.connections);
const WINDOW = Number(values.window);
const AUCTIONS = quick ? 32 : Number(values.auctions);
const IDLE = quick ? 200 : Number(values.idle);
const SUBS_PER_CONNECTION = quick ? 2 : Number(values["subs-per-connection"]);
const WEBSOCKETS = quick ? 100 : Number(values.websockets);
const SUBSCRIBERS = quick ? 20 : Number(values.subscribers);
const FANOUT_AUCTIONS = Number(values["fanout-auctions"]);
const FEED_NODES = quick ? 1 : Number(values["feed-nodes"]);
for (const [name, value] of Object.entries({ SECONDS, CONNECTIONS, WINDOW, AUCTIONS, IDLE, SUBS_PER_CONNECTION, WEBSOCKETS, SUBSCRIBERS, FANOUT_AUCTIONS, FEED_NODES })) {
  if (!Number.isFinite(value) || value < 0) throw new Error(`bad --${name.toLowerCase().replaceAll("_", "-")}: ${value}`);
}

const MICROS = 1e6;
const MS_PER_S = 1000;
/** Auctions stay open well past the run. */
const AUCTION_OPEN_MS = 3_600_000;
/** Between "connected" and the shared start, as bench/load.ts leaves it. */
const START_DELAY_MS = 50;
/** Seconds to wait for the last replies once sending stops. */
const GRACE_S = 5;
/** Bids per drain batch in the small-batch run: about one bid per Lua call over many groups. */
const SMALL_BATCH = 4;
/** How long the idle CPU of the measured processes is read before a measured run. */
const IDLE_BASELINE_MS = quick ? 300 : 3_000;
/** Let the server's memory settle (allocator, lazy GC) before reading RSS. */
const SETTLE_MS = quick ? 300 : 2_000;
/** Connections opened at once (a burst of thousands of SYNs overflows the listen backlog). */
const CONNECT_BATCH = 256;
const WAIT_TIMEOUT_MS = 60_000;
/** Room for --subs-per-connection and --fanout-auctions past the default bound. */
const MEMORY_SERVER_ENV = { GAVEL_MAX_SUBSCRIPTIONS: "10000" };
/** Auction ids of each run start here, far apart, so no run bids on another's auctions. */
let nextAuctionBase = 1_000_000;

const PONG_FRAME_SIZE = HEADER_SIZE + PayloadLength.PONG;
const STATE_FRAME_SIZE = HEADER_SIZE + PayloadLength.STATE;
const SUBSCRIBE_FRAME_SIZE = HEADER_SIZE + PayloadLength.SUBSCRIBE;
const PING_FRAME_SIZE = HEADER_SIZE + PayloadLength.PING;

const nowEpochMs = () => performance.timeOrigin + performance.now();
const cpuOf = (pid: number) => treeCpuSeconds(pid) ?? Number.NaN;

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? Number.NaN) * 1024;
}

async function freshAuctions(server: SpawnedServer, count: number): Promise<number[]> {
  const base = nextAuctionBase;
  nextAuctionBase += count + 1000;
  const created = await createAuctions(`http://${server.host}:${server.httpPort}`, count, base, { endsAt: Date.now() + AUCTION_OPEN_MS });
  return created.ids;
}

interface LoadRun {
  accepted: number;
  answered: number;
  seconds: number;
  /** CPU seconds of each watched pid over the run. */
  cpu: number[];
}

/**
 * One closed-loop run of bench/load.ts's generator against `server`: `before` runs once every
 * connection is open (read counters there), then the bids go; CPU of `watch` is read at the
 * start and once every reply is in.
 */
async function steadyLoad(server: SpawnedServer, ids: number[], seconds: number, watch: number[], before?: () => Promise<void>, connections = CONNECTIONS): Promise<LoadRun> {
  let cpuStart: number[] = [];
  let started = 0;
  const result = await runShard(
    {
      host: server.host,
      port: server.port,
      connections,
      firstUser: 1,
      window: WINDOW,
      rate: 0,
      bids: 0,
      durationS: seconds,
      warmupS: 0,
      graceS: GRACE_S,
      tickMs: 1,
      auctionIds: ids,
      amounts: "rising",
      maxShare: 0,
    },
    {
      ready: async () => {
        await before?.();
        cpuStart = watch.map(cpuOf);
        started = performance.now();
        return nowEpochMs() + START_DELAY_MS;
      },
    },
  );
  const cpu = watch.map((pid, i) => cpuOf(pid) - cpuStart[i]!);
  const { tally } = result;
  if (tally.unanswered > 0 || tally.duplicates > 0) throw new Error(`a load run lost replies: ${tally.unanswered} unanswered, ${tally.duplicates} duplicates`);
  return { accepted: tally.statusTotal[Status.ACCEPTED] ?? 0, answered: tally.answered, seconds: (performance.now() - started) / MS_PER_S, cpu };
}

/**
 * A warm-up run on its own auctions, then the processes' idle CPU (the closer's ticks and the
 * like, which would be there without bids), then the measured run on fresh ones, its CPU less
 * that idle rate.
 */
async function warmThenMeasure(server: SpawnedServer, watch: number[], before?: () => Promise<void>): Promise<LoadRun> {
  await steadyLoad(server, await freshAuctions(server, AUCTIONS), WARMUP_SECONDS, []);
  const ids = await freshAuctions(server, AUCTIONS);
  const idleStart = watch.map(cpuOf);
  const idleFrom = performance.now();
  await Bun.sleep(IDLE_BASELINE_MS);
  const idleSeconds = (performance.now() - idleFrom) / MS_PER_S;
  const idlePerS = watch.map((pid, i) => (cpuOf(pid) - idleStart[i]!) / idleSeconds);
  const run = await steadyLoad(server, ids, SECONDS, watch, before);
  return { ...run, cpu: run.cpu.map((c, i) => Math.max(0, c - idlePerS[i]! * run.seconds)) };
}

// ---- Redis counters ----

interface RedisCounters {
  evalshaCalls: number;
  evalshaUsec: number;
  netIn: number;
  netOut: number;
}

async function redisCounters(client: Redis): Promise<RedisCounters> {
  const commands = await client.info("commandstats");
  const stats = await client.info("stats");
  const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(commands);
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(stats)?.[1] ?? Number.NaN);
  return {
    evalshaCalls: Number(evalsha?.[1] ?? 0),
    evalshaUsec: Number(evalsha?.[2] ?? 0),
    netIn: field("total_net_input_bytes"),
    netOut: field("total_net_output_bytes"),
  };
}

function counterDelta(a: RedisCounters, b: RedisCounters): RedisCounters {
  return { evalshaCalls: b.evalshaCalls - a.evalshaCalls, evalshaUsec: b.evalshaUsec - a.evalshaUsec, netIn: b.netIn - a.netIn, netOut: b.netOut - a.netOut };
}

interface RedisRun extends LoadRun {
  counters: RedisCounters;
  redisCpuUsPerBid: number;
  gavelUsPerBid: number;
  /** CPU µs per bid of each extra node (no clients). */
  feedNodeUsPerBid: number[];
  /** Gavel's channels some node listened to at the end of the run (PUBSUB CHANNELS). */
  channels: number;
}

/** One Gavel node (plus `feedNodes` that serve nobody) on one fresh Redis, measured. */
async function redisRun(env: Record<string, string>, feedNodes: number): Promise<RedisRun> {
  const redis: SpawnedRedis = await spawnRedis();
  const servers: SpawnedServer[] = [];
  const client = new Redis(redis.url, { lazyConnect: true });
  try {
    const node = await spawnServer("redis", redis.url, env);
    servers.push(node);
    for (let i = 0; i < feedNodes; i++) servers.push(await spawnServer("redis", redis.url, env));
    await client.connect();
    let before: RedisCounters | null = null;
    const run = await warmThenMeasure(node, [redis.pid, ...servers.map((s) => s.pid)], async () => {
      before = await redisCounters(client);
    });
    const counters = counterDelta(before!, await redisCounters(client));
    const channels = ((await client.call("PUBSUB", "CHANNELS", "gavel:*")) as string[]).length;
    const [redisCpu, gavelCpu, ...feedCpu] = run.cpu;
    return {
      ...run,
      counters,
      channels,
      redisCpuUsPerBid: (redisCpu! * MICROS) / run.accepted,
      gavelUsPerBid: (gavelCpu! * MICROS) / run.accepted,
      feedNodeUsPerBid: feedCpu.map((c) => (c * MICROS) / run.accepted),
    };
  } finally {
    client.disconnect();
    for (const server of servers.reverse()) await server.stop();
    await redis.stop();
  }
}

async function withServer<T>(store: SpawnStore, env: Record<string, string>, body: (server: SpawnedServer) => Promise<T>): Promise<T> {
  const server = await spawnServer(store, undefined, env);
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

// ---- Fan-out ----

interface FanoutRun {
  accepted: number;
  updates: number;
  serverCpuS: number;
  seconds: number;
}

/** Subscribers that only count the bytes they receive (after their STATEs). */
async function fanout(server: SpawnedServer): Promise<FanoutRun> {
  const ids = await freshAuctions(server, FANOUT_AUCTIONS);
  let counting = false;
  let updateBytes = 0;
  let stateBytes = 0;
  const sockets: Socket[] = [];
  const frames = new Uint8Array(ids.length * SUBSCRIBE_FRAME_SIZE);
  ids.forEach((id, i) => encodeSubscribe(frames, i * SUBSCRIBE_FRAME_SIZE, i + 1, id, NO_REPLAY));
  for (let s = 0; s < SUBSCRIBERS; s++) {
    const socket = await Bun.connect({
      hostname: server.host,
      port: server.port,
      socket: {
        binaryType: "uint8array",
        data(_socket, chunk: Uint8Array) {
          if (counting) updateBytes += chunk.length;
          else stateBytes += chunk.length;
        },
      },
    });
    socket.write(frames);
    sockets.push(socket);
  }
  await waitUntil(() => stateBytes >= SUBSCRIBERS * ids.length * STATE_FRAME_SIZE, "the fan-out subscribers' STATEs");
  // Warm the path, then measure: one bidding connection on the same auctions.
  await steadyLoad(server, ids, WARMUP_SECONDS, [], undefined, 1);
  await Bun.sleep(200); // the warm-up's last UPDATEs arrive before counting starts
  let cpuStart = 0;
  let started = 0;
  const run = await steadyLoad(
    server,
    ids,
    SECONDS,
    [],
    async () => {
      counting = true;
      cpuStart = cpuOf(server.pid);
      started = performance.now();
    },
    1,
  );
  await Bun.sleep(200); // the last UPDATEs arrive
  counting = false;
  const serverCpuS = cpuOf(server.pid) - cpuStart;
  for (const socket of sockets) socket.terminate();
  return { accepted: run.accepted, updates: updateBytes / UPDATE_FRAME_SIZE, serverCpuS, seconds: (performance.now() - started) / MS_PER_S };
}

// ---- Memory per connection, subscription, WebSocket ----

async function waitUntil(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

interface MemoryRun {
  perConnection: number;
  perSubscription: number;
  perWebSocket: number;
  baselineRss: number;
}

async function memoryUse(server: SpawnedServer): Promise<MemoryRun> {
  const pool = await freshAuctions(server, Math.max(1, Math.min(1000, IDLE)));
  await Bun.sleep(SETTLE_MS);
  const rss0 = rssBytes(server.pid);

  let received = 0;
  const sockets: Socket[] = [];
  const ping = new Uint8Array(PING_FRAME_SIZE);
  encodePing(ping, 0, 1);
  for (let i = 0; i < IDLE; i += CONNECT_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONNECT_BATCH, IDLE - i) }, () =>
        Bun.connect({
          hostname: server.host,
          port: server.port,
          socket: {
            binaryType: "uint8array",
            data(_socket, chunk: Uint8Array) {
              received += chunk.length;
            },
          },
        }),
      ),
    );
    for (const socket of batch) socket.write(ping);
    sockets.push(...batch);
  }
  await waitUntil(() => received >= IDLE * PONG_FRAME_SIZE, "the idle connections' PONGs");
  await Bun.sleep(SETTLE_MS);
  const rss1 = rssBytes(server.pid);

  received = 0;
  const frames = new Uint8Array(SUBS_PER_CONNECTION * SUBSCRIBE_FRAME_SIZE);
  sockets.forEach((socket, c) => {
    for (let k = 0; k < SUBS_PER_CONNECTION; k++) {
      encodeSubscribe(frames, k * SUBSCRIBE_FRAME_SIZE, k + 1, pool[(c * SUBS_PER_CONNECTION + k) % pool.length]!, NO_REPLAY);
    }
    socket.write(frames);
  });
  await waitUntil(() => received >= IDLE * SUBS_PER_CONNECTION * STATE_FRAME_SIZE, "the subscriptions' STATEs");
  await Bun.sleep(SETTLE_MS);
  const rss2 = rssBytes(server.pid);

  let pongs = 0;
  const webSockets: WebSocket[] = [];
  for (let i = 0; i < WEBSOCKETS; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, WEBSOCKETS - i) }, () => {
      const ws = new WebSocket(`ws://${server.host}:${server.httpPort}/ws`);
      ws.binaryType = "arraybuffer";
      ws.addEventListener("open", () => ws.send(ping));
      ws.addEventListener("message", () => pongs++);
      return ws;
    });
    webSockets.push(...batch);
    const target = webSockets.length;
    await waitUntil(() => pongs >= target, "the WebSockets' PONGs");
  }
  await Bun.sleep(SETTLE_MS);
  const rss3 = rssBytes(server.pid);

  for (const socket of sockets) socket.terminate();
  for (const ws of webSockets) ws.close();
  return {
    perConnection: IDLE > 0 ? (rss1 - rss0) / IDLE : Number.NaN,
    perSubscription: IDLE * SUBS_PER_CONNECTION > 0 ? (rss2 - rss1) / (IDLE * SUBS_PER_CONNECTION) : Number.NaN,
    perWebSocket: WEBSOCKETS > 0 ? (rss3 - rss2) / WEBSOCKETS : Number.NaN,
    baselineRss: rss0,
  };
}

// ---- The run ----

/** Each figure: its JSON key (docs/scaling.md's placeholder), what it is, how it was had. */
interface Figure {
  key: string;
  unit: string;
  what: string;
  value: number;
  how: string;
}

const figures: Figure[] = [];
const context: Record<string, string | number | boolean> = {
  date: new Date().toISOString(),
  cores: availableParallelism(),
  quick,
  seconds: SECONDS,
  connections: CONNECTIONS,
  window: WINDOW,
  auctions: AUCTIONS,
  idle_connections: IDLE,
  subscriptions: IDLE * SUBS_PER_CONNECTION,
  websockets: WEBSOCKETS,
};
const log = (line: string) => {
  if (!values.json) console.error(line);
};
function add(key: string, unit: string, what: string, value: number, how: string): void {
  figures.push({ key, unit, what, value, how });
}
const perS = (n: number, s: number) => Math.round(n / s);

async function main(): Promise<void> {
  log(`bench/unit-costs: ${SECONDS} s runs, ${CONNECTIONS} connections x window ${WINDOW}, ${AUCTIONS} auctions${quick ? " (quick: figures mean nothing)" : ""}`);

  log("memory store: Gavel CPU per bid...");
  const memory = await withServer("memory", {}, async (server) => warmThenMeasure(server, [server.pid]));
  const gavelUsPerBidMemory = (memory.cpu[0]! * MICROS) / memory.accepted;
  context.memory_accepted_per_s = perS(memory.accepted, memory.seconds);
  add("gavel_us_per_bid_memory", "µs", "Gavel CPU per acknowledged bid, memory store", gavelUsPerBidMemory, "server CPU (/proc) / ACCEPTED");

  log("one Redis: Redis and Gavel CPU per bid...");
  const redis = await redisRun({}, 0);
  const c = redis.counters;
  const bidsPerCall = redis.accepted / c.evalshaCalls;
  context.redis_accepted_per_s = perS(redis.accepted, redis.seconds);
  add("gavel_us_per_bid_redis", "µs", "Gavel CPU per acknowledged bid, Redis store", redis.gavelUsPerBid, "server CPU (/proc) / ACCEPTED");
  add("redis_us_per_bid", "µs", "Redis time inside bid.lua per accepted bid", c.evalshaUsec / redis.accepted, "INFO commandstats evalsha usec / ACCEPTED");
  add("redis_us_per_call", "µs", "Redis time per bid.lua call (one group's share of a drain batch)", c.evalshaUsec / c.evalshaCalls, "evalsha usec / calls");
  add("redis_bids_per_call", "bids", "accepted bids per bid.lua call in that run", bidsPerCall, "ACCEPTED / evalsha calls");
  add("redis_cpu_us_per_bid", "µs", "whole redis-server CPU per accepted bid (script, I/O, one Pub/Sub delivery)", redis.redisCpuUsPerBid, "redis-server CPU (/proc) / ACCEPTED");
  add("redis_in_bytes_per_bid", "B", "bytes into Redis per accepted bid (batch calls)", c.netIn / redis.accepted, "INFO stats total_net_input_bytes / ACCEPTED");
  add("redis_out_bytes_per_bid", "B", "bytes out of Redis per accepted bid (replies, Pub/Sub to one node)", c.netOut / redis.accepted, "INFO stats total_net_output_bytes / ACCEPTED");

  log(`one Redis, GAVEL_BATCH=${SMALL_BATCH}: the fixed cost of a Lua call...`);
  const small = await redisRun({ GAVEL_BATCH: String(SMALL_BATCH) }, 0);
  const smallPerCall = small.counters.evalshaUsec / small.counters.evalshaCalls;
  const smallBidsPerCall = small.accepted / small.counters.evalshaCalls;
  const marginal = (c.evalshaUsec / c.evalshaCalls - smallPerCall) / (bidsPerCall - smallBidsPerCall);
  context.small_batch_bids_per_call = Number(smallBidsPerCall.toFixed(2));
  context.small_batch_accepted_per_s = perS(small.accepted, small.seconds);
  add("redis_us_per_bid_marginal", "µs", "Redis time each further bid adds to a call", marginal, `line through the two runs' (bids/call, usec/call)`);
  add("redis_us_per_call_fixed", "µs", "Redis time of a call apart from its bids", smallPerCall - marginal * smallBidsPerCall, "the same line at 0 bids");

  log(`one Redis, ${FEED_NODES} more node(s) with no clients: the cost of the Pub/Sub feed...`);
  const feed = await redisRun({}, FEED_NODES);
  context.feed_accepted_per_s = perS(feed.accepted, feed.seconds);
  add("gavel_us_per_feed_update", "µs", "Gavel CPU per UPDATE a node receives through Redis Pub/Sub (a node with no client)", feed.feedNodeUsPerBid.reduce((a, b) => a + b, 0) / FEED_NODES, "idle nodes' CPU / ACCEPTED, averaged (UPDATEs travel one Pub/Sub message per Lua call)");
  add("redis_us_per_feed_update", "µs", "Redis CPU per UPDATE sent to each further node", (feed.redisCpuUsPerBid - redis.redisCpuUsPerBid) / FEED_NODES, `(redis CPU per bid with ${FEED_NODES + 1} nodes - with 1) / ${FEED_NODES}`);

  log(`one Redis, ${FEED_NODES} more node(s) with no clients, GAVEL_REDIS_FEED=subscribed: what the feed costs them then...`);
  const subscribed = await redisRun({ GAVEL_REDIS_FEED: "subscribed" }, FEED_NODES);
  context.feed_subscribed_accepted_per_s = perS(subscribed.accepted, subscribed.seconds);
  // No node follows an auction: none should listen to any channel.
  context.feed_subscribed_channels = subscribed.channels;
  add("gavel_us_per_feed_update_subscribed", "µs", "the same with GAVEL_REDIS_FEED=subscribed (the extra nodes follow no auction of the bids)", subscribed.feedNodeUsPerBid.reduce((a, b) => a + b, 0) / FEED_NODES, "idle nodes' CPU / ACCEPTED, averaged: about 0 when they receive nothing");
  add("redis_us_per_feed_update_subscribed", "µs", "Redis CPU per bid per further node with GAVEL_REDIS_FEED=subscribed", (subscribed.redisCpuUsPerBid - redis.redisCpuUsPerBid) / FEED_NODES, `(redis CPU per bid with ${FEED_NODES + 1} subscribed nodes - with 1 node of all) / ${FEED_NODES}; the measured node follows nothing either, so it may fall below 0`);

  log(`fan-out: ${SUBSCRIBERS} subscribers x ${FANOUT_AUCTIONS} auctions, memory store...`);
  const fan = await withServer("memory", MEMORY_SERVER_ENV, fanout);
  context.fanout_updates_per_s = perS(fan.updates, fan.seconds);
  context.fanout_accepted_per_s = perS(fan.accepted, fan.seconds);
  add("gavel_us_per_update", "µs", "Gavel CPU per UPDATE delivered to a subscriber", (fan.serverCpuS * MICROS - fan.accepted * gavelUsPerBidMemory) / fan.updates, "(server CPU - ACCEPTED x gavel_us_per_bid_memory) / UPDATEs received");

  log(`memory: ${IDLE} connections, ${IDLE * SUBS_PER_CONNECTION} subscriptions, ${WEBSOCKETS} WebSockets...`);
  const mem = await withServer("memory", MEMORY_SERVER_ENV, memoryUse);
  context.baseline_rss_mb = Number((mem.baselineRss / 1024 / 1024).toFixed(1));
  add("rss_bytes_per_connection", "B", "server RSS per open TCP connection (after one PING)", mem.perConnection, `RSS delta / ${IDLE}`);
  add("rss_bytes_per_subscription", "B", "server RSS per subscription", mem.perSubscription, `RSS delta / ${IDLE * SUBS_PER_CONNECTION}`);
  add("rss_bytes_per_websocket", "B", "server RSS per WebSocket connection on /ws (after one PING)", mem.perWebSocket, `RSS delta / ${WEBSOCKETS}`);

  add("wire_bytes_per_bid", "B", "client bytes per bid: BID + RESULT frames", BID_FRAME_SIZE + RESULT_FRAME_SIZE, "computed from the protocol's frame sizes (not measured; no TCP/IP headers)");
  add("wire_bytes_per_update", "B", "client bytes per UPDATE frame", UPDATE_FRAME_SIZE, "computed from the protocol's frame sizes (not measured; no TCP/IP headers)");
}

function rounded(value: number): number {
  if (!Number.isFinite(value)) return value;
  return Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3));
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    stopAllSpawned();
    process.exit(1);
  });
}
try {
  await main();
} catch (error) {
  stopAllSpawned();
  console.error(`bench/unit-costs: ${(error as Error).message}`);
  process.exit(1);
}
if (values.json) {
  const out: Record<string, unknown> = {};
  for (const f of figures) out[f.key] = Number.isFinite(f.value) ? rounded(f.value) : null;
  out.context = context;
  console.log(JSON.stringify(out, null, 2));
} else {
  console.log(`\n| unit | key | figure | how |\n|---|---|---|---|`);
  for (const f of figures) console.log(`| ${f.what} | \`${f.key}\` | ${rounded(f.value).toLocaleString("en-US")} ${f.unit} | ${f.how} |`);
  console.log(`\n${Object.entries(context).map(([k, v]) => `${k}: ${v}`).join(", ")}`);
}
process.exit(0);
