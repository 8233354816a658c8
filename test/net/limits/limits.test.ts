// Limits over real sockets: the per-user bid rate, connections per address and in total, idle
// connections and slow (slowloris) frames. Each limit is set small here; 0 turns each off.

import { describe, expect, test } from "bun:test";
import type { Frame } from "../../../src/protocol/codec.ts";
import { encodeBid, encodePing } from "../../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, Status } from "../../../src/protocol/constants.ts";
import { startGavel, type GavelFixture } from "../../support/gavel.ts";
import { connectRaw, type RawClient } from "../../support/raw-client.ts";
import { connectWs } from "../../support/ws-client.ts";
import { openAuction } from "../../support/server.ts";
import { frames } from "../../support/frames.ts";
import { makeToken, TEST_SECRET } from "../../support/jwt.ts";
import { allowSlowTests } from "../../support/timeouts.ts";

allowSlowTests();

function byReq(list: Frame[]): Map<number, Frame> {
  const map = new Map<number, Frame>();
  for (const frame of list) if ("req" in frame) map.set(frame.req, frame);
  return map;
}

async function exchange(client: RawClient, bytes: Uint8Array, count: number): Promise<Map<number, Frame>> {
  client.send(bytes);
  return byReq(await client.waitFor(count));
}

async function withGavel(env: Record<string, string>, run: (gavel: GavelFixture) => Promise<void>): Promise<void> {
  const gavel = await startGavel("memory", env);
  try {
    await run(gavel);
  } finally {
    await gavel.dispose();
  }
}

/** Resolves with how long the server took to close the client, or rejects after `limitMs`. */
async function closedWithin(client: { closed: Promise<unknown> }, limitMs: number): Promise<number> {
  const start = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    client.closed,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`still open after ${limitMs} ms`)), limitMs))),
  ]);
  clearTimeout(timer);
  return Date.now() - start;
}

async function waitUntil(condition: () => boolean, limitMs = 5_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

function ping(req: number): Uint8Array {
  const bytes = new Uint8Array(6);
  encodePing(bytes, 0, req);
  return bytes;
}

describe("per-user bid rate (GAVEL_BID_RATE, GAVEL_BID_BURST)", () => {
  test("past the burst a user's bids get RATE_LIMITED with amount and leader 0; other users and INVALID are unaffected", () =>
    withGavel({ GAVEL_BID_RATE: "4", GAVEL_BID_BURST: "3" }, async (gavel) => {
      const auction = (await gavel.createAuction(openAuction())).id;
      const client = await connectRaw(gavel.port);
      const first = await exchange(
        client,
        frames()
          .bid(1, auction, 1, 100)
          .bid(2, auction, 1, 200)
          .bid(3, auction, 1, 300)
          .bid(4, auction, 1, 0) // INVALID is decided before the rate: it takes no token
          .bid(5, auction, 1, 400)
          .bid(6, auction, 2, 500)
          .bytes(),
        6,
      );
      expect([1, 2, 3].map((req) => (first.get(req) as { status: number }).status)).toEqual([Status.ACCEPTED, Status.ACCEPTED, Status.ACCEPTED]);
      expect(first.get(4)).toMatchObject({ status: Status.INVALID });
      expect(first.get(5)).toEqual({ type: FrameType.RESULT, req: 5, status: Status.RATE_LIMITED, auction, amount: 0, leader: 0 });
      expect(first.get(6)).toMatchObject({ status: Status.ACCEPTED, leader: 2 });

      // 4 per second: 300 ms later the bucket holds one token (and a little).
      await Bun.sleep(300);
      const later = await exchange(client, frames().bid(7, auction, 1, 600).bid(8, auction, 1, 700).bid(9, auction, 1, 800).bytes(), 9);
      expect(later.get(7)).toMatchObject({ status: Status.ACCEPTED });
      expect(later.get(9)).toMatchObject({ status: Status.RATE_LIMITED });
      client.close();
    }));

  test("with authentication, FORBIDDEN is decided before RATE_LIMITED", () =>
    withGavel({ GAVEL_BID_RATE: "1", GAVEL_BID_BURST: "1", GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET }, async (gavel) => {
      const auction = (await gavel.createAuction(openAuction())).id;
      const client = await connectRaw(gavel.port);
      const replies = await exchange(
        client,
        frames()
          .auth(1, await makeToken({ sub: 5 }))
          .bid(2, auction, 5, 100)
          .bid(3, auction, 5, 200)
          .bid(4, auction, 6, 300)
          .bytes(),
        4,
      );
      expect(replies.get(2)).toMatchObject({ status: Status.ACCEPTED });
      expect(replies.get(3)).toMatchObject({ status: Status.RATE_LIMITED });
      expect(replies.get(4)).toMatchObject({ status: Status.FORBIDDEN });
      client.close();
    }));

  test("0 (the default) sets no rate: a pipelined run of 2,000 bids from one user is all applied", () =>
    withGavel({}, async (gavel) => {
      const auction = (await gavel.createAuction(openAuction())).id;
      const client = await connectRaw(gavel.port);
      const count = 2000;
      const bytes = new Uint8Array(count * BID_FRAME_SIZE);
      for (let i = 0; i < count; i++) encodeBid(bytes, i * BID_FRAME_SIZE, i + 1, auction, 1, 100 + i);
      client.send(bytes);
      const replies = (await client.waitFor(count)) as { status: number }[];
      expect(replies.filter((r) => r.status !== Status.ACCEPTED)).toEqual([]);
      client.close();
    }));
});

describe("connections per address (GAVEL_MAX_CONN_PER_IP) and in all (GAVEL_MAX_CONNECTIONS)", () => {
  test("past the per-address limit, TCP and WebSocket alike get ERROR TOO_MANY_CONNECTIONS (req 0) and a close; a freed place is reused", () =>
    withGavel({ GAVEL_MAX_CONN_PER_IP: "2" }, async (gavel) => {
      const a = await connectRaw(gavel.port);
      const b = await connectRaw(gavel.port);
      a.send(ping(1));
      b.send(ping(1));
      await a.waitFor(1);
      await b.waitFor(1);

      const refused = await connectRaw(gavel.port);
      await refused.closed;
      expect(refused.frames).toEqual([expect.objectContaining({ type: FrameType.ERROR, req: 0, code: ErrorCode.TOO_MANY_CONNECTIONS })]);
      expect((refused.frames[0] as { message: string }).message).toContain("127.0.0.1");

      const ws = await connectWs(gavel.httpUrl);
      await ws.closed;
      expect(ws.frames).toEqual([expect.objectContaining({ type: FrameType.ERROR, req: 0, code: ErrorCode.TOO_MANY_CONNECTIONS })]);

      a.close();
      await waitUntil(() => gavel.server.connectionCount === 1);
      const c = await connectRaw(gavel.port);
      c.send(ping(2));
      expect((await c.waitFor(1))[0]).toMatchObject({ type: FrameType.PONG, req: 2 });
      b.close();
      c.close();
    }));

  test("past the total limit, a connection gets ERROR TOO_MANY_CONNECTIONS and a close", () =>
    withGavel({ GAVEL_MAX_CONNECTIONS: "1" }, async (gavel) => {
      const a = await connectRaw(gavel.port);
      a.send(ping(1));
      await a.waitFor(1);
      const refused = await connectRaw(gavel.port);
      await refused.closed;
      expect(refused.frames[0]).toMatchObject({ type: FrameType.ERROR, req: 0, code: ErrorCode.TOO_MANY_CONNECTIONS });
      expect(gavel.server.connectionCount).toBe(1);
      a.close();
    }));
});

describe("idle connections (GAVEL_IDLE_MS)", () => {
  const IDLE_MS = 300;

  test("a connection that sends nothing is closed once idle past the limit; one that PINGs is kept", () =>
    withGavel({ GAVEL_IDLE_MS: String(IDLE_MS) }, async (gavel) => {
      const silent = await connectRaw(gavel.port);
      const silentWs = await connectWs(gavel.httpUrl);
      const pinging = await connectRaw(gavel.port);
      let req = 0;
      const keepAlive = setInterval(() => pinging.send(ping(++req)), IDLE_MS / 3);
      try {
        const tookTcp = await closedWithin(silent, 5 * IDLE_MS);
        expect(tookTcp).toBeGreaterThanOrEqual(IDLE_MS - 50);
        expect(silent.frames).toEqual([]); // closed without an ERROR: the contract has none for it
        await closedWithin(silentWs, 5 * IDLE_MS);
        await Bun.sleep(2 * IDLE_MS);
        expect(pinging.isClosed()).toBe(false);
      } finally {
        clearInterval(keepAlive);
      }
      pinging.close();
    }));

  test("0 turns it off", () =>
    withGavel({ GAVEL_IDLE_MS: "0", GAVEL_FRAME_TIMEOUT_MS: "0" }, async (gavel) => {
      const silent = await connectRaw(gavel.port);
      await Bun.sleep(3 * IDLE_MS);
      expect(silent.isClosed()).toBe(false);
      silent.send(ping(1));
      expect((await silent.waitFor(1))[0]).toMatchObject({ type: FrameType.PONG });
      silent.close();
    }));
});

describe("slow frames (GAVEL_FRAME_TIMEOUT_MS)", () => {
  const FRAME_TIMEOUT_MS = 300;

  test("a frame trickled a byte at a time is cut off, though bytes keep coming; whole frames at the same pace are fine", () =>
    withGavel({ GAVEL_FRAME_TIMEOUT_MS: String(FRAME_TIMEOUT_MS), GAVEL_IDLE_MS: "0" }, async (gavel) => {
      const auction = (await gavel.createAuction(openAuction())).id;
      const slow = await connectRaw(gavel.port);
      const steady = await connectRaw(gavel.port);
      const bid = new Uint8Array(BID_FRAME_SIZE);
      encodeBid(bid, 0, 1, auction, 1, 100);
      let sent = 0;
      const trickle = setInterval(() => {
        if (sent < bid.length && !slow.isClosed()) slow.send(bid.subarray(sent, ++sent));
        steady.send(ping(sent));
      }, FRAME_TIMEOUT_MS / 5);
      try {
        const took = await closedWithin(slow, 10 * FRAME_TIMEOUT_MS);
        expect(took).toBeGreaterThanOrEqual(FRAME_TIMEOUT_MS - 50);
        expect(sent).toBeLessThan(bid.length); // cut off before the frame was whole
        expect(slow.frames).toEqual([]);
        expect(steady.isClosed()).toBe(false);
        expect(steady.frames.length).toBeGreaterThan(0);
      } finally {
        clearInterval(trickle);
      }
      steady.close();
    }));

  test("a frame split across writes that completes in time is answered", () =>
    withGavel({ GAVEL_FRAME_TIMEOUT_MS: String(FRAME_TIMEOUT_MS) }, async (gavel) => {
      const client = await connectRaw(gavel.port);
      for (let round = 1; round <= 3; round++) {
        const bytes = ping(round);
        client.send(bytes.subarray(0, 3));
        await Bun.sleep(FRAME_TIMEOUT_MS / 2);
        client.send(bytes.subarray(3));
        await Bun.sleep(FRAME_TIMEOUT_MS / 2);
      }
      expect((await client.waitFor(3)).map((f) => f.type)).toEqual([FrameType.PONG, FrameType.PONG, FrameType.PONG]);
      expect(client.isClosed()).toBe(false);
      client.close();
    }));
});
