// deploy/compose.yaml: it parses as YAML; Redis runs with the three settings that keep every
// acknowledged bid (checked by starting a local redis-server with the file's own command line
// and asking it); two Gavel nodes on that Redis, each with a healthcheck that works.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { closedPort } from "../cli/cli-runner.ts";
import { startTestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

const COMPOSE = join(import.meta.dir, "../../deploy/compose.yaml");
const compose = Bun.YAML.parse(await Bun.file(COMPOSE).text()) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const REDIS_SETTINGS = { appendonly: "yes", appendfsync: "always", "maxmemory-policy": "noeviction" };
const START_TIMEOUT_MS = 10_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const redisCommand = () => {
  const command = compose.services.redis!.command!;
  return Array.isArray(command) ? command : command.split(/\s+/);
};

/** Runs a healthcheck's ["CMD", ...] locally; resolves with its exit code. */
async function runHealthcheck(testLine: string[], replace: [string, string] = ["", ""]): Promise<number> {
  expect(testLine[0]).toBe("CMD");
  const argv = testLine.slice(1).map((word) => (replace[0] === "" ? word : word.replaceAll(replace[0], replace[1])));
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" });
  return proc.exited;
}

describe("deploy/compose.yaml", () => {
  test("Redis: appendonly yes, appendfsync always, noeviction, a volume for its data", () => {
    const command = redisCommand();
    expect(command[0]).toBe("redis-server");
    for (const [name, value] of Object.entries(REDIS_SETTINGS)) {
      const at = command.indexOf(`--${name}`);
      expect(at, `--${name} in ${command.join(" ")}`).toBeGreaterThan(0);
      expect(command[at + 1]).toBe(value);
    }
    const volume = compose.services.redis!.volumes!.find((v) => v.endsWith(":/data"));
    expect(volume).toBeDefined();
    expect(Object.keys(compose.volumes)).toContain(volume!.split(":")[0]!);
  });

  test("the Redis command line, run by a local redis-server, has the three settings in force", async () => {
    const port = closedPort();
    const dir = mkdtempSync(join(tmpdir(), "gavel-compose-redis-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [binary, ...args] = redisCommand();
    const proc = Bun.spawn([Bun.which(binary!)!, ...args, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""], { stdout: "ignore", stderr: "ignore" });
    cleanups.push(() => proc.kill("SIGKILL"));
    const redis = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    cleanups.push(() => redis.disconnect());
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await redis.connect();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await Bun.sleep(50);
      }
    }
    for (const [name, value] of Object.entries(REDIS_SETTINGS)) expect(await redis.config("GET", name)).toEqual([name, value]);
    // And its healthcheck: redis-cli ping, against this server.
    const check = compose.services.redis!.healthcheck!.test;
    expect(check.slice(0, 2)).toEqual(["CMD", "redis-cli"]);
    expect(await runHealthcheck(["CMD", "redis-cli", "-p", String(port), ...check.slice(2)])).toBe(0);
  });

  test("two Gavel nodes on that Redis, after it is healthy, on their own host ports", () => {
    const nodes = Object.entries(compose.services).filter(([name]) => name !== "redis");
    expect(nodes).toHaveLength(2);
    const hostPorts = new Set<string>();
    for (const [, node] of nodes) {
      expect(node.environment!.REDIS_URL).toBe("redis://redis:6379");
      expect(node.environment!.GAVEL_HOST).toBe("0.0.0.0");
      expect(node.depends_on!.redis!.condition).toBe("service_healthy");
      expect(node.healthcheck!.test.join(" ")).toContain("/healthz");
      for (const mapping of node.ports!) hostPorts.add(mapping.split(":")[0]!);
    }
    expect(hostPorts.size).toBe(4);
  });

  test("the nodes' healthcheck passes against a running server and fails without one", async () => {
    const check = Object.entries(compose.services).find(([name]) => name !== "redis")![1].healthcheck!.test;
    const server = await startTestServer({ store: "memory" });
    cleanups.push(() => server.stop());
    expect(await runHealthcheck(check, [":7401/", `:${new URL(server.httpUrl).port}/`])).toBe(0);
    expect(await runHealthcheck(check, [":7401/", `:${closedPort()}/`])).toBe(1);
  });
});
