// MAX_BID over real sockets: its status is decided in BID's order (FORBIDDEN, INVALID,
// RATE_LIMITED before the store, sharing BID's rate bucket), and a step a maximum makes (an
// OUTBID answered by it) reaches subscribers as an UPDATE and QUERY as the new STATE.

import { afterEach, expect, test } from "bun:test";
import { FrameType, Status } from "../../src/protocol/constants.ts";
import type { Frame } from "../../src/protocol/codec.ts";
import { frames } from "../support/frames.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { makeToken, TEST_SECRET } from "../support/jwt.ts";
import { connectRaw } from "../support/raw-client.ts";
import { openAuction } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const servers: GavelFixture[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.dispose();
});

async function start(env: Record<string, string> = {}): Promise<GavelFixture> {
  const gavel = await startGavel("memory", env);
  servers.push(gavel);
  return gavel;
}

/** The replies to requests 1..n by req. */
function byReq(received: Frame[]): Map<number, Frame> {
  return new Map(received.filter((f) => "req" in f).map((f) => [(f as { req: number }).req, f]));
}

test("FORBIDDEN, INVALID and RATE_LIMITED, decided before the store as for BID", async () => {
  const gavel = await start({ GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET, GAVEL_BID_RATE: "1", GAVEL_BID_BURST: "2" });
  const auction = (await gavel.createAuction(openAuction({ starting_price: 100 }))).id;
  const client = await connectRaw(gavel.port);
  client.send(
    frames()
      .auth(1, await makeToken({ sub: 5 }))
      .maxBid(2, auction, 6, 500) // another user: FORBIDDEN
      .maxBid(3, auction, 5, 0) // max 0: INVALID
      .maxBid(4, 0, 5, 500) // auction 0: INVALID
      .maxBid(5, auction, 5, 500) // the bucket's first token
      .bid(6, auction, 5, 600) // its second
      .maxBid(7, auction, 5, 700) // empty: RATE_LIMITED
      .bytes(),
  );
  const replies = byReq(await client.waitFor(7));
  expect(replies.get(2)).toMatchObject({ type: FrameType.RESULT, status: Status.FORBIDDEN, amount: 0, leader: 0 });
  expect(replies.get(3)).toMatchObject({ status: Status.INVALID });
  expect(replies.get(4)).toMatchObject({ status: Status.INVALID });
  expect(replies.get(5)).toMatchObject({ status: Status.ACCEPTED, amount: 100, leader: 5 });
  expect(replies.get(6)).toMatchObject({ status: Status.ACCEPTED, amount: 600, leader: 5 });
  expect(replies.get(7)).toMatchObject({ status: Status.RATE_LIMITED, amount: 0, leader: 0 });
  client.close();
});

test("a maximum answering a bid is an UPDATE to subscribers and the STATE of a QUERY; a raise is neither", async () => {
  const gavel = await start();
  const auction = (await gavel.createAuction(openAuction({ starting_price: 100, min_increment: 10 }))).id;
  const watcher = await connectRaw(gavel.port);
  watcher.send(frames().subscribe(1, auction).bytes());
  await watcher.waitFor(1);
  const client = await connectRaw(gavel.port);
  client.send(frames().maxBid(1, auction, 7, 5_007).bid(2, auction, 8, 300).maxBid(3, auction, 7, 9_007).bytes());
  await client.waitFor(3);
  // A QUERY is not ordered behind bids in flight: asked once they are answered.
  client.send(frames().query(4, auction).bytes());
  const replies = byReq(await client.waitFor(4));
  expect(replies.get(1)).toMatchObject({ status: Status.ACCEPTED, amount: 100, leader: 7 });
  expect(replies.get(2)).toMatchObject({ status: Status.OUTBID, amount: 310, leader: 7 });
  expect(replies.get(3)).toMatchObject({ status: Status.ACCEPTED, amount: 310, leader: 7 });
  expect(replies.get(4)).toMatchObject({ type: FrameType.STATE, seq: 2, amount: 310, leader: 7 });
  const updates = (await watcher.waitFor(3)).filter((f) => f.type === FrameType.UPDATE);
  expect(updates.map((u) => u.type === FrameType.UPDATE && [u.seq, u.amount, u.leader])).toEqual([
    [1, 100, 7],
    [2, 310, 7],
  ]);
  // No UPDATE for the raise: nothing more arrives.
  await Bun.sleep(200);
  expect(watcher.frames.filter((f) => f.type === FrameType.UPDATE)).toHaveLength(2);
  client.close();
  watcher.close();
});
