// A Gavel server on a given store kind for server tests, with its own Redis when needed.

import type { StoreKind } from "../../src/config.ts";
import { startRedis, type RedisHandle } from "./redis.ts";
import { startTestServer, type TestServer } from "./server.ts";

export interface GavelFixture extends TestServer {
  redis: RedisHandle | null;
  dispose(): Promise<void>;
}

export async function startGavel(kind: StoreKind, env: Record<string, string> = {}): Promise<GavelFixture> {
  const redis = kind === "redis" ? await startRedis() : null;
  const server = await startTestServer({ store: kind, redisUrl: redis?.url, env });
  return {
    ...server,
    redis,
    async dispose() {
      await server.stop();
      await redis?.stop();
    },
  };
}
