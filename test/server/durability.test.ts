// Acknowledged bids survive kill -9 of the server (SQLite; Redis with AOF fsync always), and
// two server processes on one Redis never invert a bid.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBid, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, FrameType, Status } from "../../src/protocol/constants.ts";
import { connectRaw } from "../support/raw-client.ts";
import { startRedis } from "../support/redis.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

type Result = Extract<Frame, { type: typeof FrameType.RESULT }>;

async function createAuction(node: GavelProcess, fields: Record<string, unknown>) {
  const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(fields) });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: number };
}

async function readAuction(node: GavelProcess, id: number) {
  return (await (await fetch(`${node.httpUrl}/v1/auctions/${id}`)).json()) as { seq: number; amount: number; leader: number };
}

/**
 * Streams rising bids on one auction until `killAfter` results came back, then kills the
 * server with SIGKILL mid-stream. Returns every RESULT the client saw.
 */
async function bidUntilKilled(node: GavelProcess, auction: number, killAfter: number): Promise<Result[]> {
  const client = await connectRaw(node.port);
  const chunk = 200;
  let req = 0;
  const sendMore = () => {
    const bytes = new Uint8Array(chunk * BID_FRAME_SIZE);
    let offset = 0;
    for (let i = 0; i < chunk; i++) {
      req++;
      offset = encodeBid(bytes, offset, req, auction, 1 + (req % 5), 1000 + req);
    }
    client.send(bytes);
  };
  while (client.frames.length < killAfter) {
    sendMore();
    await Bun.sleep(1);
  }
  await node.kill("SIGKILL");
  await client.closed;
  return client.frames.filter((f): f is Result => f.type === FrameType.RESULT);
}

function expectAcknowledgedKept(results: Result[], state: { seq: number; amount: number }) {
  const accepted = results.filter((r) => r.status === Status.ACCEPTED);
  expect(accepted.length).toBeGreaterThan(0);
  const highestAcked = Math.max(...accepted.map((r) => r.amount));
  // Rising bids from one connection: every acked one is at or below the stored amount, and
  // the stored seq counts at least the acked ones (bids stored but not yet acked may add more).
  expect(state.amount).toBeGreaterThanOrEqual(highestAcked);
  expect(state.seq).toBeGreaterThanOrEqual(accepted.length);
}

describe("kill -9 keeps every acknowledged bid", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("sqlite", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gavel-kill-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") };
    const first = await spawnGavel(env);
    const auction = await createAuction(first, { ends_at: Date.now() + 3_600_000 });
    const results = await bidUntilKilled(first, auction.id, 5000);

    const second = await spawnGavel(env);
    cleanups.push(() => void second.kill("SIGKILL"));
    expectAcknowledgedKept(results, await readAuction(second, auction.id));
  });

  test("redis with appendfsync always", async () => {
    const redis = await startRedis({ appendonly: true });
    cleanups.push(() => redis.stop());
    const env = { GAVEL_STORE: "redis", REDIS_URL: redis.url };
    const first = await spawnGavel(env);
    const auction = await createAuction(first, { ends_at: Date.now() + 3_600_000 });
    const results = await bidUntilKilled(first, auction.id, 5000);

    const second = await spawnGavel(env);
    cleanups.push(() => void second.kill("SIGKILL"));
    expectAcknowledgedKept(results, await readAuction(second, auction.id));
  });
});

describe("two server processes on one Redis", () => {
  test("racing on one auction never invert a bid", async () => {
    const redis = await startRedis();
    const nodes = [await spawnGavel({ REDIS_URL: redis.url }), await spawnGavel({ REDIS_URL: redis.url })];
    try {
      const auction = await createAuction(nodes[0]!, { ends_at: Date.now() + 3_600_000 });
      const perClient = 1000;
      const clients = await Promise.all([0, 1, 0, 1].map((n) => connectRaw(nodes[n]!.port)));
      clients.forEach((client, c) => {
        const bytes = new Uint8Array(perClient * BID_FRAME_SIZE);
        let offset = 0;
        for (let i = 0; i < perClient; i++) offset = encodeBid(bytes, offset, i + 1, auction.id, c + 1, 100 + i * 4 + c);
        client.send(bytes);
      });
      const results = (await Promise.all(clients.map((client) => client.waitFor(perClient)))).flat() as Result[];
      const accepted = results.filter((r) => r.status === Status.ACCEPTED);
      // Accepted amounts, ordered by the seq each one got, strictly increase: no inversion.
      const state = await readAuction(nodes[1]!, auction.id);
      expect(state.seq).toBe(accepted.length);
      expect(state.amount).toBe(Math.max(...accepted.map((r) => r.amount)));
      const amounts = new Set(accepted.map((r) => r.amount));
      expect(amounts.size).toBe(accepted.length);
      for (const client of clients) client.close();
    } finally {
      for (const node of nodes) await node.kill("SIGKILL");
      await redis.stop();
    }
  });
});
