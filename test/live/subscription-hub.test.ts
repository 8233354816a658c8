// SubscriptionHub's gap healing on the shared feed, with the store's history reads held open so
// the races the Redis tests can only hit by chance happen every time: a second feed cut during
// a heal, and a CLOSED arriving during a heal or ahead of UPDATEs the feed lost.

import { describe, expect, test } from "bun:test";
import { freshAuction, type AuctionState } from "../../src/auction/auction.ts";
import { SubscriptionHub } from "../../src/live/subscription-hub.ts";
import type { Connection } from "../../src/net/connection.ts";
import { decodeFrame, encodeClosed } from "../../src/protocol/codec.ts";
import { FrameType, HEADER_SIZE } from "../../src/protocol/constants.ts";
import type { HistoryEntry } from "../../src/store/store.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTION = 1;
const NOW = 1_767_225_600_000;
const ENDS_AT = NOW + 3_600_000;
const NO_REPLAY = 0xffffffff;

/** A store whose history reads wait until the test answers them, from `committed` at that moment. */
class HeldSource {
  auction: AuctionState = freshAuction({
    id: AUCTION,
    title: "",
    startingPrice: 1,
    minIncrement: 1,
    reserve: 0,
    buyNowPrice: 0,
    startsAt: 0,
    endsAt: ENDS_AT,
    antiSnipeMs: 0,
    maxEndsAt: 0,
  });
  /** Every accepted bid so far, by seq. */
  committed: HistoryEntry[] = [];
  readonly reads: { afterSeq: number; answer: (uptoSeq?: number) => void }[] = [];

  commit(seq: number): void {
    this.committed.push({ seq, amount: 100 + seq, user: 7, at: NOW, endsAt: ENDS_AT, by: 0 });
    this.auction = { ...this.auction, seq, amount: 100 + seq, leader: 7 };
  }

  async getAuction(): Promise<AuctionState | null> {
    return this.auction;
  }

  history(_auction: number, afterSeq: number, limit: number): Promise<HistoryEntry[]> {
    return new Promise((resolve) => {
      this.reads.push({
        afterSeq,
        // The read sees what was committed up to `uptoSeq` (default: everything by now).
        answer: (uptoSeq = Number.POSITIVE_INFINITY) =>
          resolve(this.committed.filter((e) => e.seq > afterSeq && e.seq <= uptoSeq).slice(0, limit)),
      });
    });
  }

  now(): number {
    return NOW;
  }
}

/** A connection that records what the hub queues on it, as decoded frames. */
function recordingConnection() {
  const pushed: string[] = [];
  const connection = {
    closed: false,
    pending: 0,
    queuedBytes: 0,
    conflated: null,
    congestedSince: 0,
    queueState(_req: number, _auction: number, _phase: number, seq: number) {
      pushed.push(`state ${seq}`);
    },
    queueBytes(bytes: Uint8Array, offset: number, length: number) {
      const frame = decodeFrame(bytes[offset]!, bytes, offset + HEADER_SIZE, length - HEADER_SIZE);
      if (frame?.type === FrameType.UPDATE) pushed.push(`update ${frame.seq}`);
    },
    queueClosed(_auction: number, seq: number, winner: number) {
      pushed.push(`closed ${seq} ${winner}`);
    },
    queueError() {},
    abort() {},
  };
  return { connection: connection as unknown as Connection, pushed };
}

const tick = () => Bun.sleep(0);

async function subscribedHub() {
  const source = new HeldSource();
  const hub = new SubscriptionHub(source, { subscriberHighWater: 1 << 20, slowSubscriberMs: 0 }, () => {});
  const { connection, pushed } = recordingConnection();
  hub.subscribe(connection, 1, AUCTION, NO_REPLAY);
  await tick();
  expect(pushed).toEqual(["state 0"]);
  // Seq 1 comes through the feed as usual.
  source.commit(1);
  hub.deliverUpdate(AUCTION, 1, 101, 7, ENDS_AT, true);
  return { source, hub, pushed };
}

function closedFrame(seq: number, winner: number): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE + 20);
  encodeClosed(bytes, 0, AUCTION, seq, winner, 100 + seq);
  return bytes;
}

describe("healing gaps from the history", () => {
  test("a feed cut during a heal makes it read again: the UPDATEs lost in the second cut are not skipped", async () => {
    const { source, hub, pushed } = await subscribedHub();
    // 2 was lost (first cut); 3 arrives and starts a heal, whose read sees 2 and 3.
    source.commit(2);
    source.commit(3);
    hub.deliverUpdate(AUCTION, 3, 103, 7, ENDS_AT, true);
    expect(source.reads).toHaveLength(1);
    // Before that read returns the feed is cut again: 4 and 5 are lost, the resync asks to heal
    // while the heal still runs, and 6 arrives live.
    source.commit(4);
    source.commit(5);
    hub.resync();
    source.commit(6);
    hub.deliverUpdate(AUCTION, 6, 106, 7, ENDS_AT, true);
    source.reads[0]!.answer(3); // the read happened before 4 was committed
    await tick();
    // It reads again from 3, and that read has 4..6.
    expect(source.reads.map((r) => r.afterSeq)).toEqual([1, 3]);
    source.reads[1]!.answer();
    await tick();
    expect(pushed).toEqual(["state 0", "update 1", "update 2", "update 3", "update 4", "update 5", "update 6"]);
  });

  test("a CLOSED that arrives during a heal is sent after the UPDATEs the heal brings", async () => {
    const { source, hub, pushed } = await subscribedHub();
    source.commit(2);
    source.commit(3);
    hub.deliverUpdate(AUCTION, 3, 103, 7, ENDS_AT, true);
    hub.deliverFrames(closedFrame(3, 7));
    expect(pushed).toEqual(["state 0", "update 1"]);
    source.reads[0]!.answer();
    await tick();
    expect(pushed).toEqual(["state 0", "update 1", "update 2", "update 3", "closed 3 7"]);
  });

  test("a CLOSED past the last seq sent first reads the UPDATEs the feed lost", async () => {
    const { source, hub, pushed } = await subscribedHub();
    source.commit(2);
    source.commit(3);
    hub.deliverFrames(closedFrame(3, 7));
    expect(source.reads.map((r) => r.afterSeq)).toEqual([1]);
    source.reads[0]!.answer();
    await tick();
    expect(pushed).toEqual(["state 0", "update 1", "update 2", "update 3", "closed 3 7"]);
    // Once only, whatever brings it again (the resync after a cut reads the closed auction).
    source.auction = { ...source.auction, closed: true, winner: 7 };
    hub.resync();
    hub.deliverFrames(closedFrame(3, 7));
    await tick();
    for (const read of source.reads.slice(1)) read.answer();
    await tick();
    expect(pushed.filter((p) => p.startsWith("closed"))).toEqual(["closed 3 7"]);
  });

  test("a gap the history cannot fill is given up on, not read for ever", async () => {
    const { source, hub, pushed } = await subscribedHub();
    // Seq 3 arrives but the history (say, trimmed) never has 2.
    hub.deliverUpdate(AUCTION, 3, 103, 7, ENDS_AT, true);
    source.reads[0]!.answer();
    await tick();
    expect(source.reads).toHaveLength(1);
    expect(pushed).toEqual(["state 0", "update 1", "update 3"]);
  });
});
