// What Gavel says at start-up about Redis's persistence: read with CONFIG GET from a real
// redis-server in each setting, and the warning each one gets (none for appendfsync always).

import { afterAll, describe, expect, test } from "bun:test";
import { persistenceWarning, readRedisPersistence } from "../../src/store/redis-durability.ts";
import { spawnGavel } from "../support/process.ts";
import { loadConfig } from "../../src/config.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const TIMEOUT_MS = 2_000;

describe("Redis persistence warning", () => {
  const servers: RedisHandle[] = [];
  afterAll(async () => {
    for (const redis of servers) await redis.stop();
  });
  const start = async (...args: Parameters<typeof startRedis>) => {
    const redis = await startRedis(...args);
    servers.push(redis);
    return redis;
  };

  test("appendonly yes, appendfsync always: read as such, no warning", async () => {
    const redis = await start({ appendonly: true });
    const settings = await readRedisPersistence(redis.url, TIMEOUT_MS);
    expect(settings).toEqual({ appendonly: "yes", appendfsync: "always", save: "" });
    expect(persistenceWarning(settings)).toBeNull();
  });

  test("appendonly no: every acknowledged bid is at risk, and the warning says so", async () => {
    const redis = await start();
    const warning = persistenceWarning(await readRedisPersistence(redis.url, TIMEOUT_MS));
    expect(warning).toContain("appendonly no");
    expect(warning).toContain("no RDB snapshots");
    expect(persistenceWarning({ appendonly: "no", appendfsync: "everysec", save: "3600 1" })).toContain('only RDB snapshots (save "3600 1")');
  });

  test("appendfsync everysec and no: the host-crash window is named", async () => {
    const everysec = await start({ appendonly: true, args: ["--appendfsync", "everysec"] });
    expect(persistenceWarning(await readRedisPersistence(everysec.url, TIMEOUT_MS))).toContain("appendfsync everysec");
    expect(persistenceWarning({ appendonly: "yes", appendfsync: "no", save: "" })).toContain("about the last 30 s");
  });

  test("CONFIG disabled (renamed away, as managed services do): said so, not a failure", async () => {
    const redis = await start({ args: ["--rename-command", "CONFIG", ""] });
    const settings = await readRedisPersistence(redis.url, TIMEOUT_MS);
    expect(settings).toMatchObject({ unreadable: expect.stringContaining("unknown command") });
    expect(persistenceWarning(settings)).toContain("cannot read Redis's persistence settings");
  });

  test("the server prints the warning at start-up, and starts", async () => {
    const redis = await start();
    const node = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redis.url });
    try {
      expect(node.output()).toContain("gavel: warning: Redis runs with appendonly no");
    } finally {
      await node.kill("SIGKILL");
    }
    const safe = await start({ appendonly: true });
    const quiet = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: safe.url });
    try {
      expect(quiet.output()).not.toContain("warning");
    } finally {
      await quiet.kill("SIGKILL");
    }
  });

  test("the fault settings: defaults, and a bad value names its setting", () => {
    expect(loadConfig({})).toMatchObject({ redisTimeoutMs: 2000, breakerFailures: 5, breakerCooldownMs: 1000 });
    expect(loadConfig({ GAVEL_BREAKER_FAILURES: "0" }).breakerFailures).toBe(0); // no breaker
    for (const [setting, value] of [
      ["GAVEL_REDIS_TIMEOUT_MS", "0"],
      ["GAVEL_BREAKER_FAILURES", "many"],
      ["GAVEL_BREAKER_COOLDOWN_MS", "1"],
    ] as const) {
      expect(() => loadConfig({ [setting]: value })).toThrow(`${setting}:`);
    }
  });
});
