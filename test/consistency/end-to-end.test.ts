// The consistency checker over a real server on every store: eight bidder connections pipeline
// rising and random bids on seven auctions (some close, one by buy-now, one opens late) while
// three subscribers follow them; then every invariant is checked against the store.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeBid, encodeSubscribe } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, HEADER_SIZE, NO_REPLAY, PayloadLength, Status } from "../../src/protocol/constants.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { STORE_KINDS } from "../support/stores.ts";
import {
  assertConsistent,
  ClientLog,
  fetchFinalState,
  settle,
  type BidderLog,
  type FinalAuction,
  type SubscriberLog,
} from "../support/consistency.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const BIDDERS = 8;
const ROUNDS = 18;
const ROUND_GAP_MS = 100;
/** Rising bids per bidder, per auction, per round. */
const RISING_PER_ROUND = 5;
const RANDOM_PER_ROUND = 6;
const UNKNOWN_AUCTION = 0xfff0_0000;
const BUY_NOW_AUCTION = 5;
const BUY_NOW_ROUND = 6;
const SUBSCRIBE_FRAME = HEADER_SIZE + PayloadLength.SUBSCRIBE;

/** A raw connection and its log; `sync` feeds the log what arrived since the last call. */
interface Tracked<L> {
  client: RawClient;
  log: L;
  seen: number;
}

function sync(tracked: Tracked<BidderLog | SubscriberLog>): void {
  const frames = tracked.client.frames;
  for (; tracked.seen < frames.length; tracked.seen++) tracked.log.observe(frames[tracked.seen]!);
}

async function subscribeAll(port: number, log: SubscriberLog, since: (auction: number) => number, auctions: number[]) {
  const client = await connectRaw(port);
  const bytes = new Uint8Array(auctions.length * SUBSCRIBE_FRAME);
  let offset = 0;
  auctions.forEach((auction, i) => {
    offset = encodeSubscribe(bytes, offset, i + 1, auction, since(auction));
    log.subscribed(auction, since(auction));
  });
  client.send(bytes);
  return { client, log, seen: 0 };
}

for (const kind of STORE_KINDS) {
  describe(`consistency end to end on ${kind}`, () => {
    let gavel: GavelFixture;
    beforeAll(async () => {
      gavel = await startGavel(kind, { GAVEL_CLOSE_INTERVAL_MS: "50" });
    });
    afterAll(async () => {
      await gavel.dispose();
    });

    test("8 pipelining bidders, 7 auctions, 3 subscribers: no bid lost, inverted or repeated", async () => {
      const now = Date.now();
      const hour = 3_600_000;
      const specs: Record<string, unknown>[] = [
        { ends_at: now + hour, min_increment: 3 },
        { ends_at: now + hour, starting_price: 1500 },
        { ends_at: now + hour, reserve: 1e12 },
        { ends_at: now + 900, reserve: 200 }, // closes mid-run, sold
        { ends_at: now + 700, anti_snipe_ms: 400, max_ends_at: now + 1400, reserve: 1e12 }, // extended, then no sale
        { ends_at: now + hour, buy_now_price: 2500, reserve: 2400 }, // bought mid-run by a jump bid
        { starts_at: now + 600, ends_at: now + hour }, // NOT_STARTED at first
      ];
      const auctions: number[] = [];
      for (const spec of specs) auctions.push((await gavel.createAuction(spec)).id);

      const log = new ClientLog();
      const subscribers: Tracked<SubscriberLog>[] = [
        await subscribeAll(gavel.port, log.subscriber("sub full replay"), () => 0, auctions),
        await subscribeAll(gavel.port, log.subscriber("sub live"), () => NO_REPLAY, auctions),
      ];
      const bidders: Tracked<BidderLog>[] = [];
      for (let b = 0; b < BIDDERS; b++) bidders.push({ client: await connectRaw(gavel.port), log: log.bidder(`bidder ${b}`), seen: 0 });

      const reqs = new Array<number>(BIDDERS).fill(0);
      for (let round = 0; round < ROUNDS; round++) {
        if (round === ROUNDS / 2) {
          // A late subscriber: replay for half the auctions, live only for the rest.
          subscribers.push(await subscribeAll(gavel.port, log.subscriber("sub late"), (a) => (a % 2 === 0 ? 0 : NO_REPLAY), auctions));
        }
        bidders.forEach(({ client, log: bidLog }, b) => {
          const user = 100 + b;
          const bids: [number, number][] = [];
          for (const auction of auctions) {
            for (let j = 0; j < RISING_PER_ROUND; j++) bids.push([auction, 1000 + round * 120 + j * 16 + b * 2]);
          }
          for (let j = 0; j < RANDOM_PER_ROUND; j++) {
            const auction = auctions[Math.floor(Math.random() * auctions.length)]!;
            bids.push([auction, 1 + Math.floor(Math.random() * (1200 + round * 120))]);
          }
          // A jump above the buy-now price while the reserve is not met yet: bought at 2500.
          if (round === BUY_NOW_ROUND && b === 0) bids.push([auctions[BUY_NOW_AUCTION]!, 5000]);
          bids.push([auctions[round % auctions.length]!, 0]); // INVALID
          bids.push([UNKNOWN_AUCTION, 5000]); // UNKNOWN
          const bytes = new Uint8Array(bids.length * BID_FRAME_SIZE);
          let offset = 0;
          for (const [auction, amount] of bids) {
            const req = ++reqs[b]!;
            offset = encodeBid(bytes, offset, req, auction, user, amount);
            bidLog.sent(req, auction, user, amount);
          }
          client.send(bytes);
        });
        await Bun.sleep(ROUND_GAP_MS);
      }

      await Promise.all(bidders.map(({ client }, b) => client.waitFor(reqs[b]!, 30_000)));
      for (const tracked of bidders) sync(tracked);
      const final = await settle(
        log,
        async () => {
          for (const tracked of subscribers) sync(tracked);
          return fetchFinalState(gavel.httpUrl, auctions);
        },
        15_000,
      );
      for (const tracked of subscribers) sync(tracked);

      assertConsistent(log, final);

      // The run exercised what it meant to.
      const byId = new Map((final as FinalAuction[]).map((a) => [a.id, a]));
      const [, , , closing, sniped, bought, late] = auctions.map((id) => byId.get(id)!);
      expect([closing!.closed, sniped!.closed, bought!.closed]).toEqual([true, true, true]);
      expect(bought!.amount).toBe(2500);
      for (const auction of byId.values()) expect(auction.seq).toBeGreaterThan(0);
      const records = log.bidders.flatMap((b) => b.records);
      const count = (status: number) => records.filter((r) => r.status === status).length;
      for (const status of [Status.ACCEPTED, Status.OUTBID, Status.CLOSED, Status.NOT_STARTED, Status.INVALID, Status.UNKNOWN]) {
        expect(count(status)).toBeGreaterThan(0);
      }
      expect(late!.history[0]!.seq).toBe(1);
      const stats = log.stats();
      expect(stats.answered).toBe(stats.sent);
      expect(stats.closed).toBe(3 * 3); // three subscribers, three ended auctions
      for (const tracked of [...bidders, ...subscribers]) tracked.client.close();
    });
  });
}
