// Starts a throwaway primary, its two replicas and one Redis Sentinel (Debian's redis-sentinel)
// watching them, on free loopback ports; removed after.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startRedis, type RedisHandle } from "./redis.ts";

const LOOPBACK = "127.0.0.1";
export const SENTINEL_NAME = "gavel";
/** A primary silent this long is down for the Sentinel: short, for tests. */
const DOWN_AFTER_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 3_000;
const POLL_MS = 50;
const WAIT_TIMEOUT_MS = 20_000;
/** Replicas sync at once instead of waiting to serve several in one transfer. */
const SYNC_AT_ONCE = ["--repl-diskless-sync-delay", "0"];

export interface SentinelSetup {
  primary: RedisHandle;
  /** Two, as in production: after a failover the one not promoted serves the new primary's WAIT. */
  replicas: RedisHandle[];
  /** host:port of the Sentinel: what GAVEL_REDIS_SENTINELS takes. */
  sentinels: string;
  /** The port of the server the Sentinel names as primary now. */
  primaryPort(): Promise<number>;
  /** Resolves once the Sentinel names another primary than `port`. */
  waitFailover(port: number): Promise<void>;
  /** Resolves once `handle` is a replica whose link to the primary is up. */
  waitSynced(handle: RedisHandle): Promise<void>;
  stop(): Promise<void>;
}

export async function startSentinelSetup(): Promise<SentinelSetup> {
  const binary = Bun.which("redis-sentinel");
  if (binary === null) throw new Error("redis-sentinel is not on the PATH: the Sentinel tests need it (apt-get install redis-sentinel)");
  const primary = await startRedis({ args: SYNC_AT_ONCE });
  const replicas = await Promise.all([0, 1].map(() => startRedis({ args: [...SYNC_AT_ONCE, "--replicaof", LOOPBACK, String(primary.port)] })));
  const dir = mkdtempSync(join(tmpdir(), "gavel-sentinel-"));
  const probe = Bun.listen({ hostname: LOOPBACK, port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const config = join(dir, "sentinel.conf");
  writeFileSync(
    config,
    [
      `port ${port}`,
      `bind ${LOOPBACK}`,
      `dir ${dir}`,
      `logfile ${join(dir, "sentinel.log")}`,
      `sentinel monitor ${SENTINEL_NAME} ${LOOPBACK} ${primary.port} 1`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
      "",
    ].join("\n"),
  );
  const proc: Subprocess = Bun.spawn([binary, config], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const cli = (p: number, ...args: string[]) => Bun.$`redis-cli -p ${p} ${args}`.nothrow().quiet().text();
  const until = async (check: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (await check()) return;
      await Bun.sleep(POLL_MS);
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const primaryPort = async () => {
    const reply = await cli(port, "SENTINEL", "get-master-addr-by-name", SENTINEL_NAME);
    return Number(reply.trim().split("\n")[1]);
  };
  const setup: SentinelSetup = {
    primary,
    replicas,
    sentinels: `${LOOPBACK}:${port}`,
    primaryPort,
    waitFailover: (old) => until(async () => {
      const now = await primaryPort();
      return Number.isInteger(now) && now !== old;
    }, "the Sentinel's failover"),
    waitSynced: (handle) => until(async () => /master_link_status:up/.test(await cli(handle.port, "INFO", "replication")), `port ${handle.port} to sync`),
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
      await Promise.all([primary.stop(), ...replicas.map((r) => r.stop())]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await until(async () => (await primaryPort()) === primary.port, "the Sentinel to answer");
  for (const replica of replicas) {
    await setup.waitSynced(replica);
    // The Sentinel must know the replica before it can promote it.
    await until(async () => (await cli(port, "SENTINEL", "replicas", SENTINEL_NAME)).includes(String(replica.port)), "the Sentinel to see the replica");
  }
  return setup;
}
