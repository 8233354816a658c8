// One contract, every store: the bid rule in the contract's order, batches, creation.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { Status } from "../../src/protocol/constants.ts";
import type { Store } from "../../src/store/store.ts";
import { CONTRACT_STORE_KINDS, openTestStore, type StoreFixture } from "../support/stores.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const HOUR = 3_600_000;
let nextId = 1000;

function spec(fields: Partial<AuctionSpec> = {}): AuctionSpec {
  const now = Date.now();
  return {
    id: nextId++,
    title: "lot",
    startingPrice: 100,
    minIncrement: 10,
    reserve: 0,
    buyNowPrice: 0,
    startsAt: now - 1000,
    endsAt: now + HOUR,
    antiSnipeMs: 0,
    maxEndsAt: 0,
    ...fields,
  };
}

interface Outcome {
  status: number;
  amount: number;
  leader: number;
  seq: number;
  endsAt: number;
}

/** Applies bids [auction, user, amount] as one batch and returns each outcome. */
async function apply(store: Store, bids: [number, number, number][]): Promise<Outcome[]> {
  const batch = new BidBatch(Math.max(bids.length, 1));
  bids.forEach(([auction, user, amount], i) => {
    batch.auction[i] = auction;
    batch.user[i] = user;
    batch.amount[i] = amount;
  });
  batch.count = bids.length;
  await store.applyBids(batch);
  return bids.map((_, i) => ({
    status: batch.status[i]!,
    amount: batch.resultAmount[i]!,
    leader: batch.resultLeader[i]!,
    seq: batch.seq[i]!,
    endsAt: batch.endsAt[i]!,
  }));
}

async function create(store: Store, fields: Partial<AuctionSpec> = {}): Promise<AuctionSpec> {
  const s = spec(fields);
  const result = await store.createAuction(s);
  if (!result.created) throw new Error("not created");
  return s;
}

for (const kind of CONTRACT_STORE_KINDS) {
  describe(`${kind} store`, () => {
    let fixture: StoreFixture;
    let store: Store;
    beforeAll(async () => {
      fixture = await openTestStore(kind);
      store = fixture.store;
    });
    afterAll(() => fixture.dispose());

    test("creates auctions with explicit and generated ids; an existing id is refused", async () => {
      const s = spec();
      const first = await store.createAuction(s);
      expect(first.created).toBe(true);
      expect(await store.createAuction(s)).toEqual({ created: false, reason: "exists" });
      const generated = await store.createAuction({ ...spec(), id: 0 });
      expect(generated.created).toBe(true);
      if (generated.created) {
        expect(generated.auction.id).toBeGreaterThan(0);
        expect(generated.auction.id).not.toBe(s.id);
      }
      const read = await store.getAuction(s.id);
      expect(read).toMatchObject({ id: s.id, title: "lot", startingPrice: 100, minIncrement: 10, seq: 0, amount: 0, leader: 0 });
      expect(await store.getAuction(999_999)).toBeNull();
    });

    test("UNKNOWN for an auction that does not exist, with amount and leader 0", async () => {
      const [outcome] = await apply(store, [[987_654, 1, 500]]);
      expect(outcome).toMatchObject({ status: Status.UNKNOWN, amount: 0, leader: 0 });
    });

    test("NOT_STARTED before starts_at, CLOSED at or after ends_at", async () => {
      const now = Date.now();
      const future = await create(store, { startsAt: now + HOUR, endsAt: now + 2 * HOUR });
      const past = await create(store, { startsAt: now - 2 * HOUR, endsAt: now - HOUR });
      const outcomes = await apply(store, [
        [future.id, 1, 500],
        [past.id, 1, 500],
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([Status.NOT_STARTED, Status.CLOSED]);
    });

    test("first bid needs the starting price, later ones the minimum increment", async () => {
      const a = await create(store);
      const outcomes = await apply(store, [
        [a.id, 1, 99],
        [a.id, 1, 100],
        [a.id, 2, 109],
        [a.id, 2, 110],
        [a.id, 3, 110],
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([Status.OUTBID, Status.ACCEPTED, Status.OUTBID, Status.ACCEPTED, Status.OUTBID]);
      // RESULT carries the amount and leader after the bid, whatever its status.
      expect(outcomes.map((o) => [o.amount, o.leader])).toEqual([
        [0, 0],
        [100, 1],
        [100, 1],
        [110, 2],
        [110, 2],
      ]);
      expect(outcomes[1]!.seq).toBe(1);
      expect(outcomes[3]!.seq).toBe(2);
      expect(await store.getAuction(a.id)).toMatchObject({ seq: 2, amount: 110, leader: 2 });
    });

    test("a batch of rising bids on one auction is applied in order", async () => {
      const a = await create(store);
      const bids: [number, number, number][] = Array.from({ length: 500 }, (_, i) => [a.id, 1 + (i % 7), 100 + i * 10]);
      const outcomes = await apply(store, bids);
      expect(outcomes.every((o) => o.status === Status.ACCEPTED)).toBe(true);
      expect(outcomes.map((o) => o.seq)).toEqual(bids.map((_, i) => i + 1));
      expect(await store.getAuction(a.id)).toMatchObject({ seq: 500, amount: 100 + 499 * 10 });
    });

    test("bids over many auctions in one batch", async () => {
      const auctions = [];
      for (let i = 0; i < 40; i++) auctions.push(await create(store));
      const bids: [number, number, number][] = [];
      for (let round = 0; round < 3; round++) for (const a of auctions) bids.push([a.id, 5, 100 + round * 10]);
      const outcomes = await apply(store, bids);
      expect(outcomes.every((o) => o.status === Status.ACCEPTED)).toBe(true);
      for (const a of auctions) expect(await store.getAuction(a.id)).toMatchObject({ seq: 3, amount: 120, leader: 5 });
    });

    test("amounts up to 2^53-1 are exact", async () => {
      const a = await create(store, { startingPrice: 1, minIncrement: 1 });
      const max = Number.MAX_SAFE_INTEGER;
      const outcomes = await apply(store, [
        [a.id, 1, max - 1],
        [a.id, 2, max],
      ]);
      expect(outcomes.map((o) => [o.status, o.amount])).toEqual([
        [Status.ACCEPTED, max - 1],
        [Status.ACCEPTED, max],
      ]);
      expect((await store.getAuction(a.id))!.amount).toBe(max);
    });

    test("anti-sniping extends only on accepted bids and stops at max_ends_at", async () => {
      const now = Date.now();
      const endsAt = now + 2000;
      const a = await create(store, { endsAt, antiSnipeMs: 10_000, maxEndsAt: now + 15_000 });
      const [rejected] = await apply(store, [[a.id, 1, 50]]);
      expect(rejected!.status).toBe(Status.OUTBID);
      expect((await store.getAuction(a.id))!.endsAt).toBe(endsAt);

      const [first] = await apply(store, [[a.id, 1, 100]]);
      expect(first!.status).toBe(Status.ACCEPTED);
      expect(first!.endsAt).toBeGreaterThan(endsAt);
      expect(first!.endsAt).toBeLessThanOrEqual(now + 15_000);
      // A later extension is capped at max_ends_at exactly.
      await Bun.sleep(20);
      const [second] = await apply(store, [[a.id, 2, 200]]);
      expect(second!.endsAt).toBeLessThanOrEqual(now + 15_000);
      expect((await store.getAuction(a.id))!.endsAt).toBe(second!.endsAt);
    });

    test("anti-sniping leaves ends_at alone while more than anti_snipe_ms remain", async () => {
      const a = await create(store, { antiSnipeMs: 5000 });
      const [outcome] = await apply(store, [[a.id, 1, 100]]);
      expect(outcome!.endsAt).toBe(a.endsAt);
    });

    test("buy-now wins at exactly the buy-now price and closes the auction", async () => {
      const a = await create(store, { buyNowPrice: 1000, reserve: 500 });
      const outcomes = await apply(store, [
        [a.id, 1, 200],
        [a.id, 2, 5000],
        [a.id, 3, 9000],
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([Status.ACCEPTED, Status.ACCEPTED, Status.CLOSED]);
      expect(outcomes[1]).toMatchObject({ amount: 1000, leader: 2, seq: 2 });
      expect(outcomes[2]).toMatchObject({ amount: 1000, leader: 2 });
    });

    test("buy-now is gone once a bid meets the reserve", async () => {
      const a = await create(store, { buyNowPrice: 1000, reserve: 300 });
      const outcomes = await apply(store, [
        [a.id, 1, 300],
        [a.id, 2, 5000],
      ]);
      expect(outcomes.map((o) => [o.status, o.amount])).toEqual([
        [Status.ACCEPTED, 300],
        [Status.ACCEPTED, 5000],
      ]);
    });

    // History, closing, cancel and listing.

    test("the history equals the sequence of accepted bids", async () => {
      const a = await create(store);
      const outcomes = await apply(store, [
        [a.id, 1, 100],
        [a.id, 2, 105],
        [a.id, 2, 110],
        [a.id, 3, 130],
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([Status.ACCEPTED, Status.OUTBID, Status.ACCEPTED, Status.ACCEPTED]);
      const history = await store.history(a.id, 0, 100);
      expect(history.map((e) => [e.seq, e.amount, e.user])).toEqual([
        [1, 100, 1],
        [2, 110, 2],
        [3, 130, 3],
      ]);
      expect((await store.history(a.id, 1, 1)).map((e) => e.seq)).toEqual([2]);
      expect((await store.historyNewestFirst(a.id, 4, 2)).map((e) => e.seq)).toEqual([3, 2]);
      expect((await store.historyNewestFirst(a.id, 2, 10)).map((e) => e.seq)).toEqual([1]);
      expect(history.every((e) => e.endsAt === a.endsAt && e.at > 0)).toBe(true);
    });

    test("closing decides the winner by the reserve, once", async () => {
      const now = Date.now();
      const sold = await create(store, { endsAt: now + 300, reserve: 150 });
      const unsold = await create(store, { endsAt: now + 300, reserve: 500 });
      const empty = await create(store, { endsAt: now + 300 });
      await apply(store, [
        [sold.id, 7, 200],
        [unsold.id, 8, 200],
      ]);
      await Bun.sleep(350);
      const closed = new Map<number, unknown>();
      for (let i = 0; i < 3; i++) for (const c of await store.closeDue(1000)) {
        expect(closed.has(c.id)).toBe(false);
        closed.set(c.id, c);
      }
      expect(closed.get(sold.id)).toEqual({ id: sold.id, seq: 1, winner: 7, amount: 200 });
      expect(closed.get(unsold.id)).toEqual({ id: unsold.id, seq: 1, winner: 0, amount: 0 });
      expect(closed.get(empty.id)).toEqual({ id: empty.id, seq: 0, winner: 0, amount: 0 });
      expect(await store.getAuction(sold.id)).toMatchObject({ closed: true, winner: 7 });
      const [late] = await apply(store, [[sold.id, 9, 10_000]]);
      expect(late!.status).toBe(Status.CLOSED);
    });

    test("buy-now is closed by the next closing step", async () => {
      const a = await create(store, { buyNowPrice: 1000 });
      await apply(store, [[a.id, 4, 1000]]);
      const closed = await store.closeDue(1000);
      expect(closed.find((c) => c.id === a.id)).toEqual({ id: a.id, seq: 1, winner: 4, amount: 1000 });
    });

    test("cancel closes with no sale; twice or unknown is refused", async () => {
      const a = await create(store);
      await apply(store, [[a.id, 1, 100]]);
      const result = await store.cancel(a.id);
      expect(result).toEqual({ cancelled: true, closed: { id: a.id, seq: 1, winner: 0, amount: 0 } });
      expect(await store.cancel(a.id)).toEqual({ cancelled: false, reason: "closed" });
      expect(await store.cancel(7_777_777)).toEqual({ cancelled: false, reason: "unknown" });
      const [late] = await apply(store, [[a.id, 2, 500]]);
      expect(late!.status).toBe(Status.CLOSED);
      expect((await store.closeDue(1000)).some((c) => c.id === a.id)).toBe(false);
    });

    test("listing by phase, paged by id", async () => {
      const now = Date.now();
      const scheduled = [];
      for (let i = 0; i < 5; i++) scheduled.push(await create(store, { startsAt: now + 3_600_000, endsAt: now + 7_200_000 }));
      const page1 = await store.listAuctions(1 /* SCHEDULED */, 0, 3);
      expect(page1.length).toBe(3);
      const page2 = await store.listAuctions(1, page1[2]!.id, 100);
      const ids = [...page1, ...page2].map((a) => a.id);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      for (const s of scheduled) expect(ids).toContain(s.id);
      const open = await store.listAuctions(2 /* OPEN */, 0, 1000);
      expect(open.every((a) => a.startsAt <= now && a.endsAt > now && !a.closed)).toBe(true);
    });
  });
}
