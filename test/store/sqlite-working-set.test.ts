// The SQLite store holds only open and scheduled auctions in memory; a closed one lives in the
// file and is read from it when asked. Everything a closed auction answers must be what it
// answered while held: its state, a late bid's CLOSED, a second cancel, its id staying taken.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { Status } from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";

const HOUR = 3_600_000;
let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function spec(fields: Partial<AuctionSpec>): AuctionSpec {
  const now = Date.now();
  return { id: 0, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields };
}

function bid(store: SqliteStore, auction: number, user: number, amount: number) {
  const batch = new BidBatch(1);
  batch.auction[0] = auction;
  batch.user[0] = user;
  batch.amount[0] = amount;
  batch.count = 1;
  store.applyBids(batch);
  return { status: batch.status[0], amount: batch.resultAmount[0], leader: batch.resultLeader[0], seq: batch.seq[0] };
}

test("closed auctions answer from the file, before and after a restart; their ids stay taken", async () => {
  dir = mkdtempSync(join(tmpdir(), "gavel-working-set-"));
  const path = join(dir, "gavel.db");
  let store = new SqliteStore({ path, maxAuctionId: 6 });
  const ending = await store.createAuction(spec({ id: 2, endsAt: Date.now() + 100 }));
  const cancelled = await store.createAuction(spec({ id: 3 }));
  const open = await store.createAuction(spec({ id: 5 }));
  expect([ending.created, cancelled.created, open.created]).toEqual([true, true, true]);
  expect(bid(store, 2, 7, 150).status).toBe(Status.ACCEPTED);
  expect((await store.cancel(3)).cancelled).toBe(true);
  await Bun.sleep(150);
  expect(await store.closeDue(10)).toEqual([{ id: 2, seq: 1, winner: 7, amount: 150 }]);

  for (let round = 0; round < 2; round++) {
    expect(await store.getAuction(2)).toMatchObject({ id: 2, closed: true, winner: 7, amount: 150, seq: 1 });
    expect(await store.getAuction(3)).toMatchObject({ id: 3, closed: true, winner: 0 });
    expect(bid(store, 2, 8, 500)).toEqual({ status: Status.CLOSED, amount: 150, leader: 7, seq: 1 });
    expect(bid(store, 4, 8, 500).status).toBe(Status.UNKNOWN);
    expect(await store.cancel(2)).toEqual({ cancelled: false, reason: "closed" });
    expect(await store.cancel(4)).toEqual({ cancelled: false, reason: "unknown" });
    expect((await store.createAuction(spec({ id: 3 }))).created).toBe(false);
    expect((await store.history(2, 0, 10)).map((e) => e.amount)).toEqual([150]);
    expect((await store.listAuctions(null, 0, 10)).map((a) => a.id)).toEqual([2, 3, 5]);
    await store.close();
    store = new SqliteStore({ path, maxAuctionId: 6 });
  }
  // Generated ids go past the highest and wrap to the free ones, never a closed one's.
  const generated: number[] = [];
  for (let i = 0; i < 3; i++) {
    const result = await store.createAuction(spec({ id: 0 }));
    if (result.created) generated.push(result.auction.id);
  }
  expect(generated.sort()).toEqual([1, 4, 6]);
  await expect(store.createAuction(spec({ id: 0 }))).rejects.toThrow(/exhausted/);
  await store.close();
});
