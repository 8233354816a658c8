// The stores alone, without sockets: bids per second through applyBids in drain-sized
// batches over many auctions, bids that mostly win.
//   bun run bench/store.bench.ts [dir-for-sqlite]        memory and SQLite
//   REDIS_URL=redis://127.0.0.1:6379 bun run bench/store.bench.ts   adds Redis (a fresh one: it is flushed)
// Redis gets IN_FLIGHT batches at once, as the server's drain does.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BidBatch } from "../src/queue/bid-batch.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { RedisStore } from "../src/store/redis.ts";
import type { Store } from "../src/store/store.ts";

const AUCTIONS = 1000;
const BATCH = Number(process.env.BATCH ?? 1024);
const SECONDS = Number(process.env.SECONDS ?? 3);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 8);

async function measure(name: string, store: Store): Promise<void> {
  const now = Date.now();
  for (let id = 1; id <= AUCTIONS; id++) {
    await store.createAuction({
      id, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0,
      startsAt: now - 1000, endsAt: now + 3_600_000, antiSnipeMs: 0, maxEndsAt: 0,
    });
  }
  let amount = 1;
  let bids = 0;
  let accepted = 0;
  const started = performance.now();
  const lane = async () => {
    const batch = new BidBatch(BATCH);
    while (performance.now() - started < SECONDS * 1000) {
      for (let i = 0; i < BATCH; i++) {
        batch.auction[i] = 1 + (i % AUCTIONS);
        batch.user[i] = 1 + (i % 97);
        batch.amount[i] = amount++;
      }
      batch.count = BATCH;
      await store.applyBids(batch);
      for (let i = 0; i < BATCH; i++) if (batch.status[i] === 0) accepted++;
      bids += BATCH;
    }
  };
  await Promise.all(Array.from({ length: store.kind === "redis" ? IN_FLIGHT : 1 }, lane));
  const seconds = (performance.now() - started) / 1000;
  console.log(`${name.padEnd(28)} ${Math.round(bids / seconds).toLocaleString().padStart(12)} bids/s  (${Math.round((100 * accepted) / bids)}% accepted)`);
  await store.close();
}

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), "gavel-store-bench-"));
try {
  const only = process.env.STORES?.split(",");
  if (!only || only.includes("memory")) await measure("memory", new MemoryStore());
  if (!only || only.includes("sqlite")) await measure(`sqlite (${dir})`, new SqliteStore({ path: join(dir, "gavel.db") }));
  if (process.env.REDIS_URL) {
    const redis = await RedisStore.connect({ url: process.env.REDIS_URL });
    await measure(`redis (${process.env.REDIS_URL})`, redis);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
