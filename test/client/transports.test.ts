// The one client engine over each transport, against a real server: Bun's TCP client,
// node:net (run here under Bun's Node compatibility; test/client/sdk-package.test.ts runs it
// under Node itself) and the WebSocket gateway at /ws. Then keepalive: a subscription that
// hears nothing for longer than the server's idle limit survives because the client PINGs.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type AuctionEvent,
  bunTcpTransport,
  ClientCore,
  GavelClient,
  nodeNetTransport,
  Phase,
  Status,
  type TransportFactory,
  webSocketTransport,
} from "../../src/client/index.ts";
import { openAuction, startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

/** Takes events from a subscription until `count` are in, failing after a while rather than hanging. */
async function takeEvents(iterator: AsyncIterator<AuctionEvent>, count: number, timeoutMs = 10_000): Promise<AuctionEvent[]> {
  const events: AuctionEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (events.length < count) {
    const next = await Promise.race([iterator.next(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (next === null) throw new Error(`timed out after ${events.length} of ${count} events`);
    if (next.done) throw new Error(`the subscription ended after ${events.length} of ${count} events`);
    events.push(next.value);
  }
  return events;
}

describe("the engine over each transport", () => {
  let server: TestServer;
  let wsUrl: string;
  beforeAll(async () => {
    server = await startTestServer({ store: "memory" });
    wsUrl = `${server.httpUrl.replace("http:", "ws:")}/ws`;
  });
  afterAll(() => server.stop());

  const transports: [string, () => TransportFactory][] = [
    ["Bun TCP", () => bunTcpTransport({ host: "127.0.0.1", port: server.port })],
    ["node:net", () => nodeNetTransport({ host: "127.0.0.1", port: server.port })],
    ["WebSocket", () => webSocketTransport(wsUrl)],
  ];

  for (const [name, transport] of transports) {
    test(`${name}: bid, query, ping, and a subscription that sees another client's bid`, async () => {
      const { id } = await server.createAuction(openAuction({ starting_price: 100, min_increment: 10 }));
      const client = await ClientCore.connect({ transport: transport() });
      const other = await GavelClient.connect({ port: server.port });
      try {
        const first = await client.bid(id, 7, 100);
        expect(first).toEqual({ status: Status.ACCEPTED, auction: id, amount: 100, leader: 7 });
        expect(first.statusName).toBe("ACCEPTED");
        const low = await client.bid(id, 8, 50);
        expect(low.statusName).toBe("OUTBID");

        const snapshot = await client.query(id);
        expect(snapshot.phase).toBe(Phase.OPEN);
        expect(snapshot.phaseName).toBe("OPEN");
        expect(snapshot.seq).toBe(1);
        expect((await client.ping()).now).toBeGreaterThan(0);

        // Pipelined: many requests in one tick leave as one write (split per frame on WebSocket).
        const many = await Promise.all(Array.from({ length: 200 }, (_, i) => client.bid(id, 9, 1_000 + i * 10)));
        expect(many.every((r) => r.statusName === "ACCEPTED")).toBe(true);

        const live = client.subscribe(id);
        const state = await live.ready;
        expect(state.seq).toBe(201);
        expect((await other.bid(id, 11, 1_000_000)).statusName).toBe("ACCEPTED");
        const [, update] = await takeEvents(live, 2);
        expect(update).toEqual({ type: "update", auction: id, seq: 202, amount: 1_000_000, leader: 11, endsAt: expect.any(Number) });
        await live.close();
      } finally {
        await client.close();
        await other.close();
      }
      expect(await client.closed).toBeNull();
    });
  }

  test("a connection that cannot be made rejects with the transport's target", async () => {
    const error = await ClientCore.connect({ transport: webSocketTransport(`${wsUrl}-nowhere`) }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain("/ws-nowhere");
  });
});

describe("keepalive", () => {
  /** The server closes connections silent this long; a sweep may take about as long again. */
  const IDLE_MS = 1_500;
  /** Below the idle limit, with room for a loaded machine. */
  const KEEPALIVE_MS = 400;
  /** Longer than three idle limits: without pings the server would have closed the connection. */
  const SILENCE_MS = 5_000;

  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ store: "memory", env: { GAVEL_IDLE_MS: String(IDLE_MS) } });
  });
  afterAll(() => server.stop());

  test("a subscription to a quiet auction outlives the idle limit, then still gets the next bid", async () => {
    const { id } = await server.createAuction(openAuction());
    const listener = await GavelClient.connect({ port: server.port, keepalive: KEEPALIVE_MS });
    // The control: the same subscription without keepalive is closed by the idle sweep.
    const silent = await GavelClient.connect({ port: server.port, keepalive: false });
    try {
      const live = listener.subscribe(id);
      const unheard = silent.subscribe(id);
      await Promise.all([live.ready, unheard.ready]);
      await Bun.sleep(SILENCE_MS);

      expect(listener.connected).toBe(true);
      expect(await Promise.race([silent.closed, Bun.sleep(1).then(() => "still open")])).toBeInstanceOf(Error);

      const bidder = await GavelClient.connect({ port: server.port });
      expect((await bidder.bid(id, 5, 1_000)).statusName).toBe("ACCEPTED");
      await bidder.close();
      const [, update] = await takeEvents(live, 2);
      expect(update).toMatchObject({ type: "update", seq: 1, amount: 1_000, leader: 5 });
    } finally {
      await listener.close();
      await silent.close();
    }
  });

  test("without subscriptions it pings only when told to (always)", async () => {
    const idle = await GavelClient.connect({ port: server.port, keepalive: KEEPALIVE_MS });
    const always = await GavelClient.connect({ port: server.port, keepalive: { intervalMs: KEEPALIVE_MS, always: true } });
    try {
      await Bun.sleep(SILENCE_MS);
      expect(always.connected).toBe(true);
      expect((await always.ping()).now).toBeGreaterThan(0);
      expect(await Promise.race([idle.closed, Bun.sleep(1).then(() => "still open")])).toBeInstanceOf(Error);
    } finally {
      await idle.close();
      await always.close();
    }
  });
});
