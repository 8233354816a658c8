// /healthz is liveness (the process serves HTTP), /readyz is readiness (the store answers and,
// on Redis, the update feed is live; not while shutting down), over a real process and a real
// redis-server that is stopped and started again.

import { afterEach, expect, test } from "bun:test";
import { frames } from "../support/frames.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw } from "../support/raw-client.ts";
import { startRedis } from "../support/redis.ts";
import { openAuction } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const POLL_MS = 25;
/** ioredis notices a killed server at once (the socket closes); slack for a loaded machine. */
const NOTICE_MS = 3_000;
/** Reconnects are at most a second apart, then the feed subscribes again. */
const RECOVER_MS = 8_000;
/** A bid held by a paused Redis keeps the shutdown draining this long. */
const REDIS_TIMEOUT_MS = 3_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Probe {
  status: number;
  body: Record<string, unknown>;
}

async function probe(node: GavelProcess, path: "/healthz" | "/readyz"): Promise<Probe> {
  const response = await fetch(`${node.httpUrl}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls /readyz until it answers `status`; returns that answer. */
async function readyzBecomes(node: GavelProcess, status: number, withinMs: number): Promise<Probe> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await probe(node, "/readyz");
    if (answer.status === status) return answer;
    if (Date.now() > deadline) throw new Error(`/readyz still ${answer.status} ${JSON.stringify(answer.body)} after ${withinMs} ms`);
    await Bun.sleep(POLL_MS);
  }
}

test("on Redis: readyz 200, 503 with a reason while Redis is down, 200 again after; healthz 200 throughout", async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const node = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redis.url });
  cleanups.push(() => node.kill("SIGKILL"));

  expect(await probe(node, "/readyz")).toEqual({ status: 200, body: { ready: true } });
  expect(await probe(node, "/healthz")).toEqual({ status: 200, body: { ok: true, store: "redis", pid: expect.any(Number) } });

  for (let round = 0; round < 2; round++) {
    await redis.kill();
    const down = await readyzBecomes(node, 503, NOTICE_MS);
    expect(down.body).toEqual({ ready: false, reason: expect.stringContaining("Redis") });
    // Still alive: a liveness probe must not restart a process that is only waiting for Redis.
    expect((await probe(node, "/healthz")).status).toBe(200);

    await redis.restart();
    expect((await readyzBecomes(node, 200, RECOVER_MS)).body).toEqual({ ready: true });
    expect((await probe(node, "/healthz")).status).toBe(200);
  }
  expect(node.proc.exitCode).toBeNull();
});

test("in-process stores are ready while the process serves", async () => {
  const node = await spawnGavel({ GAVEL_STORE: "memory" });
  cleanups.push(() => node.kill("SIGKILL"));
  expect(await probe(node, "/readyz")).toEqual({ status: 200, body: { ready: true } });
  expect((await probe(node, "/healthz")).body).toMatchObject({ ok: true, store: "memory" });
});

test("while the server shuts down (draining a bid Redis holds), readyz answers 503 and healthz 200", async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const node = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redis.url, GAVEL_REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS) });
  cleanups.push(() => node.kill("SIGKILL"));
  const created = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(openAuction()) });
  const { id } = (await created.json()) as { id: number };

  redis.pause();
  cleanups.push(() => redis.resume());
  const bidder = await connectRaw(node.port);
  cleanups.push(() => bidder.close());
  bidder.send(frames().bid(1, id, 1, 100).bytes());
  await Bun.sleep(POLL_MS * 4); // the bid is in the store's hands
  node.proc.kill("SIGTERM");
  const stopping = await readyzBecomes(node, 503, NOTICE_MS);
  expect(stopping.body).toEqual({ ready: false, reason: "the server is shutting down" });
  expect((await probe(node, "/healthz")).status).toBe(200);

  redis.resume();
  // The held bid is answered before the process exits.
  await bidder.waitFor(1, REDIS_TIMEOUT_MS * 2);
  expect(await node.proc.exited).toBe(0);
});
