// The stores every contract test runs against: memory, SQLite, a real Redis, and (for the store
// contract) a real Redis Cluster of 3 masters and 3 replicas.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "../../src/store/memory.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { RedisStore } from "../../src/store/redis.ts";
import type { Store } from "../../src/store/store.ts";
import type { StoreKind } from "../../src/config.ts";
import { startRedis, type RedisHandle } from "./redis.ts";
import { startRedisCluster } from "./redis-cluster.ts";

export const STORE_KINDS: readonly StoreKind[] = ["memory", "sqlite", "redis"];

/** The stores the store-level contract runs against: every kind, and Redis as a Cluster. */
export type TestStoreKind = StoreKind | "redis-cluster";
export const CONTRACT_STORE_KINDS: readonly TestStoreKind[] = [...STORE_KINDS, "redis-cluster"];

export interface StoreFixture {
  store: Store;
  /** Closes the store and removes what it left behind. */
  dispose(): Promise<void>;
}

/** Opens a fresh, empty store of the given kind (Redis: its own redis-server). */
export async function openTestStore(kind: TestStoreKind): Promise<StoreFixture> {
  switch (kind) {
    case "memory": {
      const store = new MemoryStore();
      return { store, dispose: () => store.close() };
    }
    case "sqlite": {
      const dir = mkdtempSync(join(tmpdir(), "gavel-sqlite-"));
      const store = new SqliteStore({ path: join(dir, "gavel.db") });
      return {
        store,
        async dispose() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    case "redis": {
      const redis: RedisHandle = await startRedis();
      const store = await RedisStore.connect({ url: redis.url });
      return {
        store,
        async dispose() {
          await store.close();
          await redis.stop();
        },
      };
    }
    case "redis-cluster": {
      const cluster = await startRedisCluster();
      const store = await RedisStore.connect({ url: cluster.url });
      return {
        store,
        async dispose() {
          await store.close();
          await cluster.stop();
        },
      };
    }
  }
}
