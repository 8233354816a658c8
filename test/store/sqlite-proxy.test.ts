// Proxy bidding on the SQLite file: a file written by schema version 2 (before proxy bidding)
// opens in this build, its state and history kept, and takes maxima (the migration and its
// version bump are one transaction); a leader's raised maximum, which makes no step, survives a
// restart from the log and after the fold; a batch whose commit fails puts it back.

import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeU32, writeU64 } from "../../src/protocol/bytes.ts";
import { BidKind } from "../../src/auction/bid-rule.ts";
import { Status } from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Schema version 2 exactly as that release created it. */
const V2_SCHEMA = `
CREATE TABLE auctions (id INTEGER PRIMARY KEY, title TEXT NOT NULL, starting_price INTEGER NOT NULL,
  min_increment INTEGER NOT NULL, reserve INTEGER NOT NULL, buy_now_price INTEGER NOT NULL,
  starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL, anti_snipe_ms INTEGER NOT NULL,
  max_ends_at INTEGER NOT NULL, seq INTEGER NOT NULL, amount INTEGER NOT NULL, leader INTEGER NOT NULL,
  closed INTEGER NOT NULL, winner INTEGER NOT NULL);
CREATE INDEX auctions_open ON auctions(id) WHERE closed = 0;
CREATE INDEX auctions_closed_ends ON auctions(ends_at) WHERE closed = 1;
CREATE TABLE bid_log (id INTEGER PRIMARY KEY, entries BLOB NOT NULL);
CREATE TABLE bids (auction INTEGER NOT NULL, seq INTEGER NOT NULL, amount INTEGER NOT NULL,
  user INTEGER NOT NULL, at INTEGER NOT NULL, ends_at INTEGER NOT NULL, PRIMARY KEY (auction, seq)) WITHOUT ROWID;
PRAGMA user_version = 2;
`;

/** A version 2 log entry: auction u32, seq u32, amount u64, user u32, at u64, ends_at u64. */
function v2Entries(entries: [number, number, number, number, number, number][]): Uint8Array {
  const bytes = new Uint8Array(entries.length * 36);
  entries.forEach(([auction, seq, amount, user, at, endsAt], i) => {
    const o = i * 36;
    writeU32(bytes, o, auction);
    writeU32(bytes, o + 4, seq);
    writeU64(bytes, o + 8, amount);
    writeU32(bytes, o + 16, user);
    writeU64(bytes, o + 20, at);
    writeU64(bytes, o + 28, endsAt);
  });
  return bytes;
}

test("a version 2 file opens: its state and history are kept, and it takes maxima", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gavel-migrate-"));
  dirs.push(dir);
  const path = join(dir, "gavel.db");
  const now = Date.now();
  const endsAt = now + 3_600_000;
  const db = new Database(path, { create: true });
  db.exec(V2_SCHEMA);
  // Auction 1: seq 1 folded (amount 100 by user 5), seq 2 still in the log (120 by user 6).
  db.run("INSERT INTO auctions VALUES (1, 'lamp', 100, 10, 0, 0, ?, ?, 0, 0, 1, 100, 5, 0, 0)", [now - 1000, endsAt]);
  db.run("INSERT INTO bids VALUES (1, 1, 100, 5, ?, ?)", [now - 500, endsAt]);
  db.run("INSERT INTO bid_log VALUES (1, ?)", [v2Entries([[1, 2, 120, 6, now - 400, endsAt]])]);
  db.close();

  const store = new SqliteStore({ path });
  try {
    const auction = await store.getAuction(1);
    expect(auction).toMatchObject({ seq: 2, amount: 120, leader: 6, top: 120 });
    expect((await store.history(1, 0, 10)).map((e) => [e.seq, e.amount, e.user, e.by])).toEqual([
      [1, 100, 5, 0],
      [2, 120, 6, 0],
    ]);
    // User 7 leaves a maximum of 501: one increment above the leader's 120.
    const batch = new BidBatch(2);
    batch.auction[0] = 1;
    batch.user[0] = 7;
    batch.amount[0] = 501;
    batch.kind[0] = BidKind.MAX;
    // User 6 bids 200: the maximum answers at 210.
    batch.auction[1] = 1;
    batch.user[1] = 6;
    batch.amount[1] = 200;
    batch.kind[1] = BidKind.BID;
    batch.count = 2;
    store.applyBids(batch);
    expect([batch.status[0], batch.resultAmount[0], batch.resultLeader[0], batch.seq[0], batch.stepped[0]]).toEqual([Status.ACCEPTED, 130, 7, 3, 1]);
    expect([batch.status[1], batch.resultAmount[1], batch.resultLeader[1], batch.seq[1], batch.stepped[1]]).toEqual([Status.OUTBID, 210, 7, 4, 1]);
    store.foldAll();
  } finally {
    await store.close();
  }
  const reopened = new SqliteStore({ path });
  try {
    expect(await reopened.getAuction(1)).toMatchObject({ seq: 4, amount: 210, leader: 7, top: 501 });
    expect((await reopened.history(1, 2, 10)).map((e) => [e.seq, e.amount, e.user, e.by])).toEqual([
      [3, 130, 7, 1],
      [4, 210, 7, 1],
    ]);
  } finally {
    await reopened.close();
  }
  const check = new Database(path, { readonly: true });
  expect((check.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
  check.close();
});

test("a leader's raised maximum (no step, no history) survives a restart, from the log and after the fold", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gavel-top-"));
  dirs.push(dir);
  const path = join(dir, "gavel.db");
  const now = Date.now();
  const maxBid = (store: SqliteStore, user: number, max: number) => {
    const batch = new BidBatch(1);
    batch.auction[0] = 1;
    batch.user[0] = user;
    batch.amount[0] = max;
    batch.kind[0] = BidKind.MAX;
    batch.count = 1;
    store.applyBids(batch);
    return [batch.status[0], batch.resultAmount[0], batch.resultLeader[0], batch.seq[0], batch.stepped[0]];
  };
  let store = new SqliteStore({ path });
  await store.createAuction({ id: 1, title: "", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 3_600_000, antiSnipeMs: 0, maxEndsAt: 0 });
  expect(maxBid(store, 7, 500)).toEqual([Status.ACCEPTED, 100, 7, 1, 1]);
  expect(maxBid(store, 7, 900)).toEqual([Status.ACCEPTED, 100, 7, 1, 0]);
  await store.close();

  // Unfolded: the raise is read back from the log.
  store = new SqliteStore({ path });
  expect(await store.getAuction(1)).toMatchObject({ seq: 1, amount: 100, leader: 7, top: 900 });
  expect(maxBid(store, 7, 1300)).toEqual([Status.ACCEPTED, 100, 7, 1, 0]);
  store.foldAll();
  await store.close();

  // Folded: the auction row holds it; the history holds the one step only.
  store = new SqliteStore({ path });
  try {
    expect(await store.getAuction(1)).toMatchObject({ seq: 1, amount: 100, leader: 7, top: 1300 });
    expect((await store.history(1, 0, 10)).map((e) => e.seq)).toEqual([1]);
    // And it answers: 8's maximum of 1200 is beaten by 1300, one increment above 1200.
    expect(maxBid(store, 8, 1200)).toEqual([Status.OUTBID, 1210, 7, 2, 1]);
  } finally {
    await store.close();
  }
});

test("a batch whose commit fails puts the hidden maximum back as the file has it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gavel-rollback-"));
  dirs.push(dir);
  const path = join(dir, "gavel.db");
  const now = Date.now();
  const apply = (store: SqliteStore, bids: [number, number][]) => {
    const batch = new BidBatch(bids.length);
    bids.forEach(([user, max], i) => {
      batch.auction[i] = 1;
      batch.user[i] = user;
      batch.amount[i] = max;
      batch.kind[i] = BidKind.MAX;
    });
    batch.count = bids.length;
    store.applyBids(batch);
    return bids.map((_, i) => [batch.status[i], batch.resultAmount[i], batch.resultLeader[i], batch.seq[i]]);
  };
  const store = new SqliteStore({ path, log: () => {} });
  try {
    await store.createAuction({ id: 1, title: "", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 3_600_000, antiSnipeMs: 0, maxEndsAt: 0 });
    expect(apply(store, [[7, 500]])).toEqual([[Status.ACCEPTED, 100, 7, 1]]);
    // Another connection makes the next log write fail (as a full disk would).
    const other = new Database(path);
    other.exec("CREATE TRIGGER refuse BEFORE INSERT ON bid_log BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
    // The leader raises to 5000 (no step), then 8's maximum is answered: both roll back.
    expect(() => apply(store, [[7, 5000], [8, 800]])).toThrow();
    other.exec("DROP TRIGGER refuse");
    other.close();
    expect(await store.getAuction(1)).toMatchObject({ seq: 1, amount: 100, leader: 7, top: 500 });
    // As the file has it: 8's maximum of 800 beats 500.
    expect(apply(store, [[8, 800]])).toEqual([[Status.ACCEPTED, 510, 8, 2]]);
  } finally {
    await store.close();
  }
});
