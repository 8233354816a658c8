// Starts a real, throwaway Redis Cluster for tests: masters and their replicas, each a
// redis-server with cluster mode on, in one temp dir, on free loopback ports (and cluster bus
// ports chosen the same way, so no port + 10000 arithmetic can run past 65535).

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const LOOPBACK = "127.0.0.1";
/** How long a node may take to answer PING, and the cluster to reach cluster_state:ok. */
const START_TIMEOUT_MS = 15_000;
const POLL_MS = 25;
/** A node unreachable this long is failed over (a replica promoted): short, for tests. */
export const NODE_TIMEOUT_MS = 1_000;
const STOP_TIMEOUT_MS = 5_000;

export interface ClusterNode {
  port: number;
  /** redis://127.0.0.1:<port> (redis://:<password>@... with a password) */
  url: string;
  /** SIGKILL, like a crash (the node's files stay: restart() brings it back as it was). */
  kill(): Promise<void>;
  /** Starts the node again on its port and dir, and waits for PING. */
  restart(): Promise<void>;
  alive(): boolean;
  /** The node's pid while it runs (for CPU figures), else null. */
  pid(): number | null;
}

export interface ClusterHandle {
  /** Every node, masters first as created (their roles change with failovers). */
  nodes: ClusterNode[];
  /** The seeds, comma-separated: what REDIS_URL takes. */
  url: string;
  /** redis-cli against a live node; returns its stdout (throws on a non-zero exit). */
  cli(...args: string[]): Promise<string>;
  /** redis-cli --cluster <args> against a live node. */
  admin(...args: string[]): Promise<string>;
  /** Resolves once every live node reports cluster_state:ok and agrees on every slot's master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * After kill() of a master: resolves once the live nodes mark it failed, a replica serves its
   * slots, and the cluster is healthy again (the failover is done).
   */
  waitFailover(deadPort: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every live replica's link to its master is up (it holds the master's data). */
  waitReplicasSynced(timeoutMs?: number): Promise<void>;
  /** The ports of the masters serving slots now, as a live node sees them. */
  masterPorts(): Promise<number[]>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  masters?: number;
  /** Replicas per master. */
  replicas?: number;
  /** Extra redis-server arguments for every node. */
  args?: string[];
  /** `requirepass` (and `masterauth`) on every node; the urls then carry it. */
  password?: string;
}

const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const proc of running) proc.kill("SIGKILL");
});

/** Starts masters x (1 + replicas) nodes, forms the cluster, and waits for cluster_state:ok. */
export async function startRedisCluster(opts: ClusterOptions = {}): Promise<ClusterHandle> {
  const binary = Bun.which("redis-server");
  const cliBinary = Bun.which("redis-cli");
  if (binary === null || cliBinary === null) {
    throw new Error("redis-server and redis-cli must be on the PATH: the Redis Cluster tests need them (apt-get install redis-server)");
  }
  // redis-cli with the password, when there is one (and without its warning about -a).
  const cliCommand = [cliBinary, ...(opts.password === undefined ? [] : ["-a", opts.password, "--no-auth-warning"])];
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 1;
  const root = mkdtempSync(join(tmpdir(), "gavel-cluster-"));
  const count = masters * (1 + replicas);
  const ports = freePorts(count * 2);
  const nodes: ClusterNode[] = [];
  const procs: (Subprocess | null)[] = [];

  for (let n = 0; n < count; n++) {
    const port = ports[n]!;
    const busPort = ports[count + n]!;
    const dir = join(root, String(port));
    mkdirSync(dir);
    const argv = [
      binary,
      "--port", String(port),
      "--cluster-port", String(busPort),
      "--bind", LOOPBACK,
      "--dir", dir,
      "--logfile", "redis.log",
      "--save", "",
      "--appendonly", "no",
      "--cluster-enabled", "yes",
      "--cluster-config-file", "nodes.conf",
      "--cluster-node-timeout", String(NODE_TIMEOUT_MS),
      // A replica syncs at once (Redis waits 5 s by default to serve several in one transfer);
      // one that never synced is not promoted when its master dies.
      "--repl-diskless-sync-delay", "0",
      ...(opts.password === undefined ? [] : ["--requirepass", opts.password, "--masterauth", opts.password]),
      ...(opts.args ?? []),
    ];
    const launch = async () => {
      const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      running.add(proc);
      procs[n] = proc;
      await waitFor(async () => (await tryCli(cliCommand, port, ["PING"])) === "PONG", `node ${port} to answer PING`, () => readLog(dir));
    };
    const end = async (signal: "SIGTERM" | "SIGKILL") => {
      const proc = procs[n];
      if (proc === null || proc === undefined) return;
      procs[n] = null;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await proc.exited;
      clearTimeout(timer);
      running.delete(proc);
    };
    nodes.push({
      port,
      url: `redis://${opts.password === undefined ? "" : `:${encodeURIComponent(opts.password)}@`}${LOOPBACK}:${port}`,
      kill: () => end("SIGKILL"),
      restart: async () => {
        await end("SIGKILL");
        await launch();
      },
      alive: () => procs[n] !== null && procs[n] !== undefined,
      pid: () => procs[n]?.pid ?? null,
    });
    procEnders.set(port, end);
    await launch();
  }

  const liveNode = () => {
    const node = nodes.find((n) => n.alive());
    if (node === undefined) throw new Error("no cluster node is running");
    return node;
  };
  const cli = async (...args: string[]) => runCli(cliCommand, liveNode().port, args);
  const handle: ClusterHandle = {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    cli,
    admin: (...args: string[]) => runCli(cliCommand, null, ["--cluster", args[0]!, ...(args[0] === "create" ? [] : [`${LOOPBACK}:${liveNode().port}`]), ...args.slice(1)]),
    async waitHealthy(timeoutMs = START_TIMEOUT_MS) {
      let lastViews: string[] = [];
      await waitFor(
        async () => {
          const live = nodes.filter((n) => n.alive());
          const views: string[] = [];
          for (const node of live) {
            const info = await tryCli(cliCommand, node.port, ["CLUSTER", "INFO"]);
            if (info === null || !info.includes("cluster_state:ok")) return false;
            const view = await tryCli(cliCommand, node.port, ["CLUSTER", "NODES"]);
            if (view === null) return false;
            views.push(mastersOf(view));
            lastViews = [...views, info.split("\n")[0]!];
          }
          return views.every((v) => v === views[0]);
        },
        "the cluster to be healthy",
        () => lastViews.join("\n---\n"),
        timeoutMs,
      );
    },
    async waitFailover(deadPort: number, timeoutMs = START_TIMEOUT_MS) {
      await waitFor(
        async () => {
          const view = await tryCli(cliCommand, liveNode().port, ["CLUSTER", "NODES"]);
          if (view === null) return false;
          const dead = view.split("\n").find((line) => line.includes(`:${deadPort}@`));
          return dead !== undefined && dead.includes("fail") && /^cluster_state:ok/m.test((await tryCli(cliCommand, liveNode().port, ["CLUSTER", "INFO"])) ?? "") && slotsServed(view) === SLOT_COUNT;
        },
        `the failover of the master on ${deadPort}`,
        () => "",
        timeoutMs,
      );
      await handle.waitHealthy(timeoutMs);
    },
    async waitReplicasSynced(timeoutMs = START_TIMEOUT_MS) {
      await waitFor(
        async () => {
          for (const node of nodes.filter((n) => n.alive())) {
            const info = await tryCli(cliCommand, node.port, ["INFO", "replication"]);
            if (info === null) return false;
            if (info.includes("role:slave") && !info.includes("master_link_status:up")) return false;
          }
          return true;
        },
        "every replica to sync with its master",
        () => "",
        timeoutMs,
      );
    },
    async masterPorts() {
      const view = await cli("CLUSTER", "NODES");
      return mastersOf(view).split(",").map((entry) => Number(entry.split(":")[0])).sort((a, b) => a - b);
    },
    async stop() {
      await Promise.all(nodes.map((n) => procEnders.get(n.port)!("SIGTERM")));
      rmSync(root, { recursive: true, force: true });
    },
  };

  await runCli(cliCommand, null, [
    "--cluster", "create",
    ...nodes.map((n) => `${LOOPBACK}:${n.port}`),
    "--cluster-replicas", String(replicas),
    "--cluster-yes",
  ]);
  await handle.waitHealthy();
  await handle.waitReplicasSynced();
  return handle;
}

const procEnders = new Map<number, (signal: "SIGTERM" | "SIGKILL") => Promise<void>>();

/**
 * Who serves which slots, from CLUSTER NODES (`id ip:port@bus flags master ping pong epoch
 * link slot...`): the masters not marked failed that hold slots, as "port:ranges" sorted. Two
 * nodes that print the same string agree on the topology.
 */
function mastersOf(nodesOutput: string): string {
  return nodesOutput
    .split("\n")
    .map((line) => line.trim().split(" "))
    .filter((f) => f.length > 8 && f[2]!.includes("master") && !f[2]!.includes("fail"))
    .map((f) => `${f[1]!.split("@")[0]!.split(":")[1]}:${f.slice(8).filter((s) => !s.startsWith("[")).join(" ")}`)
    .sort()
    .join(",");
}

const SLOT_COUNT = 16_384;

/** How many slots the live masters of a CLUSTER NODES view serve. */
function slotsServed(nodesOutput: string): number {
  let served = 0;
  for (const line of nodesOutput.split("\n")) {
    const f = line.trim().split(" ");
    if (f.length <= 8 || !f[2]!.includes("master") || f[2]!.includes("fail")) continue;
    for (const range of f.slice(8)) {
      if (range.startsWith("[")) continue;
      const [lo, hi] = range.split("-").map(Number);
      served += (hi ?? lo!) - lo! + 1;
    }
  }
  return served;
}

/** Ports the kernel just handed out, all distinct, each free once its probe closes. */
function freePorts(count: number): number[] {
  const probes = Array.from({ length: count }, () => Bun.listen({ hostname: LOOPBACK, port: 0, socket: { data() {} } }));
  const ports = probes.map((p) => p.port);
  for (const probe of probes) probe.stop(true);
  return ports;
}

async function runCli(command: string[], port: number | null, args: string[]): Promise<string> {
  const argv = [...command, ...(port === null ? [] : ["-h", LOOPBACK, "-p", String(port)]), ...args];
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 || /^\[ERR\]|^ERR /m.test(out)) throw new Error(`redis-cli ${args.join(" ")} failed (${code}):\n${out}\n${err}`);
  return out.trim();
}

async function tryCli(command: string[], port: number, args: string[]): Promise<string | null> {
  try {
    return await runCli(command, port, args);
  } catch {
    return null;
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, detail: () => string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(POLL_MS);
  }
  throw new Error(`timed out waiting for ${what}\n${detail()}`);
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, "redis.log"), "utf8");
  } catch {
    return "(no log)";
  }
}
