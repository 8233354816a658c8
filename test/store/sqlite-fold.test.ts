// The fold moves the SQLite bid log into the `bids` table and the auctions' rows. Whatever
// was folded when, the store must answer exactly what the memory store (the model) answers
// for the same bids: every history page both ways, each auction's state, before and after a
// restart.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { HistoryEntry, Store } from "../../src/store/store.ts";
import { seededRandom } from "../support/random.ts";

const AUCTIONS = 12;
const BATCHES = 120;
const BIDS_PER_BATCH = 40;
const PAGE = 7;
let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const withoutTime = (entries: HistoryEntry[]) => entries.map(({ at: _at, ...rest }) => rest);

async function expectSameAnswers(sqlite: Store, model: Store): Promise<void> {
  for (let id = 1; id <= AUCTIONS; id++) {
    const expected = await model.getAuction(id);
    const actual = await sqlite.getAuction(id);
    expect({ ...actual, startsAt: 0 }).toEqual({ ...expected!, startsAt: 0 });
    for (let after = 0; after <= expected!.seq; after += PAGE) {
      expect(withoutTime(await sqlite.history(id, after, PAGE))).toEqual(withoutTime(await model.history(id, after, PAGE)));
    }
    for (let before = expected!.seq + 1; before >= 1; before -= PAGE) {
      expect(withoutTime(await sqlite.historyNewestFirst(id, before, PAGE))).toEqual(withoutTime(await model.historyNewestFirst(id, before, PAGE)));
    }
  }
}

test("history and state are the same as the memory store's, whatever has been folded, across a restart", async () => {
  dir = mkdtempSync(join(tmpdir(), "gavel-fold-"));
  const path = join(dir, "gavel.db");
  let sqlite = new SqliteStore({ path });
  const model = new MemoryStore();
  const random = seededRandom(7);
  const now = Date.now();
  for (let id = 1; id <= AUCTIONS; id++) {
    const spec: AuctionSpec = { id, title: `lot ${id}`, startingPrice: 10, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 3_600_000, antiSnipeMs: 0, maxEndsAt: 0 };
    await sqlite.createAuction(spec);
    await model.createAuction(spec);
  }
  const amounts = new Array(AUCTIONS + 1).fill(10);
  for (let b = 0; b < BATCHES; b++) {
    const batch = new BidBatch(BIDS_PER_BATCH);
    for (let i = 0; i < BIDS_PER_BATCH; i++) {
      const auction = 1 + Math.floor(random() * AUCTIONS);
      batch.auction[i] = auction;
      batch.user[i] = 1 + Math.floor(random() * 5);
      // Mostly rising, some OUTBID.
      batch.amount[i] = amounts[auction] += Math.floor(random() * 3) - 1;
    }
    batch.count = BIDS_PER_BATCH;
    const copy = new BidBatch(BIDS_PER_BATCH);
    copy.auction.set(batch.auction);
    copy.user.set(batch.user);
    copy.amount.set(batch.amount);
    copy.count = batch.count;
    sqlite.applyBids(batch);
    model.applyBids(copy);
    expect(Array.from(batch.status)).toEqual(Array.from(copy.status));
    // Fold now and then, some of it: the answers mix the table and the log.
    if (b % 17 === 5) (sqlite as unknown as { fold(): void }).fold();
    if (b % 40 === 39) await expectSameAnswers(sqlite, model);
  }
  await expectSameAnswers(sqlite, model);
  await sqlite.close();
  sqlite = new SqliteStore({ path });
  await expectSameAnswers(sqlite, model);
  sqlite.foldAll();
  await expectSameAnswers(sqlite, model);
  await sqlite.close();
  // Started on a folded file, nothing of the log is left to read.
  sqlite = new SqliteStore({ path });
  await expectSameAnswers(sqlite, model);
  await sqlite.close();
});
