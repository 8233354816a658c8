// Starts a real Gavel server (in this process, real sockets) on free ports for a test.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type StoreKind } from "../../src/config.ts";
import { startServer, type GavelServer } from "../../src/server.ts";

export interface TestServerOptions {
  store: StoreKind;
  redisUrl?: string;
  /** Extra settings, as environment variables. */
  env?: Record<string, string>;
}

export interface TestServer {
  server: GavelServer;
  port: number;
  httpUrl: string;
  stop(): Promise<void>;
  /** Creates an auction through the admin API; returns its JSON. */
  createAuction(fields: Record<string, unknown>): Promise<Record<string, unknown> & { id: number }>;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "gavel-test-"));
  const config = loadConfig({
    GAVEL_PORT: "0",
    GAVEL_HTTP_PORT: "0",
    GAVEL_STORE: options.store,
    GAVEL_DB: join(dir, "gavel.db"),
    // In-process servers share the test runner's output: only warnings and errors, unless a
    // test asks for more.
    GAVEL_LOG_LEVEL: "warn",
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  });
  const server = await startServer(config);
  const httpUrl = `http://127.0.0.1:${server.httpPort}`;
  return {
    server,
    port: server.port,
    httpUrl,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async createAuction(fields) {
      const response = await fetch(`${httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(fields) });
      const body = (await response.json()) as Record<string, unknown> & { id: number };
      if (response.status !== 201) throw new Error(`create auction: ${response.status} ${JSON.stringify(body)}`);
      return body;
    },
  };
}

/** An auction open now for an hour, with the given overrides. */
export function openAuction(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { ends_at: Date.now() + 3_600_000, ...fields };
}
