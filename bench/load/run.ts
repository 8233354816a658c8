// runLoad: the whole run. Start what must be started (server, Redis), create the auctions,
// drive the load from one or several processes, watch CPU, merge, judge, and clean up.

import { createAuctions } from "./auctions.ts";
import { CpuWatch, type WatchedProcess } from "./cpu.ts";
import { resolveOptions, type LoadOptions, type ResolvedLoadOptions } from "./options.ts";
import { runInChildren, runInProcess, type Coordinator } from "./procs.ts";
import { ProgressLine } from "./progress.ts";
import { buildReport, type CpuFigure, type LoadReport } from "./report.ts";
import type { ShardResult, ShardSpec } from "./shard.ts";
import { localRedisPid, spawnRedis, spawnServer } from "./spawn.ts";
import { mergeTallies } from "./tally.ts";

const MS_PER_S = 1000;
/** Time between "everyone is connected" and the shared start, for the go message to reach all. */
const START_DELAY_MS = 50;
/** Auctions stay open this long past the planned end (a --bids run has no planned end). */
const AUCTION_MARGIN_MS = 3_600_000;
const PERCENT = 100;
/** User ids start here; connection i of the run bids as user FIRST_USER + i. */
const FIRST_USER = 1;

const nowEpochMs = () => performance.timeOrigin + performance.now();

/** Splits connections, rate and bids over the processes, in proportion to connections. */
export function planShards(o: ResolvedLoadOptions, host: string, port: number, auctionIds: number[]): ShardSpec[] {
  const specs: ShardSpec[] = [];
  const upTo = (total: number, k: number) => Math.floor((total * k) / o.connections);
  let first = 0;
  for (let i = 0; i < o.procs; i++) {
    const count = Math.floor(o.connections / o.procs) + (i < o.connections % o.procs ? 1 : 0);
    specs.push({
      host,
      port,
      connections: count,
      firstUser: FIRST_USER + first,
      window: o.window,
      rate: (o.rate * count) / o.connections,
      bids: upTo(o.bids, first + count) - upTo(o.bids, first),
      durationS: o.durationS,
      warmupS: o.warmupS,
      graceS: o.graceS,
      tickMs: o.tickMs,
      auctionIds,
      amounts: o.amounts,
      maxShare: o.maxShare,
    });
    first += count;
  }
  return specs;
}

/**
 * Runs a load against a Gavel server and reports what happened.
 * @example
 * const report = await runLoad({ port: 7400, httpPort: 7401, connections: 4, window: 8, bids: 2000, warmupS: 0 });
 * if (!report.ok) console.error(report.failures);
 * console.log(report.measured.answeredPerS, report.latencyUs.p99);
 */
export async function runLoad(options: LoadOptions = {}): Promise<LoadReport> {
  const o = resolveOptions(options);
  const startedAt = new Date();
  const cleanups: Array<() => Promise<void>> = [];
  const watched: WatchedProcess[] = [];
  try {
    let host = o.host;
    let port = o.port;
    let httpPort = o.httpPort;
    if (o.spawnServer !== undefined) {
      let redisUrl = o.redisUrl;
      const redisWatch: WatchedProcess[] = [];
      if (o.spawnServer === "redis") {
        if (redisUrl === undefined) {
          const redis = await spawnRedis();
          cleanups.push(redis.stop);
          redisUrl = redis.url;
          redisWatch.push({ label: "redis", pid: redis.pid });
        } else {
          const pid = await localRedisPid(redisUrl);
          if (pid !== null) redisWatch.push({ label: "redis", pid });
        }
      }
      const server = await spawnServer(o.spawnServer, redisUrl, o.serverEnv);
      cleanups.unshift(server.stop); // the server stops before its Redis
      ({ host, port, httpPort } = server);
      watched.push({ label: "server", pid: server.pid }, ...redisWatch);
    } else if (o.redisUrl !== undefined) {
      const pid = await localRedisPid(o.redisUrl);
      if (pid !== null) watched.push({ label: "redis", pid });
    }
    if (o.serverPid !== undefined) watched.push({ label: "server", pid: o.serverPid });
    for (const pid of o.pids) watched.push({ label: `pid ${pid}`, pid });

    const planMs = (o.warmupS + o.durationS + o.graceS) * MS_PER_S;
    const created = await createAuctions(`http://${host}:${httpPort}`, o.auctions, o.auctionBase, {
      endsAt: Date.now() + planMs + AUCTION_MARGIN_MS,
    });
    const specs = planShards(o, host, port, created.ids);

    const cpuWatch = new CpuWatch(watched);
    const progress = new ProgressLine(specs.length, o.progress);
    let windowStart = 0;
    let parentCpu = process.cpuUsage();
    let warmupTimer: Timer | undefined;
    let startEpochMs = 0;
    const coordinator: Coordinator = {
      allReady() {
        startEpochMs = nowEpochMs() + START_DELAY_MS;
        const markWindow = () => {
          windowStart = nowEpochMs();
          cpuWatch.mark();
          parentCpu = process.cpuUsage();
        };
        markWindow();
        warmupTimer = setTimeout(markWindow, START_DELAY_MS + o.warmupS * MS_PER_S);
        progress.start();
        return startEpochMs;
      },
      progress: (index, p) => progress.update(index, p),
    };

    let results: ShardResult[];
    try {
      results = specs.length === 1 ? [await runInProcess(specs[0]!, coordinator)] : await runInChildren(specs, coordinator);
    } finally {
      clearTimeout(warmupTimer);
      progress.stop();
    }
    const windowS = Math.max(1e-9, (nowEpochMs() - windowStart) / MS_PER_S);
    const watchedCpu = cpuWatch.since();
    const ownCpu = process.cpuUsage(parentCpu);

    let generatorMicros = results.reduce((total, r) => total + r.cpuMicros, 0);
    if (specs.length > 1) generatorMicros += ownCpu.user + ownCpu.system;
    const generatorSeconds = generatorMicros / 1e6;
    const cpu: CpuFigure[] = [
      {
        label: specs.length > 1 ? `generator (${specs.length} procs + parent)` : "generator",
        pid: specs.length > 1 ? null : process.pid,
        cpuSeconds: generatorSeconds,
        percent: (PERCENT * generatorSeconds) / windowS,
      },
      ...watchedCpu.map((w) => ({
        label: w.label,
        pid: w.pid,
        cpuSeconds: w.cpuSeconds,
        percent: w.cpuSeconds === null ? null : (PERCENT * w.cpuSeconds) / windowS,
      })),
    ];

    const tally = mergeTallies(results.map((r) => r.tally));
    const measureFrom = startEpochMs + o.warmupS * MS_PER_S;
    const measuredSeconds = tally.lastMeasuredReplyEpochMs > 0 ? Math.max(0, (tally.lastMeasuredReplyEpochMs - measureFrom) / MS_PER_S) : 0;
    return buildReport({
      config: {
        mode: o.rate > 0 ? "open" : "closed",
        target: `${host}:${port}`,
        store: o.spawnServer ?? null,
        connections: o.connections,
        window: o.rate > 0 ? 0 : o.window,
        auctions: created.ids.length,
        auctionIds: { first: created.ids[0] ?? 0, last: created.ids[created.ids.length - 1] ?? 0, skippedTaken: created.skipped },
        hot: o.hot,
        amounts: o.amounts,
        maxShare: o.maxShare,
        rate: o.rate,
        bids: o.bids,
        durationS: o.bids > 0 ? 0 : o.durationS,
        warmupS: o.warmupS,
        procs: specs.length,
      },
      tally,
      measuredSeconds,
      cpuWindowS: windowS,
      cpu,
      startedAt,
    });
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}
