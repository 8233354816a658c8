// What closing an auction costs Redis: creates --auctions auctions on a throwaway redis-server,
// lets them end, runs the closing step until nothing is due, and prints Redis's own time in
// lua/close.lua per closed auction (INFO commandstats) beside the wall time, --rounds times.
// Run alone: bun run bench/redis-close-cost.ts [--auctions 20000] [--rounds 3]

import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import type { AuctionSpec } from "../src/auction/auction.ts";
import { CLOSE_PAGE } from "../src/auction/closer.ts";
import { RedisStore } from "../src/store/redis.ts";
import { spawnRedis } from "./load/spawn.ts";

const { values } = parseArgs({ options: { auctions: { type: "string", default: "20000" }, rounds: { type: "string", default: "3" } } });
const AUCTIONS = Number(values.auctions);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(AUCTIONS) || AUCTIONS < 1) throw new Error("--auctions must be a positive integer");
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error("--rounds must be a positive integer");
/** Creates in flight at once. */
const CREATE_CONCURRENCY = 500;
/** How long after the creates the auctions end: enough for the creates of a round. */
const ENDS_AFTER_MS = 1_500;

const redis = await spawnRedis();
const admin = new Redis(redis.url);
try {
  for (let round = 0; round < ROUNDS; round++) {
    await admin.flushall();
    const store = await RedisStore.connect({ url: redis.url });
    const endsAt = store.now() + ENDS_AFTER_MS;
    const spec = (id: number): AuctionSpec => ({
      id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0,
      startsAt: endsAt - 60_000, endsAt, antiSnipeMs: 0, maxEndsAt: 0,
    });
    for (let i = 0; i < AUCTIONS; i += CREATE_CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, AUCTIONS - i) }, (_, k) => store.createAuction(spec(1 + i + k))));
    }
    await Bun.sleep(Math.max(0, endsAt + 100 - store.now()));
    await admin.config("RESETSTAT");
    const t0 = performance.now();
    let closed = 0;
    for (let page; (page = await store.closeDue(CLOSE_PAGE)).length > 0; ) closed += page.length;
    const wallMs = performance.now() - t0;
    const stats = /cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await admin.info("commandstats"));
    const redisUs = Number(stats?.[1] ?? NaN);
    console.log(
      `round ${round + 1}: ${closed} closed in ${wallMs.toFixed(0)} ms, ${(redisUs / 1000).toFixed(0)} ms of it in close.lua: ` +
        `${(redisUs / closed).toFixed(1)} us of Redis time per closed auction`,
    );
    await store.close();
  }
} finally {
  admin.disconnect();
  await redis.stop();
}
