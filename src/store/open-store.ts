// Chooses and opens the store the configuration names.

import type { Config } from "../config.ts";
import { MemoryStore } from "./memory.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

export async function openStore(config: Config): Promise<Store> {
  switch (config.store) {
    case "memory":
      return new MemoryStore();
    case "sqlite":
      return new SqliteStore({ path: config.dbPath });
    case "redis": {
      const { RedisStore } = await import("./redis.ts");
      return RedisStore.connect({ url: config.redisUrl, shards: config.redisShards });
    }
  }
}
