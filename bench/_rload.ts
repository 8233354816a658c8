import { RedisGrowthStore } from "./growth/redis-loader.ts";
const s = await RedisGrowthStore.start();
await s.load({ auctions: Number(process.argv[2] ?? 100000), closedFraction: 0.9, bidsPer: 5, now: Date.now() });
console.log(JSON.stringify(s.serverEnv()));
await Bun.sleep(1e9);
