// Rounds of BIDs from several logged bidder connections while something else happens (a
// failover, a reshard, auctions ending): the load the Redis fault and cluster tests bid under,
// recorded for the consistency check (consistency.ts).

import { encodeBid } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE } from "../../src/protocol/constants.ts";
import type { BidderLog } from "./consistency.ts";
import type { RawClient } from "./raw-client.ts";

/** One bidder connection: the BIDs it sends and the RESULTs it gets go into `log`. */
export interface LoggedBidder {
  client: RawClient;
  log: BidderLog;
  user: number;
  /** The last request id sent. */
  req: number;
  /** How many of the client's frames are in the log already. */
  seen: number;
}

export interface BidRoundsOptions {
  /** The pause between two rounds. */
  gapMs: number;
  /** Round r bids `1000 + r * step + user` on every auction: rising, and each bidder's own. */
  step: number;
  /** Rounds sent at the least, even when `until` settles sooner. */
  minRounds?: number;
  /**
   * Each bidder also bids once a round on a random auction at a random amount up to the
   * round's: mostly OUTBID, sometimes below the start (answered, never applied).
   */
  stray?: boolean;
}

/** `client`, bidding as `user`, with nothing sent or logged yet. */
export function loggedBidder(client: RawClient, log: BidderLog, user: number): LoggedBidder {
  return { client, log, user, req: 0, seen: 0 };
}

/**
 * Sends a round of BIDs from every bidder, one batch of frames each, every `gapMs`, until
 * `until` has settled (and at least `minRounds` rounds went out); then waits for every reply and
 * logs them all. Rejects as `until` does (before waiting for the replies).
 */
export async function bidInRounds(bidders: readonly LoggedBidder[], auctions: readonly number[], until: Promise<unknown>, options: BidRoundsOptions): Promise<void> {
  let done = false;
  const settled = until.finally(() => {
    done = true;
  });
  settled.catch(() => {}); // awaited once the rounds stop
  for (let round = 0; !done || round < (options.minRounds ?? 0); round++) {
    for (const bidder of bidders) {
      const bids = auctions.map((auction): [number, number] => [auction, 1000 + round * options.step + bidder.user]);
      if (options.stray === true) {
        bids.push([auctions[Math.floor(Math.random() * auctions.length)]!, 1 + Math.floor(Math.random() * (1000 + round * options.step))]);
      }
      const bytes = new Uint8Array(bids.length * BID_FRAME_SIZE);
      let offset = 0;
      for (const [auction, amount] of bids) {
        offset = encodeBid(bytes, offset, ++bidder.req, auction, bidder.user, amount);
        bidder.log.sent(bidder.req, auction, bidder.user, amount);
      }
      bidder.client.send(bytes);
    }
    await Bun.sleep(options.gapMs);
  }
  await settled;
  await Promise.all(bidders.map((b) => b.client.waitFor(b.req, 30_000)));
  for (const b of bidders) for (; b.seen < b.client.frames.length; b.seen++) b.log.observe(b.client.frames[b.seen]!);
}
