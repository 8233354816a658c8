// Growth: what a server costs when its store holds a lot. A fast loader writes what the real
// server writes straight into the store (bench/growth/sqlite-loader.ts: a SQLite file;
// bench/growth/redis-loader.ts: a throwaway redis-server, in the Redis store's key layout), then
// the benchmark starts `bun run src/main.ts` on it and measures (bench/growth/measure.ts):
// restart to ready, RSS after start, idle CPU (on Redis, redis-server's too), a mass close
// (auctions ending in one second: how late their CLOSED comes, and PING round trips meanwhile),
// and a page of 100 per phase (beside one auction read the same way: a single store read's
// time on this machine). Each figure is printed beside its target.
//
//   bun run bench/growth.ts [--store sqlite|redis] [--auctions 100000] [--closed 0.9]
//       [--bids N] [--ending 5000] [--settle-seconds 20] [--idle-seconds 30] [--db <path>] [--keep]
//
// The sizes of the question this answers:
//   SQLite: --auctions 1000000 --bids 20000000 --ending 50000 (900,000 closed, 100,000 open, 20M bids)
//   Redis:  --store redis --auctions 1000000 --ending 50000 (5 bids per auction that started)
// Run it alone: it needs the machine.
//
// What is stored (bench/growth/plan.ts): every (1/(1-closed))-th id is open, 1% of the open
// ones scheduled; `--ending` of the open ones are moved to end in one second between two starts
// (no server runs meanwhile, as the SQLite file's lock requires). --bids is the total, spread
// evenly over the auctions that started (default 10 per auction on SQLite, 5 on Redis, whose
// targets are the closer, the listing and idle CPU, and which holds everything in memory).
// --db and --keep are SQLite's: the file to write, and keeping it afterwards.

import { parseArgs } from "node:util";
import { stopAllSpawned } from "./load/spawn.ts";
import type { GrowthStore } from "./growth/growth-store.ts";
import { CLOSE_AFTER_READY_MS, cpuPercent, cpuSecondsDuring, massClose, MB, oneAuctionTimes, PAGE, pageTimes, row, rssMb, SPREAD_MS, startServer, Target } from "./growth/measure.ts";
import { planCounts, type GrowthPlan } from "./growth/plan.ts";
import { RedisGrowthStore } from "./growth/redis-loader.ts";
import { SqliteGrowthStore } from "./growth/sqlite-loader.ts";
import { verifyLoaded } from "./growth/verify.ts";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "sqlite" },
    auctions: { type: "string", default: "100000" },
    closed: { type: "string", default: "0.9" },
    bids: { type: "string" },
    ending: { type: "string", default: "5000" },
    "idle-seconds": { type: "string", default: "30" },
    "settle-seconds": { type: "string", default: "20" },
    db: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
/** Bids per auction that started when --bids is not given. */
const DEFAULT_BIDS_PER = { sqlite: 10, redis: 5 } as const;
if (values.store !== "sqlite" && values.store !== "redis") throw new Error(`--store must be sqlite or redis, got ${values.store}`);
const STORE = values.store;
if (STORE === "redis" && (values.db !== undefined || values.keep)) throw new Error("--db and --keep are for --store sqlite (the Redis data lives in a throwaway redis-server)");
const AUCTIONS = Number(values.auctions);
const BIDS = values.bids === undefined ? AUCTIONS * DEFAULT_BIDS_PER[STORE] : Number(values.bids);
const ENDING = Number(values.ending);
const IDLE_SECONDS = Number(values["idle-seconds"]);
const SETTLE_SECONDS = Number(values["settle-seconds"]);
const plan: GrowthPlan = { auctions: AUCTIONS, closedFraction: Number(values.closed), bidsPer: Math.max(0, Math.floor(BIDS / AUCTIONS)), now: Date.now() };

// Interrupted: the servers and the redis-server started here go too.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    stopAllSpawned();
    process.exit(1);
  });
}

const store: GrowthStore = STORE === "redis" ? await RedisGrowthStore.start() : new SqliteGrowthStore(values.db, values.keep);
try {
  const loadStart = performance.now();
  const { open } = await store.load(plan);
  const counts = planCounts(plan);
  console.log(
    `loaded ${AUCTIONS} auctions (${counts.closed} closed, ${counts.open} open, ${counts.scheduled} scheduled) and ${counts.bids} bids ` +
      `into ${store.where} in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`,
  );

  // First start: restart time, memory, idle CPU; then the server reads the data back.
  const first = await startServer(store, ENDING);
  const rss = rssMb(first.server.pid);
  // Idle CPU is the steady state: the first seconds after start-up also compile code and
  // free what loading allocated, once (printed apart).
  const watched = [first.server.pid, ...store.sidecars.map((s) => s.pid)];
  const [settleCpu] = await cpuPercent(watched, SETTLE_SECONDS);
  const [idleCpu, ...sidecarIdleCpu] = await cpuPercent(watched, IDLE_SECONDS);
  const checked = await verifyLoaded(first.server, plan);
  // Pages under no load: on the first start, after the idle window. What each process spends
  // on them (the server, redis-server, this process as the client) shows where a page's time goes.
  // (This process's own CPU apart: its descendants are the server and redis-server.)
  const clientCpuBeforePages = process.cpuUsage();
  const { result: pages, spent: pagesCpuSeconds } = await cpuSecondsDuring(watched, async () => ({
    open: await pageTimes(first.server, "open", AUCTIONS),
    scheduled: await pageTimes(first.server, "scheduled", AUCTIONS),
    closed: await pageTimes(first.server, "closed", AUCTIONS),
  }));
  const pagesRead = Object.values(pages).reduce((sum, phase) => sum + phase.requests, 0);
  const clientCpu = process.cpuUsage(clientCpuBeforePages);
  const cpuPerPageMs = [...pagesCpuSeconds, (clientCpu.user + clientCpu.system) / 1e6].map((cpuSeconds) => (cpuSeconds * 1000) / pagesRead);
  // One auction the same way: a single store read's time, the floor beneath a page's.
  const oneAuction = await oneAuctionTimes(first.server, AUCTIONS);
  await first.server.stop();

  // The ending auctions get their end, then the second start closes them all in one second.
  const ending = open.slice(0, ENDING);
  if (ending.length < ENDING) console.log(`(only ${ending.length} open auctions to end: --ending ${ENDING} needs more --auctions)`);
  const planned = Date.now() + first.readyMs * 2 + CLOSE_AFTER_READY_MS;
  await store.moveEnds(ending, (i) => planned + (i % SPREAD_MS));
  const second = await startServer(store, ENDING);
  const close = await massClose(second.server, ending, planned);
  await second.server.stop();

  console.log("");
  row("restart to ready", `${first.readyMs.toFixed(0)} ms`, `<= ${Target.RESTART_MS} ms`, first.readyMs <= Target.RESTART_MS);
  row("RSS after start", `${rss.toFixed(0)} MB`, `<= ${Target.RSS_MB} MB`, rss <= Target.RSS_MB);
  row(`idle CPU over ${IDLE_SECONDS} s (steady)`, `${idleCpu!.toFixed(2)} %`, `<= ${Target.IDLE_CPU_PERCENT} %`, idleCpu! <= Target.IDLE_CPU_PERCENT);
  store.sidecars.forEach((sidecar, i) => {
    const cpu = sidecarIdleCpu[i]!;
    row(`${sidecar.label} idle CPU over ${IDLE_SECONDS} s`, `${cpu.toFixed(2)} %`, `<= ${Target.IDLE_CPU_PERCENT} %`, cpu <= Target.IDLE_CPU_PERCENT);
  });
  row(`CLOSED received (${ending.length} ending)`, `${close.received}`, `all`, close.received === ending.length);
  row("latest CLOSED after its ends_at", `${close.maxLateMs.toFixed(0)} ms`, `<= ${Target.CLOSED_LATE_MS} ms`, close.maxLateMs <= Target.CLOSED_LATE_MS);
  row("PING round trip during the close", `max ${close.maxPingMs.toFixed(1)} ms`, `<= ${Target.PING_MS} ms`, close.maxPingMs <= Target.PING_MS);
  for (const [phase, { p99 }] of Object.entries(pages)) row(`page of ${PAGE}, phase=${phase}, p99`, `${p99.toFixed(2)} ms`, `<= ${Target.PAGE_P99_MS} ms`, p99 <= Target.PAGE_P99_MS);
  console.log(`(idle CPU over the first ${SETTLE_SECONDS} s after ready, before the window above: ${settleCpu!.toFixed(2)} %)`);
  console.log(`(page p50: ${Object.entries(pages).map(([phase, { p50 }]) => `${phase} ${p50.toFixed(2)} ms`).join(", ")})`);
  console.log(`(one auction, GET /v1/auctions/<id> the same way: p50 ${oneAuction.p50.toFixed(2)} ms, p99 ${oneAuction.p99.toFixed(2)} ms)`);
  const cpuLabels = ["the server", ...store.sidecars.map((s) => s.label), "this client"];
  console.log(`(CPU per page, all phases: ${cpuPerPageMs.map((ms, i) => `${cpuLabels[i]} ${ms.toFixed(2)} ms`).join(", ")})`);
  console.log(`(second start: ${second.readyMs.toFixed(0)} ms; PING p99 during the close ${close.p99PingMs.toFixed(1)} ms; RSS in MB of ${MB} bytes)`);
  for (const sidecar of store.sidecars) console.log(`(${sidecar.label} RSS after the run: ${rssMb(sidecar.pid).toFixed(0)} MB)`);
  console.log(`(${checked})`);
} finally {
  await store.close();
}
