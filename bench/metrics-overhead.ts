// What metrics cost the bid path: the same closed-loop load against a server with GAVEL_METRICS
// on and off, alternated, so the machine's drift hits both alike. Prints each run and the ratio
// of the medians.   bun run bench/metrics-overhead.ts [--pairs 3] [--seconds 8] [--store memory]

import { parseArgs } from "node:util";
import { join } from "node:path";

const { values } = parseArgs({
  options: { pairs: { type: "string", default: "3" }, seconds: { type: "string", default: "8" }, store: { type: "string", default: "memory" } },
});
const ROOT = join(import.meta.dir, "..");
const LOAD = ["--connections", "100", "--window", "16", "--auctions", "1000"];

async function acceptedPerSecond(metrics: "on" | "off"): Promise<number> {
  const proc = Bun.spawn(
    ["bun", "run", "bench/load.ts", "--json", "--no-progress", "--duration", values.seconds!, "--spawn-server", values.store!, ...LOAD],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, GAVEL_METRICS: metrics } },
  );
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const report = JSON.parse(out.trim().split("\n").at(-1)!) as { ok: boolean; measured: { answeredPerS: number } };
  if (code !== 0 || !report.ok) throw new Error(`load with GAVEL_METRICS=${metrics} failed (${code}):\n${err.slice(-2000)}`);
  return report.measured.answeredPerS;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const on: number[] = [];
const off: number[] = [];
console.log(`| pair | metrics off (bids/s) | metrics on (bids/s) |\n|---|---|---|`);
for (let pair = 1; pair <= Number(values.pairs); pair++) {
  // Alternate which goes first, so neither always runs on a warmer or busier machine.
  const first = pair % 2 === 1 ? "off" : "on";
  const a = await acceptedPerSecond(first);
  const b = await acceptedPerSecond(first === "off" ? "on" : "off");
  const [offRate, onRate] = first === "off" ? [a, b] : [b, a];
  off.push(offRate);
  on.push(onRate);
  console.log(`| ${pair} | ${Math.round(offRate).toLocaleString()} | ${Math.round(onRate).toLocaleString()} |`);
}
const ratio = median(on) / median(off);
console.log(`\nmedian off ${Math.round(median(off)).toLocaleString()}/s, on ${Math.round(median(on)).toLocaleString()}/s: on/off = ${ratio.toFixed(3)} (${((1 - ratio) * 100).toFixed(1)}% cost)`);
