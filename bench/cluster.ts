// Scale-out figures on one machine: acknowledged bids/s and Redis CPU per master for one Redis
// against a Redis Cluster of 3 masters (3 replicas), with 1 and 2 Gavel nodes; and what a
// master killed under load costs, with and without GAVEL_REDIS_WAIT_REPLICAS.
//
//   bun run bench/cluster.ts [--seconds 10] [--connections 100] [--window 16] [--auctions 1000]
//                            [--only single-1,single-2,cluster-1,cluster-2,cluster-1-wait] [--failover] [--quick]
//
// Each throughput row starts its own Redis (or cluster) and Gavel node(s) on free ports, runs
// bench/load.ts against every node at once (the connections split between them, rising amounts),
// and sums the acknowledged bids/s; Redis CPU is each redis-server's CPU seconds over the
// measured window (masters only). --failover runs, for WAIT 0 and WAIT 1, bidders against one
// node while a master is killed with SIGKILL mid-run, then counts the ACCEPTED bids missing
// from the final history (the consistency checker's lost-bid violations). --quick: a few
// seconds in all, to see that it runs (figures from it mean nothing).

import { parseArgs } from "node:util";
import { join } from "node:path";
import { encodeBid } from "../src/protocol/codec.ts";
import { BID_FRAME_SIZE, Status } from "../src/protocol/constants.ts";
import { spawnGavel, type GavelProcess } from "../test/support/process.ts";
import { connectRaw } from "../test/support/raw-client.ts";
import { startRedis } from "../test/support/redis.ts";
import { startRedisCluster } from "../test/support/redis-cluster.ts";
import { check, ClientLog, fetchFinalState, ViolationKind } from "../test/support/consistency.ts";
import { treeCpuSeconds } from "./load/cpu.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "100" },
    window: { type: "string", default: "16" },
    auctions: { type: "string", default: "1000" },
    only: { type: "string", default: "single-1,single-2,cluster-1,cluster-2,cluster-1-wait" },
    failover: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
  },
});
const quick = values.quick!;
const seconds = quick ? 1 : Number(values.seconds);
const connections = quick ? 4 : Number(values.connections);
const window = Number(values.window);
const auctions = quick ? 16 : Number(values.auctions);
const LOAD = join(import.meta.dir, "load.ts");
const WARMUP_S = quick ? 0 : 2;

interface Row {
  setup: string;
  ackedPerS: number;
  /** CPU seconds per second of each master (one Redis: one entry). */
  redisCpu: number[];
  gavelCpu: number[];
}

/** One throughput row: `masters` 1 (one Redis) or 3 (a cluster), `nodes` Gavel processes. */
async function throughput(masters: 1 | 3, nodes: number, env: Record<string, string> = {}): Promise<Row> {
  const single = masters === 1 ? await startRedis() : null;
  const cluster = masters === 3 ? await startRedisCluster() : null;
  const url = single?.url ?? cluster!.url;
  const gavels: GavelProcess[] = [];
  try {
    for (let n = 0; n < nodes; n++) gavels.push(await spawnGavel({ REDIS_URL: url, ...env }));
    const masterPids = single !== null ? [single.pid()!] : await clusterMasterPids(cluster!);
    const before = masterPids.map((pid) => treeCpuSeconds(pid) ?? 0);
    const gavelBefore = gavels.map((g) => treeCpuSeconds(g.proc.pid) ?? 0);
    const started = performance.now();
    const reports = await Promise.all(
      gavels.map((g, n) =>
        runLoad([
          "--port", String(g.port), "--http-port", String(g.httpPort),
          "--connections", String(Math.max(1, Math.round(connections / nodes))), "--window", String(window),
          "--duration", String(seconds), "--warmup", String(WARMUP_S), "--auctions", String(Math.ceil(auctions / nodes)),
          "--auction-base", String(1 + n * 1_000_000), "--json", "--no-progress",
        ]),
      ),
    );
    const wall = (performance.now() - started) / 1000;
    return {
      setup: `${masters === 1 ? "1 Redis" : "cluster 3+3"}, ${nodes} Gavel node${nodes === 1 ? "" : "s"}${env.GAVEL_REDIS_WAIT_REPLICAS ? `, WAIT ${env.GAVEL_REDIS_WAIT_REPLICAS}` : ""}`,
      ackedPerS: reports.reduce((sum, r) => sum + r.measured.acceptedPerS, 0),
      redisCpu: masterPids.map((pid, i) => ((treeCpuSeconds(pid) ?? 0) - before[i]!) / wall),
      gavelCpu: gavels.map((g, i) => ((treeCpuSeconds(g.proc.pid) ?? 0) - gavelBefore[i]!) / wall),
    };
  } finally {
    for (const g of gavels) await g.kill("SIGKILL");
    await single?.stop();
    await cluster?.stop();
  }
}

async function clusterMasterPids(cluster: Awaited<ReturnType<typeof startRedisCluster>>): Promise<number[]> {
  const ports = await cluster.masterPorts();
  return cluster.nodes.filter((n) => ports.includes(n.port)).map((n) => n.pid()!);
}

async function runLoad(args: string[]): Promise<{ measured: { acceptedPerS: number } }> {
  const proc = Bun.spawn(["bun", "run", LOAD, ...args], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return JSON.parse(out.trim().split("\n").pop()!) as { measured: { acceptedPerS: number } };
}

/** A master killed mid-run under `waitReplicas`: bids by status, and ACCEPTED bids lost. */
async function failover(waitReplicas: number): Promise<string> {
  const cluster = await startRedisCluster();
  const node = await spawnGavel({ REDIS_URL: cluster.url, GAVEL_REDIS_WAIT_REPLICAS: String(waitReplicas), GAVEL_BREAKER_FAILURES: "0" });
  try {
    const ids: number[] = [];
    for (let i = 0; i < 16; i++) {
      const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
      ids.push(((await response.json()) as { id: number }).id);
    }
    const log = new ClientLog();
    const bidders = await Promise.all([0, 1, 2].map(async (b) => ({ client: await connectRaw(node.port), log: log.bidder(`b${b}`), user: 100 + b, req: 0, seen: 0 })));
    let done = false;
    const scenario = (async () => {
      await Bun.sleep(quick ? 300 : 1_000);
      const [victimPort] = await cluster.masterPorts();
      const victim = cluster.nodes.find((n) => n.port === victimPort)!;
      await victim.kill();
      await cluster.waitFailover(victimPort!, 20_000);
      await victim.restart();
      await cluster.waitHealthy(20_000);
      await cluster.waitReplicasSynced(20_000);
      await Bun.sleep(quick ? 300 : 1_000);
    })().finally(() => {
      done = true;
    });
    for (let round = 0; !done; round++) {
      for (const bidder of bidders) {
        const bytes = new Uint8Array(ids.length * BID_FRAME_SIZE);
        let offset = 0;
        for (const id of ids) {
          const amount = 1000 + round * 30 + bidder.user;
          offset = encodeBid(bytes, offset, ++bidder.req, id, bidder.user, amount);
          bidder.log.sent(bidder.req, id, bidder.user, amount);
        }
        bidder.client.send(bytes);
      }
      await Bun.sleep(10);
    }
    await scenario;
    await Promise.all(bidders.map((b) => b.client.waitFor(b.req, 30_000)));
    for (const b of bidders) for (; b.seen < b.client.frames.length; b.seen++) b.log.observe(b.client.frames[b.seen]!);
    const final = await fetchFinalState(node.httpUrl, ids);
    const lost = check(log, final, { linearizability: false }).filter((v) => v.kind === ViolationKind.LOST_BID).length;
    const records = log.bidders.flatMap((b) => b.records);
    const count = (status: number) => records.filter((r) => r.status === status).length;
    for (const b of bidders) b.client.close();
    return (
      `WAIT ${waitReplicas}: ${records.length} bids, ${count(Status.ACCEPTED)} ACCEPTED, ${count(Status.UNAVAILABLE)} UNAVAILABLE, ` +
      `${count(Status.UNCONFIRMED)} UNCONFIRMED; acknowledged bids lost: ${lost}`
    );
  } finally {
    await node.kill("SIGKILL");
    await cluster.stop();
  }
}

const setups: Record<string, () => Promise<Row>> = {
  "single-1": () => throughput(1, 1),
  "single-2": () => throughput(1, 2),
  "cluster-1": () => throughput(3, 1),
  "cluster-2": () => throughput(3, 2),
  // The cost of waiting for a replica per batch.
  "cluster-1-wait": () => throughput(3, 1, { GAVEL_REDIS_WAIT_REPLICAS: "1" }),
};
console.log(`bench/cluster: ${seconds} s per row, ${connections} connections x window ${window}, ${auctions} auctions${quick ? " (quick: figures mean nothing)" : ""}`);
console.log("| setup | acked bids/s | Redis CPU per master (cores) | Gavel CPU per node (cores) |");
console.log("|---|---|---|---|");
for (const name of values.only!.split(",")) {
  const run = setups[name.trim()];
  if (run === undefined) throw new Error(`unknown setup ${name}: one of ${Object.keys(setups).join(", ")}`);
  const row = await run();
  const cores = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(" / ");
  console.log(`| ${row.setup} | ${Math.round(row.ackedPerS).toLocaleString("en-US")} | ${cores(row.redisCpu)} | ${cores(row.gavelCpu)} |`);
}
if (values.failover) {
  console.log("\nmaster killed with SIGKILL under load (then restarted as a replica):");
  for (const wait of [0, 1]) console.log(`  ${await failover(wait)}`);
}
process.exit(0);
