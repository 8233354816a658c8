// The server's logs as an operator's collector reads them: a real server process with
// GAVEL_LOG_FORMAT=json, its stdout parsed line by line.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { Status } from "../../src/protocol/constants.ts";
import { Bidder } from "../support/bidder.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const MAIN = join(import.meta.dir, "../../src/main.ts");
const STARTUP_LINE = /listening on [^:]+:(\d+) .* https?:\/\/[^:]+:(\d+)/;
const WAIT_MS = 20_000;
const ADMIN_TOKEN = "t0ken-never-logged";
const REDIS_PASSWORD = "pa55word-never-logged";

interface LogLine {
  level: string;
  time: string;
  msg: string;
  [field: string]: unknown;
}

interface LoggedServer {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  httpUrl: string;
  stdout(): string;
  /** stdout parsed: throws if a line is not JSON. */
  lines(): LogLine[];
  /** Waits for a line that matches; returns it. */
  waitFor(match: (line: LogLine) => boolean, what: string): Promise<LogLine>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A port free a moment ago, for a server whose listening line is not logged. */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Starts the server; with `waitForListening`, waits for the listening line and takes the ports from it. */
async function startLogged(env: Record<string, string>, waitForListening = true): Promise<LoggedServer> {
  const proc = Bun.spawn(["bun", "run", MAIN], {
    env: { ...process.env, GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", GAVEL_LOG_FORMAT: "json", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  cleanups.push(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  let out = "";
  let err = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) out += decoder.decode(chunk);
  })();
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) err += decoder.decode(chunk);
  })();
  const lines = () =>
    out
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          throw new Error(`not a JSON line on stdout: ${line}`);
        }
      });
  const waitFor = async (match: (line: LogLine) => boolean, what: string) => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = lines().find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no log line ${what} within ${WAIT_MS} ms:\n${out}\n${err}`);
      await Bun.sleep(20);
    }
  };
  if (!waitForListening) return { proc, port: 0, httpUrl: "", stdout: () => out, lines, waitFor };
  const started = await waitFor((line) => STARTUP_LINE.test(line.msg), "listening on");
  const [, port, httpPort] = STARTUP_LINE.exec(started.msg)!;
  return { proc, port: Number(port), httpUrl: `http://127.0.0.1:${httpPort}`, stdout: () => out, lines, waitFor };
}

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "gavel-logs-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "gavel.db");
}

async function createAuction(httpUrl: string, body: Record<string, unknown>): Promise<number> {
  const response = await fetch(`${httpUrl}/v1/auctions`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

function expectEveryLineStructured(lines: LogLine[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(typeof line.level).toBe("string");
    expect(Number.isNaN(Date.parse(line.time))).toBe(false);
    expect(typeof line.msg).toBe("string");
  }
}

describe("GAVEL_LOG_FORMAT=json", () => {
  test("start-up logs the settings, secrets redacted; created, closed with a winner and cancelled auctions; SIGTERM's steps", async () => {
    const server = await startLogged({ GAVEL_STORE: "sqlite", GAVEL_DB: tempDb(), GAVEL_ADMIN_TOKEN: ADMIN_TOKEN, GAVEL_CLOSE_INTERVAL_MS: "50" });

    const started = server.lines().find((line) => line.event === "started")!;
    expect(started.level).toBe("info");
    expect(started.msg).toContain("gavel: listening on 127.0.0.1:");
    const settings = started.settings as Record<string, unknown>;
    expect(settings.GAVEL_STORE).toBe("sqlite");
    expect(settings.GAVEL_CLOSE_INTERVAL_MS).toBe(50);
    expect(settings.GAVEL_ADMIN_TOKEN).toBe("***");

    const closing = await createAuction(server.httpUrl, { ends_at: Date.now() + 1_500 });
    const cancelled = await createAuction(server.httpUrl, { ends_at: Date.now() + 60_000 });
    const bidder = await Bidder.connect(server.port, closing, 2_500);
    expect(await bidder.one()).toBe(Status.ACCEPTED);
    bidder.close();
    const cancel = await fetch(`${server.httpUrl}/v1/auctions/${cancelled}/cancel`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(cancel.status).toBe(200);

    const created = server.lines().filter((line) => line.event === "auction_created");
    expect(created.map((line) => line.auction)).toEqual([closing, cancelled]);
    expect(created[0]).toMatchObject({ level: "info", msg: `gavel: auction ${closing} created` });
    expect(await server.waitFor((line) => line.event === "auction_cancelled", "auction cancelled")).toMatchObject({ level: "info", auction: cancelled });
    const closed = await server.waitFor((line) => line.event === "auction_closed", "auction closed");
    // The bidder's user id is 1 + (req % 5) for its first request (req 1): 2.
    expect(closed).toMatchObject({ level: "info", auction: closing, winner: 2, amount: 2_500, result: "sold" });

    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    const steps = server.lines().filter((line) => line.event === "shutdown").map((line) => line.step);
    expect(steps).toEqual(["signal", "listener_closed", "connections_closed", "http_closed", "store_closed", "stopped"]);
    expect(server.lines().at(-1)!.msg).toBe("gavel: stopped");

    expectEveryLineStructured(server.lines());
    expect(server.stdout()).not.toContain(ADMIN_TOKEN);
  });

  test("a Redis outage logs the store lost and back, the breaker open and closed; the Redis password is never printed", async () => {
    const redis: RedisHandle = await startRedis({ appendonly: true, password: REDIS_PASSWORD });
    cleanups.push(() => redis.stop());
    const server = await startLogged({ REDIS_URL: redis.url, GAVEL_BREAKER_FAILURES: "1", GAVEL_BREAKER_COOLDOWN_MS: "100", GAVEL_REDIS_TIMEOUT_MS: "500" });

    const settings = server.lines().find((line) => line.event === "started")!.settings as Record<string, unknown>;
    expect(settings.GAVEL_STORE).toBe("redis");
    expect(settings.REDIS_URL).toBe(`redis://:***@127.0.0.1:${redis.port}`);

    const auction = await createAuction(server.httpUrl, { ends_at: Date.now() + 600_000 });
    const bidder = await Bidder.connect(server.port, auction);
    expect(await bidder.one()).toBe(Status.ACCEPTED);

    await redis.kill();
    const lost = await server.waitFor((line) => line.event === "store_down", "store lost");
    expect(lost).toMatchObject({ level: "warn", store: "redis", msg: "redis: connection lost, reconnecting" });
    // A bid while Redis is away fails its batch and opens the breaker (GAVEL_BREAKER_FAILURES=1).
    expect([Status.UNAVAILABLE, Status.UNCONFIRMED] as number[]).toContain(await bidder.one());
    expect(await server.waitFor((line) => line.event === "breaker_open", "breaker open")).toMatchObject({ level: "warn", store: "redis" });

    await redis.restart();
    expect(await server.waitFor((line) => line.event === "store_up", "store back")).toMatchObject({ level: "info", store: "redis" });
    // Bids go through again once a probe succeeds: the breaker's closing line.
    const deadline = Date.now() + WAIT_MS;
    while ((await bidder.one()) !== Status.ACCEPTED && Date.now() < deadline) await Bun.sleep(50);
    expect(await server.waitFor((line) => line.event === "breaker_closed", "breaker closed")).toMatchObject({ level: "info" });
    bidder.close();

    expectEveryLineStructured(server.lines());
    expect(server.stdout()).not.toContain(REDIS_PASSWORD);
  });

  test("limits hit are logged sampled: one line per limit with the count, never a line per bid", async () => {
    const server = await startLogged({ GAVEL_STORE: "memory", GAVEL_BID_RATE: "1", GAVEL_BID_BURST: "1", GAVEL_ADMIN_TOKEN: ADMIN_TOKEN });
    const auction = await createAuction(server.httpUrl, { ends_at: Date.now() + 60_000 });
    const bidder = await Bidder.connect(server.port, auction);
    const results = await bidder.send(200);
    bidder.close();
    const limited = results.filter((r) => r.status === Status.RATE_LIMITED).length;
    expect(limited).toBeGreaterThan(100);
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    // Written when the interval ends or, here, at the stop: one line with the count.
    const lines = server.lines().filter((line) => line.event === "limit_hit");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "warn", limit: "bid_rate", count: limited });
    expect(lines[0]!.msg).toContain("GAVEL_BID_RATE");
  });

  test("GAVEL_LOG_LEVEL=warn hides the info lines (the listening line too) and keeps the warnings", async () => {
    const [port, httpPort] = [freePort(), freePort()];
    const server = await startLogged(
      { GAVEL_STORE: "memory", GAVEL_LOG_LEVEL: "warn", GAVEL_HTTPPORT: "1", GAVEL_PORT: String(port), GAVEL_HTTP_PORT: String(httpPort) },
      false,
    );
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const deadline = Date.now() + WAIT_MS;
    while (!(await fetch(`${httpUrl}/healthz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`the server did not answer /healthz:\n${server.stdout()}`);
      await Bun.sleep(50);
    }
    await createAuction(httpUrl, { ends_at: Date.now() + 60_000 });
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    const lines = server.lines();
    expect(lines.map((line) => line.msg)).toEqual(["gavel: warning: unknown setting GAVEL_HTTPPORT is ignored (did you mean GAVEL_HTTP_PORT?)"]);
    expect(lines[0]!.level).toBe("warn");
  });
});
