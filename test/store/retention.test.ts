// GAVEL_RETENTION on the memory and SQLite stores: closed auctions whose ends_at is older than
// the retention disappear with their history (unknown from then on, as a 404 on the admin API),
// in steps off the bid path; open, scheduled and recently closed ones stay. Through a real
// server process too, with the admin API. Redis: test/store/redis-retention.test.ts.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { Status } from "../../src/protocol/constants.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { RETENTION_INTERVAL_MS } from "../../src/store/retention.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { runGavelExpectingFailure, spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const RETENTION_MS = MINUTE;
/** Old enough auctions: more than the retention step, so several steps are needed. */
const OLD = 600;
/** Long enough to create them all first, on a loaded machine. */
const ENDS_IN_MS = 4_000;
let dir = "";
let openStore: Store | null = null;
afterEach(async () => {
  await openStore?.close();
  openStore = null;
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
  dir = "";
});

function spec(id: number, fields: Partial<AuctionSpec>): AuctionSpec {
  const now = Date.now();
  return { id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 2 * HOUR, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields };
}

function bid(store: Store, auction: number, amount: number): number {
  const batch = new BidBatch(1);
  batch.auction[0] = auction;
  batch.user[0] = 9;
  batch.amount[0] = amount;
  batch.count = 1;
  void store.applyBids(batch);
  return batch.status[0]!;
}

const stores = {
  memory: () => new MemoryStore({ retentionMs: RETENTION_MS }),
  sqlite: () => {
    dir = mkdtempSync(join(tmpdir(), "gavel-retention-"));
    return new SqliteStore({ path: join(dir, "gavel.db"), retentionMs: RETENTION_MS });
  },
};

describe.each(Object.keys(stores) as (keyof typeof stores)[])("%s store: retention", (kind) => {
  test("closed auctions past the retention go, with their history; the rest stay", async () => {
    const store = (openStore = stores[kind]());
    const now = Date.now();
    const endsSoon = now + ENDS_IN_MS;
    // With bids, ending soon; aged below once closed.
    for (let id = 1; id <= OLD; id++) {
      await store.createAuction(spec(id, { endsAt: endsSoon }));
      expect(bid(store, id, 100 + id)).toBe(Status.ACCEPTED);
    }
    await store.createAuction(spec(OLD + 1, {})); // open
    await store.createAuction(spec(OLD + 2, { startsAt: now + HOUR, endsAt: now + 2 * HOUR })); // scheduled
    await store.createAuction(spec(OLD + 3, { endsAt: endsSoon })); // closes now, recently
    await Bun.sleep(endsSoon - Date.now() + 50);
    let closed = 0;
    for (let page; (page = await store.closeDue(1000)).length > 0; ) closed += page.length;
    expect(closed).toBe(OLD + 1);
    (store as unknown as { foldAll?(): void }).foldAll?.();
    // The clock moves on by the retention for the old ones only: their ends_at is rewritten
    // into the past the way an auction of last month's would be.
    expect((await store.getAuction(1))!.closed).toBe(true);
    await ageAuctions(store, kind, 1, OLD, RETENTION_MS + MINUTE);
    const deadline = Date.now() + 10 * RETENTION_INTERVAL_MS;
    while ((await store.getAuction(OLD)) !== null && Date.now() < deadline) await Bun.sleep(50);
    for (const id of [1, OLD / 2, OLD]) {
      expect(await store.getAuction(id)).toBeNull();
      expect(await store.history(id, 0, 10)).toEqual([]);
      expect(bid(store, id, 10_000)).toBe(Status.UNKNOWN);
    }
    expect((await store.listAuctions(null, 0, 1000)).map((a) => a.id)).toEqual([OLD + 1, OLD + 2, OLD + 3]);
    expect((await store.history(OLD + 3, 0, 10)).length).toBe(0);
    expect((await store.getAuction(OLD + 3))!.closed).toBe(true);
    await store.close();
  });
});

/**
 * Makes closed auctions `age` ms old: rewrites ends_at where each store keeps it (a test cannot
 * wait a minute per run; the retention step reads ends_at like any other value).
 */
async function ageAuctions(store: Store, kind: string, from: number, to: number, age: number) {
  const endsAt = Date.now() - age;
  if (kind === "memory") {
    const table = (store as unknown as { table: { auctions: Map<number, { endsAt: number }>; expiry: { push(e: number, id: number): void } } }).table;
    for (let id = from; id <= to; id++) {
      table.auctions.get(id)!.endsAt = endsAt;
      table.expiry.push(endsAt, id);
    }
  } else {
    const db = (store as unknown as { db: import("bun:sqlite").Database }).db;
    db.run("UPDATE auctions SET ends_at = ? WHERE id BETWEEN ? AND ?", [endsAt, from, to]);
  }
}

test("GAVEL_RETENTION: a bad value stops start-up naming it; a server with it answers 404 for an auction past it", async () => {
  for (const bad of ["30", "thirty days", "0d", "30s"]) {
    const { code, output } = await runGavelExpectingFailure({ GAVEL_STORE: "memory", GAVEL_RETENTION: bad });
    expect(code).not.toBe(0);
    expect(output).toContain("GAVEL_RETENTION");
  }
  dir = mkdtempSync(join(tmpdir(), "gavel-retention-server-"));
  const path = join(dir, "gavel.db");
  // An auction that ended two days ago, closed in the file: put there by a first server life.
  const old = new SqliteStore({ path });
  const twoDaysAgo = Date.now() - 2 * 24 * HOUR;
  await old.createAuction(spec(5, { startsAt: twoDaysAgo - HOUR, endsAt: twoDaysAgo }));
  await old.createAuction(spec(6, {}));
  expect((await old.closeDue(10)).map((c) => c.id)).toEqual([5]);
  await old.close();
  const server = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: path, GAVEL_RETENTION: "1d" });
  try {
    const deadline = Date.now() + 10 * RETENTION_INTERVAL_MS;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await fetch(`${server.httpUrl}/v1/auctions/5`)).status;
      if (status === 200) await Bun.sleep(100);
    }
    expect(status).toBe(404);
    expect((await fetch(`${server.httpUrl}/v1/auctions/5/bids`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/v1/auctions/6`)).status).toBe(200);
  } finally {
    await server.kill("SIGKILL");
  }
});
