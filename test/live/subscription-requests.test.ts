// SubscriptionHub's per-(connection, auction) request queue, with the store's reads held open so
// every interleaving is forced: answers in request order, nothing kept for an unknown auction or
// a refused SUBSCRIBE, nothing left of a connection dropped mid-answer.

import { describe, expect, test } from "bun:test";
import { freshAuction, type AuctionState } from "../../src/auction/auction.ts";
import { SubscriptionHub } from "../../src/live/subscription-hub.ts";
import type { Connection } from "../../src/net/connection.ts";
import { ErrorCode, NO_REPLAY } from "../../src/protocol/constants.ts";
import type { HistoryEntry } from "../../src/store/store.ts";

const KNOWN = 1;
const NOW = 1_767_225_600_000;

/** A store whose getAuction waits until the test answers it. */
class HeldReads {
  readonly reads: { id: number; answer: () => void; fail: () => void }[] = [];
  getAuction(id: number): Promise<AuctionState | null> {
    return new Promise((resolve, reject) => {
      const auction =
        id === KNOWN
          ? freshAuction({ id, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: 0, endsAt: NOW + 60_000, antiSnipeMs: 0, maxEndsAt: 0 })
          : null;
      this.reads.push({ id, answer: () => resolve(auction), fail: () => reject(new Error("store down")) });
    });
  }
  async history(): Promise<HistoryEntry[]> {
    return [];
  }
  now(): number {
    return NOW;
  }
}

function recordingConnection() {
  const sent: string[] = [];
  const connection = {
    closed: false,
    pending: 0,
    queuedBytes: 0,
    conflated: null,
    congestedSince: 0,
    queueState(req: number, auction: number, phase: number) {
      sent.push(`state ${req} ${auction} phase ${phase}`);
    },
    queueOk(req: number) {
      sent.push(`ok ${req}`);
    },
    queueError(req: number, code: number) {
      sent.push(`error ${req} code ${code}`);
    },
    queueBytes() {
      sent.push("update");
    },
    queueClosed() {
      sent.push("closed");
    },
    abort() {},
  };
  return { connection: connection as unknown as Connection & { pending: number }, sent };
}

const tick = () => Bun.sleep(0);

function setup(maxSubscriptions = 1000) {
  const source = new HeldReads();
  const hub = new SubscriptionHub(source, { subscriberHighWater: 1 << 20, slowSubscriberMs: 0, maxSubscriptions }, () => {});
  return { source, hub, ...recordingConnection() };
}

function expectNothingKept(hub: SubscriptionHub): void {
  expect(hub.subscriptionCount).toBe(0);
  expect([...hub.auctionIds]).toEqual([]);
  expect(hub.connectionCount).toBe(0);
}

describe("one connection's SUBSCRIBEs and UNSUBSCRIBEs of one auction", () => {
  test("are answered one at a time, in request order, whatever the store's timing", async () => {
    const { source, hub, connection, sent } = setup();
    hub.subscribe(connection, 1, KNOWN, NO_REPLAY);
    hub.unsubscribe(connection, 2, KNOWN);
    hub.subscribe(connection, 3, KNOWN, NO_REPLAY);
    hub.subscribe(connection, 4, KNOWN, NO_REPLAY);
    hub.unsubscribe(connection, 5, KNOWN);
    expect(connection.pending).toBe(5);
    // One store read at a time: the next waits for the answer before it.
    for (let i = 0; i < 3; i++) {
      expect(source.reads).toHaveLength(i + 1);
      source.reads[i]!.answer();
      await tick();
    }
    expect(sent).toEqual(["state 1 1 phase 2", "ok 2", "state 3 1 phase 2", "state 4 1 phase 2", "ok 5"]);
    expect(connection.pending).toBe(0);
    expectNothingKept(hub);
  });

  test("an unknown auction is answered STATE UNKNOWN and nothing of it is kept", async () => {
    const { source, hub, connection, sent } = setup();
    hub.subscribe(connection, 1, 99, NO_REPLAY);
    expect(hub.connectionCount).toBe(1);
    source.reads[0]!.answer();
    await tick();
    expect(sent).toEqual(["state 1 99 phase 0"]);
    expectNothingKept(hub);
  });

  test("a store that cannot answer: ERROR UNAVAILABLE, nothing kept; one already followed stays followed", async () => {
    const { source, hub, connection, sent } = setup();
    hub.subscribe(connection, 1, 99, NO_REPLAY);
    source.reads[0]!.fail();
    await tick();
    expect(sent).toEqual([`error 1 code ${ErrorCode.UNAVAILABLE}`]);
    expectNothingKept(hub);

    hub.subscribe(connection, 2, KNOWN, NO_REPLAY);
    source.reads[1]!.answer();
    await tick();
    hub.subscribe(connection, 3, KNOWN, NO_REPLAY);
    source.reads[2]!.fail();
    await tick();
    expect(sent.slice(1)).toEqual(["state 2 1 phase 2", `error 3 code ${ErrorCode.UNAVAILABLE}`]);
    expect(hub.subscriptionCount).toBe(1);
  });

  test("the bound counts SUBSCRIBEs being answered; UNSUBSCRIBEs waiting behind them are bounded too", async () => {
    const { source, hub, connection, sent } = setup(2);
    hub.subscribe(connection, 1, 50, NO_REPLAY);
    hub.subscribe(connection, 2, 51, NO_REPLAY);
    hub.subscribe(connection, 3, 52, NO_REPLAY);
    hub.unsubscribe(connection, 4, 50);
    hub.unsubscribe(connection, 5, 51);
    hub.unsubscribe(connection, 6, 51);
    expect(sent).toEqual([`error 3 code ${ErrorCode.LIMIT}`, `error 6 code ${ErrorCode.LIMIT}`]);
    for (const read of source.reads) read.answer();
    await tick();
    const answers = sent.slice(2);
    expect([...answers].sort()).toEqual(["ok 4", "ok 5", "state 1 50 phase 0", "state 2 51 phase 0"]);
    // In request order per auction.
    expect(answers.indexOf("state 1 50 phase 0")).toBeLessThan(answers.indexOf("ok 4"));
    expect(answers.indexOf("state 2 51 phase 0")).toBeLessThan(answers.indexOf("ok 5"));
    expectNothingKept(hub);
  });

  test("a connection dropped while its SUBSCRIBE is being answered leaves nothing and gets nothing", async () => {
    const { source, hub, connection, sent } = setup();
    hub.subscribe(connection, 1, KNOWN, NO_REPLAY);
    hub.unsubscribe(connection, 2, KNOWN);
    hub.dropConnection(connection);
    expect(connection.pending).toBe(0);
    expectNothingKept(hub);
    source.reads[0]!.answer();
    await tick();
    expect(sent).toEqual([]);
    expectNothingKept(hub);
  });
});
