// Every figure of docs/performance.md in one run, side by side, so ratios hold on a noisy
// machine: the trivial responder and each store at several shapes of load, the Redis ceiling
// (one EVALSHA of lua/bid.lua per bid), and latency at half of each store's saturated rate.
// Prints Markdown tables.   bun run bench/suite.ts [--seconds 5] [--only memory,sqlite,redis]

import { parseArgs } from "node:util";
import { join } from "node:path";
import { spawnRedis } from "./load/spawn.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, only: { type: "string" } } });
const SECONDS = values.seconds!;
const TARGETS = ["trivial", ...(values.only?.split(",") ?? ["memory", "sqlite", "redis"])];
const ROOT = join(import.meta.dir, "..");

interface Report {
  ok: boolean;
  measured: { answeredPerS: number; acceptedPerS: number };
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number };
  cpu: { processes: { label: string; percent: number }[] } | null;
}

async function load(args: string[]): Promise<Report> {
  const proc = Bun.spawn(["bun", "run", "bench/load.ts", "--json", "--no-progress", "--duration", SECONDS, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const report = JSON.parse(out.trim().split("\n").at(-1)!) as Report;
  if (code !== 0 || !report.ok) throw new Error(`load ${args.join(" ")} failed (${code}):\n${err.slice(-2000)}`);
  return report;
}

const cpu = (r: Report, label: string) => {
  const p = r.cpu?.processes.find((x) => x.label === label);
  return p === undefined ? "–" : `${Math.round(p.percent)}%`;
};
const k = (n: number) => `${Math.round(n / 1000).toLocaleString()}k`;
const ms = (us: number) => (us / 1000).toFixed(2);

const shapes: [string, string[]][] = [
  ["C=100 x W=16, 1000 auctions", ["--connections", "100", "--window", "16", "--auctions", "1000"]],
  ["C=1000 x W=4, 1000 auctions", ["--connections", "1000", "--window", "4", "--auctions", "1000"]],
  ["C=10 x W=128, 1000 auctions", ["--connections", "10", "--window", "128", "--auctions", "1000"]],
  ["C=100 x W=16, one hot auction", ["--connections", "100", "--window", "16", "--hot"]],
];

console.log(`## Closed loop (${SECONDS} s each after 1 s warm-up; bids rising with the clock)\n`);
console.log("| load | server | answered/s | accepted/s | vs trivial | p50 ms | p99 ms | generator CPU | server CPU | redis CPU |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
const saturated = new Map<string, number>();
for (const [name, args] of shapes) {
  let trivial = 0;
  for (const target of TARGETS) {
    const r = await load(["--spawn-server", target, ...args]);
    if (target === "trivial") trivial = r.measured.answeredPerS;
    if (name === shapes[0]![0]) saturated.set(target, r.measured.answeredPerS);
    const ratio = target === "trivial" ? "1.00" : (r.measured.answeredPerS / trivial).toFixed(2);
    console.log(
      `| ${name} | ${target} | ${k(r.measured.answeredPerS)} | ${k(r.measured.acceptedPerS)} | ${ratio} | ${ms(r.latencyUs.p50)} | ${ms(r.latencyUs.p99)} | ${cpu(r, "generator")} | ${cpu(r, "server")} | ${cpu(r, "redis")} |`,
    );
  }
}

if (TARGETS.includes("redis")) {
  const redis = await spawnRedis();
  const port = new URL(redis.url).port;
  const proc = Bun.spawn(["bun", "run", "bench/redis-ceiling.ts", "--port", port, "--seconds", SECONDS, "--json"], { cwd: ROOT, stdout: "pipe" });
  const ceiling = JSON.parse((await new Response(proc.stdout).text()).trim()) as { rate: number; acceptedShare: number };
  await redis.stop();
  const gavel = saturated.get("redis")!;
  console.log(`\n## Redis ceiling\n`);
  console.log(
    `One EVALSHA of lua/bid.lua per bid (full accept: HMGET, HSET, XADD, PUBLISH), C=50 x P=16 raw RESP, rising amounts ` +
      `(${Math.round(ceiling.acceptedShare * 100)}% accepted): **${k(ceiling.rate)}/s**.`,
  );
  console.log(`Gavel on Redis at C=100 x W=16: ${k(gavel)}/s = **${(gavel / ceiling.rate).toFixed(2)}x** that ceiling.`);
}

console.log(`\n## Open loop at half the saturated rate (C=100, latency from the intended send time)\n`);
console.log("| server | offered/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |");
console.log("|---|---|---|---|---|---|---|");
for (const target of TARGETS) {
  const rate = Math.round(saturated.get(target)! / 2);
  const r = await load(["--spawn-server", target, "--connections", "100", "--auctions", "1000", "--rate", String(rate)]);
  console.log(`| ${target} | ${k(rate)} | ${ms(r.latencyUs.p50)} | ${ms(r.latencyUs.p90)} | ${ms(r.latencyUs.p99)} | ${ms(r.latencyUs.p999)} | ${ms(r.latencyUs.max)} |`);
}
