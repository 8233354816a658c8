// How Gavel reaches Redis: one server, a Redis Cluster (found by asking the first seed that
// answers whether cluster mode is on), or a primary found through Sentinel. The store's code is
// the same on all three; what differs is made here.

import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { redact } from "../log/redact.ts";
import { StoreError } from "./errors.ts";

export const RedisTopology = { SINGLE: "single", CLUSTER: "cluster", SENTINEL: "sentinel" } as const;
export type RedisTopology = (typeof RedisTopology)[keyof typeof RedisTopology];

export interface SentinelTarget {
  /** host:port of each Sentinel. */
  sentinels: { host: string; port: number }[];
  /** The monitored primary's name (`sentinel monitor <name> ...`). */
  name: string;
}

/** One seed of REDIS_URL and what its URL says about credentials and TLS. */
interface Seed {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
  db: number;
}

const DEFAULT_PORT = 6379;
/** Redis Cluster has one database, 0. */
const CLUSTER_DB = 0;
/** Delays between reconnect attempts of the cluster as a whole. */
const CLUSTER_RETRY_BASE_MS = 50;
const CLUSTER_RETRY_MAX_MS = 1_000;
/** How long ioredis waits before retrying a command Redis answered TRYAGAIN (a multi-key
 * call during a slot's migration) or CLUSTERDOWN (a failover in progress): it did not run. */
const TRYAGAIN_DELAY_MS = 50;
const CLUSTERDOWN_DELAY_MS = 100;
/** Redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) one command may follow before it fails. */
export const MAX_REDIRECTIONS = 16;
/** How often the cluster client re-reads the slot map on its own (MOVED also triggers it). */
const SLOTS_REFRESH_INTERVAL_MS = 5_000;

/** Parses `redis[s]://[user:password@]host[:port][/db][?password=...]`, several comma-separated as seeds. */
export function parseSeeds(url: string): Seed[] {
  return url.split(",").map((part, index) => {
    let text = part.trim();
    // "redis://a:1,b:2": later seeds may omit the scheme and credentials; they share the first's.
    if (index > 0 && !/^rediss?:\/\//.test(text)) text = `${url.split("://")[0]}://${text}`;
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      throw new StoreError(`REDIS_URL seed ${index + 1} is not a redis:// or rediss:// URL: ${redact(text)}`);
    }
    // ioredis also reads `?password=`, `?username=` and `?db=` (a query value wins, as there).
    const query = parsed.searchParams;
    const path = parsed.pathname.length > 1 ? parsed.pathname.slice(1) : "0";
    const db = Number(query.get("db") ?? path);
    const username = query.get("username") ?? (parsed.username !== "" ? decodeURIComponent(parsed.username) : null);
    const password = query.get("password") ?? (parsed.password !== "" ? decodeURIComponent(parsed.password) : null);
    return {
      host: parsed.hostname,
      port: parsed.port === "" ? DEFAULT_PORT : Number(parsed.port),
      ...(username !== null ? { username } : {}),
      ...(password !== null ? { password } : {}),
      tls: parsed.protocol === "rediss:",
      db: Number.isInteger(db) ? db : 0,
    };
  }).map((seed, index, all) => (index > 0 && seed.password === undefined ? { ...seed, username: all[0]!.username, password: all[0]!.password } : seed)) as Seed[];
}

/** The options every connection to one server gets from the seed: credentials, TLS, db. */
function seedOptions(seed: Seed): RedisOptions {
  return {
    ...(seed.username !== undefined ? { username: seed.username } : {}),
    ...(seed.password !== undefined ? { password: seed.password } : {}),
    ...(seed.tls ? { tls: { servername: seed.host } } : {}),
  };
}

/**
 * Asks the seeds in order whether Redis runs in cluster mode (`INFO cluster`,
 * `cluster_enabled:1`); the first that answers decides. Rejects when none answers.
 */
export async function detectTopology(url: string, timeoutMs: number): Promise<RedisTopology> {
  let lastError: unknown = null;
  for (const seed of parseSeeds(url)) {
    const probe = new Redis({
      host: seed.host,
      port: seed.port,
      ...seedOptions(seed),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      retryStrategy: () => null,
    });
    probe.on("error", () => {
      // Reported through the failed command.
    });
    try {
      await probe.connect();
      const info = await probe.info("cluster");
      return /^cluster_enabled:1/m.test(info) ? RedisTopology.CLUSTER : RedisTopology.SINGLE;
    } catch (error) {
      lastError = error;
    } finally {
      probe.disconnect();
    }
  }
  throw new StoreError(`cannot reach Redis at ${redact(url)}`, { cause: lastError });
}

/**
 * Scripts called with their key count first (EVALSHA's numkeys: their number of keys varies).
 * ioredis's auto-pipelining groups a command by the slot of its first argument, here that
 * count: two such calls for groups on different masters made in the same tick (the closer's
 * groups, a listing page's reads) went into one pipeline, which ioredis rejects ("All keys in
 * the pipeline should belong to the same slots allocation group"). Sent on their own, each is
 * routed by its keys.
 */
const COUNTED_KEY_SCRIPTS = ["gavelClose", "gavelReadAuctions", "gavelReadIds", "gavelReadScheduledIds"] as const;

/**
 * The cluster client for these seeds. `base` carries the per-connection options of the single
 * Redis client (timeouts, retries, auto-pipelining), applied to each node's connection.
 */
export function openCluster(url: string, base: RedisOptions, extra: Partial<ClusterOptions> = {}): Cluster {
  const seeds = parseSeeds(url);
  const first = seeds[0]!;
  const redisOptions = {
    ...seedOptions(first),
    db: CLUSTER_DB,
    connectTimeout: base.connectTimeout,
    commandTimeout: base.commandTimeout,
    maxRetriesPerRequest: base.maxRetriesPerRequest,
    autoResendUnfulfilledCommands: base.autoResendUnfulfilledCommands,
    ...(base.connectionName !== undefined ? { connectionName: base.connectionName } : {}),
  } as ClusterOptions["redisOptions"];
  return new Cluster(
    seeds.map((s) => ({ host: s.host, port: s.port })),
    {
      lazyConnect: true,
      redisOptions,
      enableAutoPipelining: base.enableAutoPipelining ?? false,
      autoPipeliningIgnoredCommands: [...COUNTED_KEY_SCRIPTS],
      enableOfflineQueue: base.enableOfflineQueue ?? false,
      // The ready check made Cluster.connect() hang about one time in three here.
      enableReadyCheck: false,
      // A command whose node connection closed may have run: never resend it elsewhere (it
      // would apply a batch twice). MOVED, ASK, TRYAGAIN and CLUSTERDOWN mean Redis refused
      // to run it, so those are followed.
      retryDelayOnFailover: 0,
      retryDelayOnTryAgain: TRYAGAIN_DELAY_MS,
      retryDelayOnClusterDown: CLUSTERDOWN_DELAY_MS,
      maxRedirections: MAX_REDIRECTIONS,
      slotsRefreshTimeout: base.connectTimeout ?? 2_000,
      slotsRefreshInterval: SLOTS_REFRESH_INTERVAL_MS,
      clusterRetryStrategy: (times) => Math.min(CLUSTER_RETRY_BASE_MS * 2 ** (times - 1), CLUSTER_RETRY_MAX_MS),
      ...extra,
    },
  );
}

/** The client for one server (REDIS_URL) or for the primary Sentinel names. */
export function openSingle(url: string, base: RedisOptions, sentinel: SentinelTarget | null): Redis {
  if (sentinel === null) return new Redis(url, base);
  // Credentials and TLS in REDIS_URL (if set) are the primary's; the Sentinels take the same.
  const seed = url === "" ? null : parseSeeds(url)[0]!;
  const options = seed === null ? {} : seedOptions(seed);
  return new Redis({
    ...base,
    ...options,
    sentinels: sentinel.sentinels,
    name: sentinel.name,
    ...(seed?.password !== undefined ? { sentinelPassword: seed.password } : {}),
    ...(seed?.tls ? { enableTLSForSentinelMode: true, sentinelTLS: options.tls } : {}),
    // Subscribes to the Sentinels' +switch-master and reconnects to the new primary at once,
    // instead of when the old one's connection times out.
    failoverDetector: true,
    // A replica must never take writes (a stale Sentinel view): ioredis re-asks the Sentinels
    // when the server it reached says READONLY.
    reconnectOnError: (error) => error.message.startsWith("READONLY"),
  } as RedisOptions);
}
