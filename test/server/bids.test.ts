// The bid path over real sockets, on every store.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeBid, encodePing, encodeQuery, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, Phase, Status } from "../../src/protocol/constants.ts";
import vectors from "../fixtures/vectors.json";
import { connectRaw, hex } from "../support/raw-client.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { openAuction } from "../support/server.ts";
import { STORE_KINDS } from "../support/stores.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

type Result = Extract<Frame, { type: typeof FrameType.RESULT }>;

function bidFrames(bids: { req: number; auction: number; user: number; amount: number }[]): Uint8Array {
  const bytes = new Uint8Array(bids.length * BID_FRAME_SIZE);
  let offset = 0;
  for (const b of bids) offset = encodeBid(bytes, offset, b.req, b.auction, b.user, b.amount);
  return bytes;
}

for (const kind of STORE_KINDS) {
  describe(`server on ${kind}`, () => {
    let gavel: GavelFixture;
    beforeAll(async () => {
      gavel = await startGavel(kind);
    });
    afterAll(() => gavel.dispose());

    test("each status of the rule comes back over TCP", async () => {
      const now = Date.now();
      const open = await gavel.createAuction(openAuction({ starting_price: 100, min_increment: 10 }));
      const later = await gavel.createAuction({ starts_at: now + 3_600_000, ends_at: now + 7_200_000 });
      const client = await connectRaw(gavel.port);
      client.send(
        bidFrames([
          { req: 1, auction: open.id, user: 1, amount: 99 },
          { req: 2, auction: open.id, user: 1, amount: 100 },
          { req: 3, auction: open.id, user: 2, amount: 105 },
          { req: 4, auction: 4_000_000_000, user: 1, amount: 100 },
          { req: 5, auction: later.id, user: 1, amount: 100 },
          { req: 6, auction: open.id, user: 0, amount: 100 },
        ]),
      );
      const frames = (await client.waitFor(6)) as Result[];
      const byReq = new Map(frames.map((f) => [f.req, f]));
      expect(byReq.get(1)).toMatchObject({ status: Status.OUTBID, amount: 0, leader: 0 });
      expect(byReq.get(2)).toMatchObject({ status: Status.ACCEPTED, amount: 100, leader: 1, auction: open.id });
      expect(byReq.get(3)).toMatchObject({ status: Status.OUTBID, amount: 100, leader: 1 });
      expect(byReq.get(4)).toMatchObject({ status: Status.UNKNOWN, amount: 0, leader: 0 });
      expect(byReq.get(5)).toMatchObject({ status: Status.NOT_STARTED });
      expect(byReq.get(6)).toMatchObject({ status: Status.INVALID, amount: 0, leader: 0 });
      client.close();
    });

    test("an auction created to start now takes the very next bid (the store's own clock)", async () => {
      const client = await connectRaw(gavel.port);
      const rounds = 50;
      for (let round = 0; round < rounds; round++) {
        const a = await gavel.createAuction({ ends_at: Date.now() + 60_000 });
        client.send(bidFrames([{ req: round + 1, auction: a.id, user: 1, amount: 5 }]));
      }
      const frames = (await client.waitFor(rounds)) as Result[];
      expect(frames.map((f) => f.status)).toEqual(frames.map(() => Status.ACCEPTED));
      client.close();
    });

    test("every invalid-bid vector gets INVALID", async () => {
      const client = await connectRaw(gavel.port);
      for (const v of vectors.invalid_bids) client.send(hex(v.hex));
      const frames = (await client.waitFor(vectors.invalid_bids.length)) as Result[];
      expect(frames.map((f) => f.status)).toEqual(vectors.invalid_bids.map(() => Status.INVALID));
      client.close();
    });

    test("2000 rising bids in one write are all ACCEPTED, in order", async () => {
      const a = await gavel.createAuction(openAuction());
      const client = await connectRaw(gavel.port);
      const count = 2000;
      client.send(bidFrames(Array.from({ length: count }, (_, i) => ({ req: i + 1, auction: a.id, user: 9, amount: 10 + i }))));
      const frames = (await client.waitFor(count)) as Result[];
      expect(frames.length).toBe(count);
      expect(frames.every((f) => f.status === Status.ACCEPTED)).toBe(true);
      const sorted = [...frames].sort((x, y) => x.req - y.req);
      expect(sorted.map((f) => f.amount)).toEqual(sorted.map((f) => 10 + f.req - 1));
      const state = (await (await fetch(`${gavel.httpUrl}/v1/auctions/${a.id}`)).json()) as Record<string, number>;
      expect(state).toMatchObject({ seq: count, amount: 10 + count - 1, leader: 9 });
      client.close();
    });

    test("a frame fed one byte at a time", async () => {
      const a = await gavel.createAuction(openAuction());
      const client = await connectRaw(gavel.port);
      const bytes = bidFrames([{ req: 77, auction: a.id, user: 3, amount: 500 }]);
      for (const byte of bytes) {
        client.send(Uint8Array.of(byte));
        await Bun.sleep(2);
      }
      const [result] = (await client.waitFor(1)) as Result[];
      expect(result).toMatchObject({ type: FrameType.RESULT, req: 77, status: Status.ACCEPTED, amount: 500, leader: 3 });
      client.close();
    });

    for (const v of vectors.malformed) {
      test(`malformed vector: ${v.name}`, async () => {
        const client = await connectRaw(gavel.port);
        client.send(hex(v.hex));
        // A PING after the bad frame shows whether the connection stays usable.
        const ping = new Uint8Array(6);
        encodePing(ping, 0, 4242);
        client.send(ping);
        if (v.closes) {
          await client.closed;
          expect(client.frames).toHaveLength(1);
          expect(client.frames[0]).toMatchObject({ type: FrameType.ERROR, req: 0, code: v.error });
        } else {
          const frames = await client.waitFor(2);
          expect(frames[0]).toMatchObject({ type: FrameType.ERROR, req: 0, code: v.error });
          expect(frames[1]).toMatchObject({ type: FrameType.PONG, req: 4242 });
          expect(client.isClosed()).toBe(false);
          client.close();
        }
      });
    }

    test("MALFORMED names the type and the lengths", async () => {
      const client = await connectRaw(gavel.port);
      client.send(hex("0103000000"));
      await client.closed;
      expect(client.frames[0]).toMatchObject({ code: ErrorCode.MALFORMED, message: "payload length 3 does not fit BID (20)" });
    });

    test("QUERY answers with STATE; PING with the server clock", async () => {
      const a = await gavel.createAuction(openAuction());
      const client = await connectRaw(gavel.port);
      const bytes = new Uint8Array(10 + 10 + 6);
      let o = encodeQuery(bytes, 0, 1, a.id);
      o = encodeQuery(bytes, o, 2, 3_999_999_999);
      encodePing(bytes, o, 3);
      const before = Date.now();
      client.send(bytes);
      const frames = await client.waitFor(3);
      const byReq = new Map(frames.map((f) => ["req" in f ? f.req : -1, f]));
      expect(byReq.get(1)).toMatchObject({ type: FrameType.STATE, auction: a.id, phase: Phase.OPEN, seq: 0, amount: 0, endsAt: a.ends_at });
      expect(byReq.get(2)).toMatchObject({ type: FrameType.STATE, phase: Phase.UNKNOWN });
      const pong = byReq.get(3) as Extract<Frame, { type: typeof FrameType.PONG }>;
      expect(pong.type).toBe(FrameType.PONG);
      expect(Math.abs(pong.now - before)).toBeLessThan(5000);
      client.close();
    });

    test("16 connections racing on one auction: final state is the highest accepted bid", async () => {
      const a = await gavel.createAuction(openAuction({ min_increment: 1 }));
      const connections = 16;
      const perConnection = 300;
      const clients = await Promise.all(Array.from({ length: connections }, () => connectRaw(gavel.port)));
      clients.forEach((client, c) => {
        // Interleaved amounts: every connection competes with every other.
        const bids = Array.from({ length: perConnection }, (_, i) => ({
          req: i + 1,
          auction: a.id,
          user: c + 1,
          amount: 1000 + i * connections + c,
        }));
        client.send(bidFrames(bids));
      });
      const all = await Promise.all(clients.map((client) => client.waitFor(perConnection)));
      const results = all.flat() as Result[];
      const accepted = results.filter((r) => r.status === Status.ACCEPTED);
      expect(results.every((r) => r.status === Status.ACCEPTED || r.status === Status.OUTBID)).toBe(true);
      const highest = Math.max(...accepted.map((r) => r.amount));
      const state = (await (await fetch(`${gavel.httpUrl}/v1/auctions/${a.id}`)).json()) as Record<string, number>;
      expect(state.amount).toBe(highest);
      expect(state.seq).toBe(accepted.length);
      // Each connection's own bids rise, so each of its accepted ones was the highest at the time.
      for (const client of clients) client.close();
    });
  });
}
