// What only the SQLite store has to prove: it reopens to the same auctions and history, only
// one process may hold its file, and it stops writing when the file goes away under it.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { Status } from "../../src/protocol/constants.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { StoreError } from "../../src/store/errors.ts";
import { runGavelExpectingFailure, spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const dir = mkdtempSync(join(tmpdir(), "gavel-sqlite-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batchOf(bids: [number, number, number][]): BidBatch {
  const batch = new BidBatch(bids.length);
  bids.forEach(([auction, user, amount], i) => {
    batch.auction[i] = auction;
    batch.user[i] = user;
    batch.amount[i] = amount;
  });
  batch.count = bids.length;
  return batch;
}

describe("sqlite store", () => {
  test("reopening keeps auctions, seq, closing decisions and the history of every auction", async () => {
    const path = join(dir, "reopen.db");
    const store = new SqliteStore({ path });
    const now = Date.now();
    const spec = { title: "t", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 60_000, antiSnipeMs: 0, maxEndsAt: 0 };
    await store.createAuction({ ...spec, id: 1 });
    await store.createAuction({ ...spec, id: 2 });
    const bids: [number, number, number][] = [];
    for (let i = 0; i < 300; i++) bids.push([1 + (i % 2), 1 + (i % 5), 10 + i]);
    const batch = batchOf(bids);
    store.applyBids(batch);
    expect([...batch.status].every((s) => s === Status.ACCEPTED)).toBe(true);
    const before = [await store.history(1, 0, 1000), await store.history(2, 0, 1000)];
    await store.cancel(2);
    await store.close();

    const reopened = new SqliteStore({ path });
    expect(await reopened.getAuction(1)).toMatchObject({ seq: 150, amount: 10 + 298, closed: false });
    expect(await reopened.getAuction(2)).toMatchObject({ seq: 150, closed: true, winner: 0 });
    expect([await reopened.history(1, 0, 1000), await reopened.history(2, 0, 1000)]).toEqual(before);
    expect((await reopened.historyNewestFirst(1, 151, 3)).map((e) => e.seq)).toEqual([150, 149, 148]);
    // New bids continue the same sequence after the restart.
    const more = batchOf([[1, 9, 5000]]);
    reopened.applyBids(more);
    expect(more.seq[0]).toBe(151);
    expect((await reopened.history(1, 150, 10)).map((e) => [e.seq, e.amount, e.user])).toEqual([[151, 5000, 9]]);
    await reopened.close();
  });

  test("a second store on the same file is refused with a message naming GAVEL_DB", async () => {
    const path = join(dir, "locked.db");
    const first = new SqliteStore({ path });
    expect(() => new SqliteStore({ path })).toThrow(StoreError);
    expect(() => new SqliteStore({ path })).toThrow("GAVEL_DB");
    await first.close();
    // Released at close: the file can be opened again.
    const again = new SqliteStore({ path });
    await again.close();
  });

  test("a second server process on the same file stops at start-up, naming GAVEL_DB and the owner", async () => {
    const path = join(dir, "owned.db");
    const owner = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: path });
    try {
      const second = await runGavelExpectingFailure({ GAVEL_STORE: "sqlite", GAVEL_DB: path });
      expect(second.code).not.toBe(0);
      expect(second.output).toContain("GAVEL_DB");
      expect(second.output).toContain(`process ${owner.proc.pid}`);
    } finally {
      await owner.kill("SIGKILL");
    }
    // The owner is gone (killed: the kernel dropped its lock): a new server takes the file over.
    const next = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: path });
    // An answer proves start-up ran to its end, signal handlers included: the listening line is
    // printed just before they are installed, and a SIGTERM in between kills with status 143.
    expect((await fetch(`${next.httpUrl}/healthz`)).status).toBe(200);
    expect(await next.kill("SIGTERM")).toBe(0);
  });

  test("under steady writes the WAL stays bounded and is checkpointed away at close", async () => {
    const path = join(dir, "wal.db");
    const store = new SqliteStore({ path });
    const now = Date.now();
    for (let id = 1; id <= 100; id++) {
      await store.createAuction({ id, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 600_000, antiSnipeMs: 0, maxEndsAt: 0 });
    }
    const batch = new BidBatch(1024);
    let amount = 1;
    let largestWal = 0;
    // ~110 MB of log: past the 64 MiB point where the checkpoint worker starts the WAL over.
    for (let round = 0; round < 3000; round++) {
      for (let i = 0; i < 1024; i++) {
        batch.auction[i] = 1 + (i % 100);
        batch.user[i] = 3;
        batch.amount[i] = amount++;
      }
      batch.count = 1024;
      store.applyBids(batch);
      if (round % 50 === 0) {
        largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
        await Bun.sleep(1); // a server's event loop has gaps between batches; the worker uses them
      }
    }
    expect(largestWal).toBeLessThan(100 * 1024 * 1024);
    expect((await store.getAuction(1))!.seq).toBe(3000 * Math.ceil(1024 / 100)); // auction 1 takes bids 0, 100, ..., 1000 of each batch
    await store.close();
    expect(existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0).toBe(0);
  });
});

describe("sqlite store: a batch whose commit fails", () => {
  test("is UNAVAILABLE as a whole and leaves auctions and history as the file has them", async () => {
    const lines: string[] = [];
    const store = new SqliteStore({ path: join(dir, "rollback.db"), log: (line) => lines.push(line) });
    const now = Date.now();
    const spec = { title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 60_000, antiSnipeMs: 60_000, maxEndsAt: 0 };
    await store.createAuction({ ...spec, id: 1 });
    await store.createAuction({ ...spec, id: 2 });
    store.applyBids(batchOf([[1, 1, 10], [1, 2, 20]]));
    const before = [await store.getAuction(1), await store.getAuction(2), await store.history(1, 0, 10)];

    // Make the next log row's id collide with the last one: the INSERT, and so the commit, fails.
    const internals = store as unknown as { lastLogRow: number };
    internals.lastLogRow -= 1;
    expect(() => store.applyBids(batchOf([[1, 3, 30], [2, 3, 5], [1, 4, 40]]))).toThrow();
    expect([await store.getAuction(1), await store.getAuction(2), await store.history(1, 0, 10)]).toEqual(before);
    expect(store.unavailableReason()).toContain("UNIQUE constraint failed");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith("gavel: error: cannot write the SQLite database");
    internals.lastLogRow += 1;

    // The next batch continues from the state before the failed one.
    const next = batchOf([[1, 5, 50], [2, 5, 7]]);
    store.applyBids(next);
    expect([next.seq[0], next.seq[1]]).toEqual([3, 1]);
    expect((await store.history(1, 0, 10)).map((e) => e.amount)).toEqual([10, 20, 50]);
    expect(store.unavailableReason()).toBeNull();
    expect(lines[1]).toContain("takes writes again");
    await store.close();
  });
});

describe("sqlite store: its file deleted under it", () => {
  test("unavailableReason says so within a second, writes throw, and close does not throw", async () => {
    const path = join(dir, "gone.db");
    const lines: string[] = [];
    const store = new SqliteStore({ path, log: (line) => lines.push(line) });
    const now = Date.now();
    await store.createAuction({ id: 1, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 60_000, antiSnipeMs: 0, maxEndsAt: 0 });
    expect(store.unavailableReason()).toBeNull();
    rmSync(path);
    const deadline = Date.now() + 1_000;
    while (store.unavailableReason() === null && Date.now() < deadline) await Bun.sleep(20);
    expect(store.unavailableReason()).toContain("was deleted");
    expect(() => store.applyBids(batchOf([[1, 1, 10]]))).toThrow(StoreError);
    expect(store.createAuction({ id: 2, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: now, endsAt: now + 60_000, antiSnipeMs: 0, maxEndsAt: 0 })).rejects.toThrow("was deleted");
    await store.close();
    expect(lines.filter((line) => line.startsWith("gavel: error:"))).toHaveLength(1);
  });
});
