// The WebSocket gateway over a real server and a real WebSocket client: one frame per binary
// message, the same semantics and limits as TCP, the same cleanup.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeBid, encodePing, encodeQuery, encodeSubscribe, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, HEADER_SIZE, MAX_FRAME, NO_REPLAY, Phase, Status } from "../../src/protocol/constants.ts";
import { GavelClient } from "../../src/client/index.ts";
import { openAuction, startTestServer, type TestServer } from "../support/server.ts";
import { connectWs, type WsClient } from "../support/ws-client.ts";
import { connectRaw } from "../support/raw-client.ts";
import { startWsStuckReader } from "../support/ws-stuck-reader.ts";
import type { StoreKind } from "../../src/config.ts";
import { MAX_MESSAGE_BYTES } from "../../src/http/websocket-gateway.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const KINDS: readonly StoreKind[] = ["memory", "sqlite"];

function frame(encode: (out: Uint8Array) => number): Uint8Array {
  const out = new Uint8Array(MAX_FRAME);
  return out.slice(0, encode(out));
}

const bid = (req: number, auction: number, user: number, amount: number) => frame((o) => encodeBid(o, 0, req, auction, user, amount));
const ping = (req: number) => frame((o) => encodePing(o, 0, req));

/** Every message the server sent holds exactly one whole frame. */
function expectOneFramePerMessage(client: WsClient): void {
  for (const message of client.messages) expect(message.length).toBe(HEADER_SIZE + message[1]!);
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

for (const kind of KINDS) {
  describe(`WebSocket gateway on ${kind}`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ store: kind });
    });
    afterAll(async () => {
      await server.stop();
    });

    test("BID gets its RESULT", async () => {
      const a = await server.createAuction(openAuction({ starting_price: 100 }));
      const ws = await connectWs(server.httpUrl);
      ws.send(bid(7, a.id, 42, 150));
      const [result] = await ws.waitFor(1);
      expect(result).toEqual({ type: FrameType.RESULT, req: 7, status: Status.ACCEPTED, auction: a.id, amount: 150, leader: 42 });
      ws.send(bid(8, a.id, 43, 120));
      const frames = await ws.waitFor(2);
      expect(frames[1]).toEqual({ type: FrameType.RESULT, req: 8, status: Status.OUTBID, auction: a.id, amount: 150, leader: 42 });
      ws.close();
    });

    test("PING gets PONG with the server clock", async () => {
      const ws = await connectWs(server.httpUrl);
      const before = Date.now();
      ws.send(ping(99));
      const [pong] = await ws.waitFor(1);
      expect(pong).toMatchObject({ type: FrameType.PONG, req: 99 });
      const now = (pong as Extract<Frame, { type: typeof FrameType.PONG }>).now;
      expect(now).toBeGreaterThanOrEqual(before - 1000);
      expect(now).toBeLessThanOrEqual(Date.now() + 1000);
      ws.close();
    });

    test("each reply is its own message, also when many are written at once", async () => {
      const a = await server.createAuction(openAuction());
      const ws = await connectWs(server.httpUrl);
      const count = 200;
      for (let i = 1; i <= count; i++) ws.send(i % 2 === 0 ? ping(i) : bid(i, a.id, 5, i));
      const frames = await ws.waitFor(count);
      expect(ws.messages.length).toBe(count);
      expectOneFramePerMessage(ws);
      const reqs = frames.map((f) => (f as { req: number }).req).sort((x, y) => x - y);
      expect(reqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      // Pipelined rising bids from one bidder are accepted in full, as on TCP.
      const results = frames.filter((f) => f.type === FrameType.RESULT);
      expect(results.every((r) => r.type === FrameType.RESULT && r.status === Status.ACCEPTED)).toBe(true);
      ws.close();
    });

    test("SUBSCRIBE answers STATE, then UPDATEs as a TCP client bids, then CLOSED on cancel", async () => {
      const a = await server.createAuction(openAuction({ starting_price: 10 }));
      const ws = await connectWs(server.httpUrl);
      ws.send(frame((o) => encodeSubscribe(o, 0, 1, a.id, NO_REPLAY)));
      const [state] = await ws.waitFor(1);
      expect(state).toEqual({ type: FrameType.STATE, req: 1, auction: a.id, phase: Phase.OPEN, seq: 0, amount: 0, leader: 0, endsAt: a.ends_at as number });

      const bidder = await GavelClient.connect({ port: server.port });
      for (let i = 0; i < 5; i++) expect((await bidder.bid(a.id, 3, 10 + i)).status).toBe(Status.ACCEPTED);
      const frames = await ws.waitFor(6);
      expect(frames.slice(1)).toEqual(
        Array.from({ length: 5 }, (_, i) => ({ type: FrameType.UPDATE, auction: a.id, seq: i + 1, amount: 10 + i, leader: 3, endsAt: a.ends_at as number })),
      );
      await bidder.close();

      const cancelled = await fetch(`${server.httpUrl}/v1/auctions/${a.id}/cancel`, { method: "POST" });
      expect(cancelled.status).toBe(200);
      await ws.waitFor(7);
      expect(ws.frames[6]).toEqual({ type: FrameType.CLOSED, auction: a.id, seq: 5, winner: 0, amount: 0 });
      expectOneFramePerMessage(ws);
      ws.close();
    });

    test("SUBSCRIBE with since replays the history, one UPDATE per message", async () => {
      const a = await server.createAuction(openAuction());
      const bidder = await GavelClient.connect({ port: server.port });
      const total = 1500;
      const results = await Promise.all(Array.from({ length: total }, (_, i) => bidder.bid(a.id, 9, 1 + i)));
      expect(results.every((r) => r.status === Status.ACCEPTED)).toBe(true);
      await bidder.close();

      const ws = await connectWs(server.httpUrl);
      ws.send(frame((o) => encodeSubscribe(o, 0, 2, a.id, 0)));
      const frames = await ws.waitFor(1 + total);
      expect(frames[0]).toMatchObject({ type: FrameType.STATE, seq: total });
      const seqs = frames.slice(1).map((f) => (f.type === FrameType.UPDATE ? f.seq : -1));
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expectOneFramePerMessage(ws);
      ws.close();
    });

    test("a frame whose length does not fit its type gets ERROR MALFORMED, then the close", async () => {
      const ws = await connectWs(server.httpUrl);
      ws.send(Uint8Array.of(FrameType.BID, 3, 0, 0, 0));
      const [error] = await ws.waitFor(1);
      expect(error).toMatchObject({ type: FrameType.ERROR, req: 0, code: ErrorCode.MALFORMED });
      expect((error as { message: string }).message).toContain("does not fit BID");
      await ws.closed;
    });

    const notOneFrame: [string, Uint8Array | string][] = [
      ["two frames in one message", new Uint8Array([...ping(1), ...ping(2)])],
      ["a frame cut short", ping(1).subarray(0, 4)],
      ["a lone byte", Uint8Array.of(FrameType.PING)],
      ["an empty message", new Uint8Array(0)],
      ["a text message", "hello"],
    ];
    for (const [name, message] of notOneFrame) {
      test(`${name} gets ERROR MALFORMED, then the close`, async () => {
        const ws = await connectWs(server.httpUrl);
        ws.send(message);
        const [error] = await ws.waitFor(1);
        expect(error).toMatchObject({ type: FrameType.ERROR, req: 0, code: ErrorCode.MALFORMED });
        await ws.closed;
        expect(ws.frames.length).toBe(1);
      });
    }

    test("a message past the WebSocket layer's limit is closed with 1009", async () => {
      const ws = await connectWs(server.httpUrl);
      ws.send(new Uint8Array(MAX_MESSAGE_BYTES + 1));
      expect(await ws.closed).toBe(1009);
      expect(ws.frames.length).toBe(0);
    });

    test("an unknown type gets ERROR UNKNOWN_TYPE and the connection stays open", async () => {
      const ws = await connectWs(server.httpUrl);
      ws.send(Uint8Array.of(0x7f, 2, 1, 2));
      ws.send(Uint8Array.of(FrameType.RESULT, 0)); // a server-only type is unknown to the server
      ws.send(ping(5));
      const frames = await ws.waitFor(3);
      expect(frames[0]).toMatchObject({ type: FrameType.ERROR, req: 0, code: ErrorCode.UNKNOWN_TYPE });
      expect(frames[1]).toMatchObject({ type: FrameType.ERROR, req: 0, code: ErrorCode.UNKNOWN_TYPE });
      expect(frames[2]).toMatchObject({ type: FrameType.PONG, req: 5 });
      expect(ws.isClosed()).toBe(false);
      ws.close();
    });

    test("QUERY of an unknown auction answers STATE UNKNOWN", async () => {
      const ws = await connectWs(server.httpUrl);
      ws.send(frame((o) => encodeQuery(o, 0, 3, 0xfffffff0)));
      const [state] = await ws.waitFor(1);
      expect(state).toEqual({ type: FrameType.STATE, req: 3, auction: 0xfffffff0, phase: Phase.UNKNOWN, seq: 0, amount: 0, leader: 0, endsAt: 0 });
      ws.close();
    });

    test("a closed WebSocket is released like a TCP one", async () => {
      const a = await server.createAuction(openAuction());
      const base = server.server.connectionCount;
      const ws = await connectWs(server.httpUrl);
      ws.send(frame((o) => encodeSubscribe(o, 0, 1, a.id, NO_REPLAY)));
      await ws.waitFor(1);
      expect(server.server.connectionCount).toBe(base + 1);
      ws.close();
      await ws.closed;
      await waitUntil(() => server.server.connectionCount === base);
      // Bids keep flowing with the subscriber gone.
      const bidder = await GavelClient.connect({ port: server.port });
      expect((await bidder.bid(a.id, 1, 5)).status).toBe(Status.ACCEPTED);
      await bidder.close();
    });

    test("/ws without an upgrade is refused with 426", async () => {
      const response = await fetch(`${server.httpUrl}/ws`);
      expect(response.status).toBe(426);
    });
  });
}

describe("WebSocket connection limit", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ store: "memory", env: { GAVEL_MAX_CONNECTIONS: "2" } });
  });
  afterAll(async () => {
    await server.stop();
  });

  test("GAVEL_MAX_CONNECTIONS counts TCP and WebSocket connections together", async () => {
    const tcp = await connectRaw(server.port);
    const ws = await connectWs(server.httpUrl);
    ws.send(ping(1));
    await ws.waitFor(1);
    await waitUntil(() => server.server.connectionCount === 2);

    const refused = await connectWs(server.httpUrl);
    const [error] = await refused.waitFor(1);
    expect(error).toMatchObject({ type: FrameType.ERROR, req: 0, code: ErrorCode.TOO_MANY_CONNECTIONS });
    await refused.closed;

    const refusedTcp = await connectRaw(server.port);
    const [tcpError] = await refusedTcp.waitFor(1);
    expect(tcpError).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.TOO_MANY_CONNECTIONS });
    await refusedTcp.closed;

    // A WebSocket leaving frees its place.
    ws.close();
    await ws.closed;
    await waitUntil(() => server.server.connectionCount === 1);
    const admitted = await connectWs(server.httpUrl);
    admitted.send(ping(2));
    expect((await admitted.waitFor(1))[0]).toMatchObject({ type: FrameType.PONG, req: 2 });
    admitted.close();
    tcp.close();
  });
});

describe("WebSocket and shutdown", () => {
  test("stopping the server answers what was sent, then closes the WebSocket", async () => {
    const server = await startTestServer({ store: "sqlite" });
    const a = await server.createAuction(openAuction());
    const ws = await connectWs(server.httpUrl);
    const bids = new Uint8Array(BID_FRAME_SIZE);
    encodeBid(bids, 0, 1, a.id, 2, 50);
    ws.send(bids);
    await ws.waitFor(1);
    await server.stop();
    await ws.closed;
    expect(ws.frames[0]).toMatchObject({ type: FrameType.RESULT, req: 1, status: Status.ACCEPTED });
    // Once stopping, new WebSockets are refused.
    await expect(connectWs(server.httpUrl)).rejects.toThrow();
  });
});

describe("WebSocket backpressure", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ store: "memory", env: { GAVEL_SLOW_SUBSCRIBER_MS: "1000" } });
  });
  afterAll(async () => {
    await server.stop();
  });

  test("a WebSocket subscriber that never reads slows no one and is conflated or dropped", async () => {
    const a = await server.createAuction(openAuction());
    const stuck = await startWsStuckReader(server.server.httpPort, a.id);
    const honest = await connectWs(server.httpUrl);
    honest.send(frame((o) => encodeSubscribe(o, 0, 1, a.id, NO_REPLAY)));
    await honest.waitFor(1);
    const fast = await connectRaw(server.port);
    try {
      // Enough UPDATEs (32 bytes each on the wire) to fill the kernel's buffers and the bound.
      const count = 300_000;
      const bids = new Uint8Array(count * BID_FRAME_SIZE);
      for (let i = 0, offset = 0; i < count; i++) offset = encodeBid(bids, offset, i + 1, a.id, 5, 1000 + i);
      fast.send(bids);
      const results = await fast.waitFor(count, 90_000);
      expect(results.every((r) => r.type === FrameType.RESULT && r.status === Status.ACCEPTED)).toBe(true);

      // The reading WebSocket subscriber ends on the last seq, seq only rising.
      await waitUntil(() => honest.frames.at(-1)?.type === FrameType.UPDATE && (honest.frames.at(-1) as { seq: number }).seq === count, 60_000);
      const seqs = honest.frames.slice(1).map((f) => (f as { seq: number }).seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
      expect(honest.isClosed()).toBe(false);

      // The stuck one was dropped, or got conflated updates: far fewer than bids, ending on
      // the latest state once it read again (the drain path).
      const seen = await stuck.report();
      expect(seen.oneFrameEach).toBe(true);
      const conflated = !seen.closed && seen.increasing && seen.last === count && seen.updates < count / 2;
      expect(seen.closed || conflated).toBe(true);
    } finally {
      stuck.stop();
      honest.close();
      fast.close();
    }
  });
});

describe("WebSocket backpressure without conflation", () => {
  let server: TestServer;
  beforeAll(async () => {
    // A subscriber bound far above what the kernel absorbs, so Bun's send reports backpressure.
    server = await startTestServer({
      store: "memory",
      env: { GAVEL_SUBSCRIBER_BUFFER: String(64 << 20), GAVEL_MAX_OUTBOUND: String(128 << 20), GAVEL_SLOW_SUBSCRIBER_MS: "0" },
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  test("a WebSocket subscriber that stops reading gets every UPDATE, in order, once it reads again", async () => {
    const a = await server.createAuction(openAuction());
    const stuck = await startWsStuckReader(server.server.httpPort, a.id);
    const fast = await connectRaw(server.port);
    try {
      const count = 300_000;
      const bids = new Uint8Array(count * BID_FRAME_SIZE);
      for (let i = 0, offset = 0; i < count; i++) offset = encodeBid(bids, offset, i + 1, a.id, 5, 1000 + i);
      fast.send(bids);
      const results = await fast.waitFor(count, 90_000);
      expect(results.every((r) => r.type === FrameType.RESULT && r.status === Status.ACCEPTED)).toBe(true);
      const seen = await stuck.report();
      expect(seen).toEqual({ closed: false, updates: count, last: count, increasing: true, oneFrameEach: true });
    } finally {
      stuck.stop();
      fast.close();
    }
  });
});
