// The limit settings: defaults, and refusals naming the setting.

import { describe, expect, test } from "bun:test";
import { ConfigError, Defaults, loadConfig } from "../../src/config.ts";
import { runGavelExpectingFailure } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

describe("limit settings", () => {
  test("defaults: no bid rate, no per-address limit, 5 min idle, 5 s per frame", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ bidRate: 0, maxConnectionsPerIp: 0, idleMs: 300_000, frameTimeoutMs: 5_000 });
    expect(config.idleMs).toBe(Defaults.idleMs);
    expect(config.maxConnections).toBe(Defaults.maxConnections);
  });

  test("a rate without a burst allows two seconds' worth at once", () => {
    expect(loadConfig({ GAVEL_BID_RATE: "20" })).toMatchObject({ bidRate: 20, bidBurst: 40 });
    expect(loadConfig({ GAVEL_BID_RATE: "20", GAVEL_BID_BURST: "5" })).toMatchObject({ bidRate: 20, bidBurst: 5 });
    expect(loadConfig({}, ["--bid-rate", "3", "--max-conn-per-ip", "8", "--idle-ms", "1000", "--frame-timeout-ms", "0"])).toMatchObject({
      bidRate: 3,
      maxConnectionsPerIp: 8,
      idleMs: 1000,
      frameTimeoutMs: 0,
    });
  });

  const bad: [Record<string, string>, string][] = [
    [{ GAVEL_BID_RATE: "fast" }, "GAVEL_BID_RATE"],
    [{ GAVEL_BID_RATE: "-1" }, "GAVEL_BID_RATE"],
    [{ GAVEL_BID_RATE: "10", GAVEL_BID_BURST: "0" }, "GAVEL_BID_BURST"],
    [{ GAVEL_BID_BURST: "1.5" }, "GAVEL_BID_BURST"],
    [{ GAVEL_MAX_CONN_PER_IP: "many" }, "GAVEL_MAX_CONN_PER_IP"],
    [{ GAVEL_IDLE_MS: "1h" }, "GAVEL_IDLE_MS"],
    [{ GAVEL_FRAME_TIMEOUT_MS: "99999999999" }, "GAVEL_FRAME_TIMEOUT_MS"],
  ];
  for (const [env, setting] of bad) {
    test(`refuses ${JSON.stringify(env)}, naming ${setting}`, () => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(`${setting}:`);
    });
  }

  test("the server process refuses to start, naming the setting", async () => {
    const { code, output } = await runGavelExpectingFailure({ GAVEL_STORE: "memory", GAVEL_BID_RATE: "10", GAVEL_BID_BURST: "0" });
    expect(code).toBe(2);
    expect(output).toContain("GAVEL_BID_BURST");
  });
});
