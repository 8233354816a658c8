// Settings: defaults, flags, and a clear refusal naming each bad one.

import { describe, expect, test } from "bun:test";
import { ConfigError, Defaults, loadConfig } from "../../src/config.ts";
import { runGavelExpectingFailure } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

describe("configuration", () => {
  test("defaults: sqlite store, documented ports", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ store: "sqlite", port: 7400, httpPort: 7401, host: "127.0.0.1", dbPath: "./data/gavel.db" });
    expect(config.queueCapacity).toBe(Defaults.queueCapacity);
    expect(config.batchSize).toBe(Defaults.batchSize);
  });

  test("REDIS_URL alone chooses the redis store", () => {
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).store).toBe("redis");
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379", GAVEL_STORE: "sqlite" }).store).toBe("sqlite");
  });

  test("flags override the environment", () => {
    const config = loadConfig({ GAVEL_PORT: "9000" }, ["--port", "9100", "--http-port=9101", "--redis-url", "redis://x:1", "--store", "memory"]);
    expect(config).toMatchObject({ port: 9100, httpPort: 9101, redisUrl: "redis://x:1", store: "memory" });
  });

  const bad: [Record<string, string>, string][] = [
    [{ GAVEL_PORT: "seventy" }, "GAVEL_PORT"],
    [{ GAVEL_PORT: "70000" }, "GAVEL_PORT"],
    [{ GAVEL_HTTP_PORT: "-1" }, "GAVEL_HTTP_PORT"],
    [{ GAVEL_STORE: "postgres" }, "GAVEL_STORE"],
    [{ GAVEL_STORE: "redis" }, "REDIS_URL"],
    [{ REDIS_URL: "localhost:6379" }, "REDIS_URL"],
    [{ GAVEL_QUEUE: "1000" }, "GAVEL_QUEUE"],
    [{ GAVEL_BATCH: "0" }, "GAVEL_BATCH"],
    [{ GAVEL_QUEUE: "1024", GAVEL_BATCH: "2048" }, "GAVEL_BATCH"],
    [{ GAVEL_MAX_CONNECTIONS: "lots" }, "GAVEL_MAX_CONNECTIONS"],
    [{ GAVEL_PORT: "7400", GAVEL_HTTP_PORT: "7400" }, "GAVEL_HTTP_PORT"],
    [{ GAVEL_WEBHOOK_URL: "http://127.0.0.1:9/hooks" }, "GAVEL_WEBHOOK_SECRET"],
    [{ GAVEL_WEBHOOK_URL: "http://127.0.0.1:9/hooks", GAVEL_WEBHOOK_SECRET: "short" }, "GAVEL_WEBHOOK_SECRET"],
    [{ GAVEL_WEBHOOK_SECRET: "a-secret-of-enough-bytes" }, "GAVEL_WEBHOOK_SECRET"],
    [{ GAVEL_WEBHOOK_URL: "ftp://example.com/x", GAVEL_WEBHOOK_SECRET: "a-secret-of-enough-bytes" }, "GAVEL_WEBHOOK_URL"],
    [{ GAVEL_WEBHOOK_URL: "not a url", GAVEL_WEBHOOK_SECRET: "a-secret-of-enough-bytes" }, "GAVEL_WEBHOOK_URL"],
    [{ GAVEL_WEBHOOK_TIMEOUT_MS: "5" }, "GAVEL_WEBHOOK_TIMEOUT_MS"],
  ];
  for (const [env, setting] of bad) {
    test(`refuses ${JSON.stringify(env)}, naming ${setting}`, () => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(setting);
    });
  }

  test("an unknown flag is refused", () => {
    expect(() => loadConfig({}, ["--prot", "1"])).toThrow("--prot");
  });

  test("the server process stops at start-up with a message naming the setting", async () => {
    const { code, output } = await runGavelExpectingFailure({ GAVEL_BATCH: "many" });
    expect(code).toBe(2);
    expect(output).toContain("GAVEL_BATCH");
  });
});
