// Chooses and opens the store the configuration names.

import type { Config } from "../config.ts";
import type { LogSink } from "../log/log-sink.ts";
import { CircuitBreakerStore } from "./circuit-breaker.ts";
import type { FeedMode } from "./redis-feed.ts";
import { MemoryStore } from "./memory.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/**
 * Opens the store. Redis gets its command timeout, a circuit breaker around its bid path
 * (unless GAVEL_BREAKER_FAILURES is 0), and a warning through `log` when its persistence
 * settings let acknowledged bids be lost (docs/reliability.md).
 */
export async function openStore(config: Config, log: LogSink = console.warn): Promise<Store> {
  // Off by default: with no webhook URL no store writes an event.
  const webhooks = config.webhookUrl !== "";
  switch (config.store) {
    case "memory":
      return new MemoryStore({ retentionMs: config.retentionMs, webhooks });
    case "sqlite":
      return new SqliteStore({ path: config.dbPath, log, retentionMs: config.retentionMs, webhooks });
    case "redis": {
      const [{ RedisStore }, { persistenceWarning, readPersistenceOn }] = await Promise.all([
        import("./redis.ts"),
        import("./redis-durability.ts"),
      ]);
      const sentinel = redisSentinel(config);
      const store = await RedisStore.connect({
        url: config.redisUrl,
        sentinel,
        shards: config.redisShards,
        commandTimeoutMs: config.redisTimeoutMs,
        waitReplicas: config.redisWaitReplicas,
        waitTimeoutMs: config.redisWaitTimeoutMs,
        log,
        webhooks,
        webhookLeaseMs: config.webhookLeaseMs,
        retentionMs: config.retentionMs,
        feedMode: config.redisFeed as FeedMode,
        feedLingerMs: config.redisFeedLingerMs,
      });
      const warning = persistenceWarning(await readPersistenceOn(store.primaryConnection()));
      if (warning !== null) log(`gavel: warning: ${warning}`);
      if (config.breakerFailures === 0) return store;
      return new CircuitBreakerStore(store, { failures: config.breakerFailures, cooldownMs: config.breakerCooldownMs, log });
    }
  }
}

/** GAVEL_REDIS_SENTINELS and GAVEL_REDIS_SENTINEL_NAME, or null when not set (checked by config). */
function redisSentinel(config: Config): { sentinels: { host: string; port: number }[]; name: string } | null {
  if (config.redisSentinels.trim() === "") return null;
  const sentinels = config.redisSentinels.split(",").map((entry) => {
    const colon = entry.lastIndexOf(":");
    return { host: entry.slice(0, colon).trim(), port: Number(entry.slice(colon + 1)) };
  });
  return { sentinels, name: config.redisSentinelName.trim() };
}
