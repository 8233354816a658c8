// What metrics add to each bid, measured alone (mitata): the reply path's per-bid work with
// GAVEL_METRICS on (count the RESULT's status, put its latency in the histogram) over a batch
// of 1,024 results, against the same loop with metrics off. The end-to-end comparison
// (bench/metrics-overhead.ts) swings more between runs than this costs; this says how much
// there is to find. Run: bun run bench/metrics.bench.ts

import { bench, do_not_optimize, group, run, summary } from "mitata";

import { ServerCounters } from "../src/metrics/counters.ts";
import { Status } from "../src/protocol/constants.ts";

/** A drain batch as the reply path sees it: statuses and read times of GAVEL_BATCH bids. */
const BATCH = 1_024;
const MS_PER_SECOND = 1_000;
const status = new Uint8Array(BATCH);
const readAt = new Float64Array(BATCH);
for (let i = 0; i < BATCH; i++) status[i] = i % 3 === 0 ? Status.OUTBID : Status.ACCEPTED;

const counters = new ServerCounters();
/** Stands in for the rest of the per-bid work, so both loops do something per bid. */
const sink = new Float64Array(BATCH);

function stampReadTimes(): number {
  // Latencies spread over the histogram's buckets (0.05 ms to 20 ms), like a loaded server's.
  const now = performance.now();
  for (let i = 0; i < BATCH; i++) readAt[i] = now - 0.05 - (i % 400) * 0.05;
  return now;
}

summary(() => {
  group(`reply path, per batch of ${BATCH} bids`, () => {
    bench("metrics off", () => {
      stampReadTimes();
      for (let i = 0; i < BATCH; i++) sink[i] = status[i]!;
      do_not_optimize(sink);
    });
    bench("metrics on", () => {
      const now = stampReadTimes();
      for (let i = 0; i < BATCH; i++) {
        sink[i] = status[i]!;
        counters.countBid(status[i]!);
        counters.bidLatency.observe((now - readAt[i]!) / MS_PER_SECOND);
      }
      do_not_optimize(sink);
    });
  });
});

await run();
