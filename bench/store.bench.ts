// The stores alone, without sockets: bids per second through applyBids in drain-sized
// batches over many auctions, bids that mostly win. `bun run bench/store.bench.ts [sqlite-path]`

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BidBatch } from "../src/queue/bid-batch.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";

const AUCTIONS = 1000;
const BATCH = 1024;
const SECONDS = Number(process.env.SECONDS ?? 3);

async function measure(name: string, store: Store): Promise<void> {
  const now = Date.now();
  for (let id = 1; id <= AUCTIONS; id++) {
    await store.createAuction({
      id, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0,
      startsAt: now - 1000, endsAt: now + 3_600_000, antiSnipeMs: 0, maxEndsAt: 0,
    });
  }
  const batch = new BidBatch(BATCH);
  let amount = 1;
  let bids = 0;
  const started = performance.now();
  while (performance.now() - started < SECONDS * 1000) {
    for (let i = 0; i < BATCH; i++) {
      batch.auction[i] = 1 + (i % AUCTIONS);
      batch.user[i] = 1 + (i % 97);
      batch.amount[i] = amount++;
    }
    batch.count = BATCH;
    await store.applyBids(batch);
    bids += BATCH;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${name.padEnd(28)} ${Math.round(bids / seconds).toLocaleString().padStart(12)} bids/s`);
  await store.close();
}

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), "gavel-store-bench-"));
try {
  await measure("memory", new MemoryStore());
  await measure(`sqlite (${dir})`, new SqliteStore({ path: join(dir, "gavel.db") }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
