// Worked examples of the contract's proxy bidding text (docs/protocol.md, "Proxy bidding:
// MAX_BID"), one sentence each, on every store (Redis also as a Cluster). Amounts in cents;
// increment 10 unless a table is given.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AuctionSpec, IncrementRow } from "../../src/auction/auction.ts";
import { BidKind } from "../../src/auction/bid-rule.ts";
import { Status } from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import type { Store } from "../../src/store/store.ts";
import { CONTRACT_STORE_KINDS, openTestStore, type StoreFixture } from "../support/stores.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const HOUR = 3_600_000;
const { ACCEPTED, OUTBID, CLOSED } = Status;
const BID = "bid";
const MAX = "max";
let nextId = 1;

type Kind = typeof BID | typeof MAX;
/** [status, amount, leader, seq, stepped] after each bid. */
type Outcome = [number, number, number, number, boolean];

function spec(fields: Partial<AuctionSpec>): AuctionSpec {
  const now = Date.now();
  return { id: nextId++, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields };
}

async function run(store: Store, fields: Partial<AuctionSpec>, bids: [number, Kind, number][]): Promise<{ id: number; outcomes: Outcome[]; endsAt: number[] }> {
  const s = spec(fields);
  expect((await store.createAuction(s)).created).toBe(true);
  const outcomes: Outcome[] = [];
  const endsAt: number[] = [];
  // One bid per batch, then the same again as one batch must agree (Lua keeps state in a call).
  for (const [user, kind, amount] of bids) {
    const batch = new BidBatch(1);
    batch.auction[0] = s.id;
    batch.user[0] = user;
    batch.amount[0] = amount;
    batch.kind[0] = kind === MAX ? BidKind.MAX : BidKind.BID;
    batch.count = 1;
    await store.applyBids(batch);
    outcomes.push([batch.status[0]!, batch.resultAmount[0]!, batch.resultLeader[0]!, batch.seq[0]!, batch.stepped[0] === 1]);
    endsAt.push(batch.endsAt[0]!);
  }
  return { id: s.id, outcomes, endsAt };
}

for (const kind of CONTRACT_STORE_KINDS) {
  describe(`proxy bidding on the ${kind} store`, () => {
    let fixture: StoreFixture;
    let store: Store;
    beforeAll(async () => {
      fixture = await openTestStore(kind);
      store = fixture.store;
    });
    afterAll(() => fixture.dispose());

    test("2. nobody leads: a maximum below the starting price is OUTBID; at or above it leads at the starting price", async () => {
      const { outcomes } = await run(store, {}, [
        [1, MAX, 99],
        [1, MAX, 5000],
      ]);
      expect(outcomes).toEqual([
        [OUTBID, 0, 0, 0, false],
        [ACCEPTED, 100, 1, 1, true],
      ]);
    });

    test("3. a higher maximum leads one increment above the other; a lower one is answered one increment above it, OUTBID", async () => {
      const { id, outcomes } = await run(store, {}, [
        [1, MAX, 5000], // 1 leads at 100
        [2, MAX, 3000], // 1's maximum answers: 3010
        [3, MAX, 7000], // 3 leads at 5010
        [1, MAX, 105], // below next (5020): nothing changes
      ]);
      expect(outcomes).toEqual([
        [ACCEPTED, 100, 1, 1, true],
        [OUTBID, 3010, 1, 2, true],
        [ACCEPTED, 5010, 3, 3, true],
        [OUTBID, 5010, 3, 3, false],
      ]);
      const history = await store.history(id, 0, 10);
      expect(history.map((e) => [e.seq, e.amount, e.user, e.by])).toEqual([
        [1, 100, 1, 1],
        [2, 3010, 1, 1],
        [3, 5010, 3, 1],
      ]);
    });

    test("3. a tie goes to the earlier maximum, at that maximum", async () => {
      const { outcomes } = await run(store, {}, [
        [1, MAX, 5000],
        [2, MAX, 5000],
      ]);
      expect(outcomes[1]).toEqual([OUTBID, 5000, 1, 2, true]);
    });

    test("3. the new leader's price never passes its own maximum, and never falls below next", async () => {
      const { outcomes } = await run(store, {}, [
        [1, MAX, 500],
        [2, MAX, 505], // min(505, 500 + 10) = 505
      ]);
      expect(outcomes[1]).toEqual([ACCEPTED, 505, 2, 2, true]);
    });

    test("1. the leader raising their own maximum changes nothing visible: ACCEPTED, no step", async () => {
      const { outcomes } = await run(store, {}, [
        [1, MAX, 500],
        [1, MAX, 900],
        [1, MAX, 300],
        [2, MAX, 800], // answered by 1's raised maximum: 810
      ]);
      expect(outcomes).toEqual([
        [ACCEPTED, 100, 1, 1, true],
        [ACCEPTED, 100, 1, 1, false],
        [ACCEPTED, 100, 1, 1, false],
        [OUTBID, 810, 1, 2, true],
      ]);
    });

    test("the reserve: when the leader's maximum meets it, the price rises to it (a step), also on a raise", async () => {
      const { outcomes } = await run(store, { reserve: 1000 }, [
        [1, MAX, 600], // below the reserve: 100
        [1, MAX, 1000], // its own raise meets the reserve: 1000
        [2, MAX, 2000], // 2 leads at 1010
      ]);
      expect(outcomes).toEqual([
        [ACCEPTED, 100, 1, 1, true],
        [ACCEPTED, 1000, 1, 2, true],
        [ACCEPTED, 1010, 2, 3, true],
      ]);
    });

    test("a BID against a hidden maximum is answered by it, one increment above, capped at the maximum", async () => {
      const { id, outcomes } = await run(store, {}, [
        [1, MAX, 1000],
        [2, BID, 500], // 510, 1 leads
        [2, BID, 1000], // tie with the maximum: 1000, 1 leads
        [2, BID, 1010], // above it: 2 leads at exactly 1010
      ]);
      expect(outcomes).toEqual([
        [ACCEPTED, 100, 1, 1, true],
        [OUTBID, 510, 1, 2, true],
        [OUTBID, 1000, 1, 3, true],
        [ACCEPTED, 1010, 2, 4, true],
      ]);
      const history = await store.history(id, 0, 10);
      expect(history.map((e) => e.by)).toEqual([1, 1, 1, 0]);
    });

    test("the leader's own BID moves the price to it and keeps their higher maximum", async () => {
      const { outcomes } = await run(store, {}, [
        [1, MAX, 1000],
        [1, BID, 400], // 1 leads at exactly 400; their maximum stays 1000
        [2, MAX, 900], // answered by 1000: 910
      ]);
      expect(outcomes).toEqual([
        [ACCEPTED, 100, 1, 1, true],
        [ACCEPTED, 400, 1, 2, true],
        [OUTBID, 910, 1, 3, true],
      ]);
    });

    test("buy-now: a maximum at or above it buys at once, at exactly the buy-now price (the leader's too)", async () => {
      const { outcomes } = await run(store, { reserve: 2000, buyNowPrice: 3000 }, [
        [1, MAX, 1500], // 100: below the reserve, buy-now stays open
        [1, MAX, 9000], // the leader's maximum buys: 3000, closed
        [2, MAX, 9999],
      ]);
      expect(outcomes.map(([status, amount, leader, seq]) => [status, amount, leader, seq])).toEqual([
        [ACCEPTED, 100, 1, 1],
        [ACCEPTED, 3000, 1, 2],
        [CLOSED, 3000, 1, 2],
      ]);
    });

    test("an OUTBID step extends the auction under anti-sniping, like an accepted bid", async () => {
      const now = Date.now();
      const { outcomes, endsAt } = await run(store, { endsAt: now + 5_000, antiSnipeMs: 60_000 }, [
        [1, MAX, 5000],
        [2, BID, 200],
      ]);
      expect(outcomes[1]).toEqual([OUTBID, 210, 1, 2, true]);
      expect(endsAt[1]).toBeGreaterThan(now + 50_000);
    });

    test("an increment table sets inc(p) by the price band, in both rules", async () => {
      const increments: IncrementRow[] = [
        { from: 0, step: 5 },
        { from: 100, step: 25 },
        { from: 500, step: 50 },
      ];
      const { outcomes } = await run(store, { startingPrice: 50, minIncrement: 1, increments }, [
        [1, BID, 50],
        [2, BID, 54], // below 50 + 5
        [2, BID, 100],
        [1, BID, 124], // below 100 + 25
        [1, MAX, 700],
        [2, MAX, 480], // 480 + inc(480) = 505, capped by nothing: 505
        [2, MAX, 600], // 600 + inc(600) = 650
      ]);
      expect(outcomes.map(([status, amount, leader]) => [status, amount, leader])).toEqual([
        [ACCEPTED, 50, 1],
        [OUTBID, 50, 1],
        [ACCEPTED, 100, 2],
        [OUTBID, 100, 2],
        [ACCEPTED, 125, 1],
        [OUTBID, 505, 1],
        [OUTBID, 650, 1],
      ]);
      const stored = await store.getAuction(outcomes.length > 0 ? nextId - 1 : 0);
      expect(stored!.increments).toEqual(increments);
    });
  });
}
