// The load generator's reusable pieces, for tests and other benchmarks.

export { runLoad, planShards } from "./run.ts";
export { LoadDefaults, LoadOptionsError, resolveOptions, type LoadOptions } from "./options.ts";
export { buildReport, describeRun, formatReport, type LoadReport, type RunConfig, type CpuFigure } from "./report.ts";
export { renderHtml, latencyChartSvg } from "./html.ts";
export { Histogram, type HistogramJson, type Percentiles } from "./histogram.ts";
export { Outstanding, Reply, MAX_SPAN } from "./outstanding.ts";
export { runShard, LoadSetupError, type ShardSpec, type ShardResult, type ShardProgress } from "./shard.ts";
export { BidConnection, AMOUNT_SCALE, type AmountMode } from "./connection.ts";
export { createAuctions } from "./auctions.ts";
export { CpuWatch, treeCpuSeconds } from "./cpu.ts";
export { spawnServer, spawnRedis, localRedisPid } from "./spawn.ts";
export { parseArgs, USAGE } from "./args.ts";
