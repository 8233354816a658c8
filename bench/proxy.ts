// Proxy bidding under load: on each store, plain BIDs and a MAX_BID-heavy load (half the bids
// are maxima) in the same invocation, one after the other against a fresh server each, and the
// throughput ratio (MAX-heavy / plain). The runs alternate (plain, max, plain, max...) so drift
// on a noisy machine falls on both. Prints a Markdown table; exits 1 if any run failed.
//
//   bun run bench/proxy.ts [--seconds 5] [--rounds 2] [--only memory,sqlite,redis] [--quick]
//
// --quick proves it runs (a second per run, a few connections); it measures nothing.

import { parseArgs } from "node:util";
import { runLoad, type LoadOptions, type LoadReport } from "./load/index.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "2" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    "max-share": { type: "string", default: "0.5" },
  },
});
const STORES = (values.only?.split(",") ?? ["memory", "sqlite", "redis"]) as ("memory" | "sqlite" | "redis")[];
const MAX_SHARE = Number(values["max-share"]);
const ROUNDS = values.quick ? 1 : Number(values.rounds);
/** The figures' shape (docs/performance.md), or a tiny one that only proves the run works. */
const SHAPE: LoadOptions = values.quick
  ? { connections: 4, window: 4, auctions: 20, durationS: 1, warmupS: 0.2, graceS: 2 }
  : { connections: 100, window: 16, auctions: 1000, durationS: Number(values.seconds), warmupS: 1 };

async function one(store: (typeof STORES)[number], maxShare: number): Promise<LoadReport> {
  const report = await runLoad({ ...SHAPE, spawnServer: store, maxShare, progress: false });
  if (!report.ok) throw new Error(`${store} with max share ${maxShare} failed: ${report.failures.join("; ")}`);
  return report;
}

const k = (n: number) => `${Math.round(n / 1000).toLocaleString()}k`;
const rows: string[] = [];
for (const store of STORES) {
  const plain: number[] = [];
  const heavy: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    plain.push((await one(store, 0)).measured.answeredPerS);
    heavy.push((await one(store, MAX_SHARE)).measured.answeredPerS);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ratio = mean(heavy) / mean(plain);
  rows.push(`| ${store} | ${plain.map(k).join(", ")} | ${heavy.map(k).join(", ")} | ${ratio.toFixed(2)} |`);
}

console.log(`answered bids/s, ${SHAPE.connections} connections x ${SHAPE.window} in flight, ${SHAPE.auctions} auctions, ${SHAPE.durationS} s per run, rising amounts`);
console.log(`| store | plain BIDs | ${Math.round(MAX_SHARE * 100)}% MAX_BID | ratio |`);
console.log("|---|---|---|---|");
for (const row of rows) console.log(row);
