// `gavel ping`: the round trip to the bid port and the server clock's offset (same machine
// here, so the offset is small).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { cliFor, show } from "./cli-runner.ts";

allowSlowTests();

/** One machine, one clock: the measured offset is within a round trip of zero, surely under this. */
const SAME_MACHINE_OFFSET_MS = 1_000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ store: "memory" });
});
afterAll(async () => {
  await server.stop();
});

test("ping: round trip and clock offset, in text and --json", async () => {
  const gavel = cliFor(server);
  const text = await gavel("ping");
  expect(text.code, show(text)).toBe(0);
  expect(text.stdout).toMatch(new RegExp(`^pong from 127\\.0\\.0\\.1:${server.port}: round trip \\d+\\.\\d\\d ms, server clock [+-]\\d+\\.\\d\\d ms from this machine's \\(best of 3\\)\\n$`));

  const before = Date.now();
  const json = await gavel("ping", "--count", "5", "--json");
  expect(json.code, show(json)).toBe(0);
  const result = json.json<{ server: string; round_trip_ms: number; offset_ms: number; server_now: number; pings: number }>();
  expect(result.server).toBe(`127.0.0.1:${server.port}`);
  expect(result.pings).toBe(5);
  expect(result.round_trip_ms).toBeGreaterThanOrEqual(0);
  expect(Math.abs(result.offset_ms)).toBeLessThan(SAME_MACHINE_OFFSET_MS);
  expect(result.server_now).toBeGreaterThanOrEqual(before);
  expect(result.server_now).toBeLessThanOrEqual(Date.now());
});
