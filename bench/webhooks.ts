// Webhook delivery under bid load (docs/webhooks.md): a local receiver (Bun.serve, answers 204
// at once) takes the POSTs of a server spawned by bench/load.ts with GAVEL_WEBHOOK_URL set,
// while the load generator drives bids at it. Reports bids/s, events delivered per second while
// the load ran, and the lag from an event's `at` to its arrival (p50, p99, max).
//
//   bun run bench/webhooks.ts [--store sqlite] [--seconds 5] [--rate 20000] [--auctions 1000]
//   quick check that it runs: bun run bench/webhooks.ts --seconds 1 --rate 2000
//
// The lag includes the dispatcher's poll of the outbox (50 ms when idle) and the one-at-a-time
// order per auction: with few auctions and many events each, events queue behind each other.

import { parseArgs } from "node:util";
import { join } from "node:path";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "sqlite" },
    seconds: { type: "string", default: "5" },
    rate: { type: "string", default: "20000" },
    auctions: { type: "string", default: "1000" },
  },
});
const ROOT = join(import.meta.dir, "..");
const SECRET = "bench-webhook-secret-0123456789";

const lagsMs: number[] = [];
let firstAt = 0;
let lastAt = 0;
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const body = (await request.json()) as { at: number };
    const now = Date.now();
    if (firstAt === 0) firstAt = now;
    lastAt = now;
    lagsMs.push(now - body.at);
    return new Response(null, { status: 204 });
  },
});

const serverEnv = [`GAVEL_WEBHOOK_URL=http://127.0.0.1:${receiver.port}/hooks`, `GAVEL_WEBHOOK_SECRET=${SECRET}`].join(",");
const args = ["--json", "--no-progress", "--spawn-server", values.store!, "--server-env", serverEnv, "--duration", values.seconds!, "--rate", values.rate!, "--auctions", values.auctions!];
const proc = Bun.spawn(["bun", "run", "bench/load.ts", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
receiver.stop(true);
if (code !== 0) {
  console.error(`bench/webhooks: the load run failed (${code}):\n${err.slice(-2000)}`);
  process.exit(1);
}
const report = JSON.parse(out.trim().split("\n").at(-1)!) as { measured: { answeredPerS: number; acceptedPerS: number } };

const sorted = lagsMs.toSorted((a, b) => a - b);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const spanS = Math.max(0.001, (lastAt - firstAt) / 1000);
console.log(`## Webhooks under load (${values.store}, ${values.rate} bids/s offered, ${values.seconds} s, ${values.auctions} auctions)\n`);
console.log("| answered/s | accepted/s | events delivered | delivered/s | lag p50 ms | lag p99 ms | lag max ms |");
console.log("|---|---|---|---|---|---|---|");
console.log(
  `| ${Math.round(report.measured.answeredPerS)} | ${Math.round(report.measured.acceptedPerS)} | ${lagsMs.length} | ${Math.round(lagsMs.length / spanS)} | ${at(0.5)} | ${at(0.99)} | ${sorted.at(-1) ?? 0} |`,
);
console.log("\nEvents still in the outbox when the load generator stopped the server are not counted (they go out on its next start).");
