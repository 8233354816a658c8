// GAVEL_WORKERS: several server processes on one port, sharing one Redis.

import { describe, expect, test } from "bun:test";
import { GavelClient } from "../../src/client/index.ts";
import { Status } from "../../src/protocol/constants.ts";
import { startRedis } from "../support/redis.ts";
import { runGavelExpectingFailure, spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

describe("GAVEL_WORKERS", () => {
  test("two workers share the ports and the bids; SIGTERM stops both, exit 0", async () => {
    const redis = await startRedis();
    const port = freePort();
    const httpPort = freePort();
    const node = await spawnGavel({ REDIS_URL: redis.url, GAVEL_WORKERS: "2", GAVEL_PORT: String(port), GAVEL_HTTP_PORT: String(httpPort) });
    try {
      // Wait for both workers' start-up lines.
      const deadline = Date.now() + 20_000;
      while ((node.output().match(/listening on/g) ?? []).length < 2 && Date.now() < deadline) await Bun.sleep(20);
      expect((node.output().match(/listening on/g) ?? []).length).toBe(2);

      // Fresh connections land on both processes.
      const pids = new Set<number>();
      for (let i = 0; i < 40 && pids.size < 2; i++) {
        const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`, { headers: { connection: "close" } })).json()) as { pid: number };
        pids.add(health.pid);
      }
      expect(pids.size).toBe(2);

      const created = await fetch(`http://127.0.0.1:${httpPort}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 60_000 }) });
      const auction = (await created.json()) as { id: number };
      const clients = await Promise.all(Array.from({ length: 8 }, () => GavelClient.connect({ port })));
      const results = await Promise.all(clients.flatMap((client, c) => Array.from({ length: 50 }, (_, i) => client.bid(auction.id, c + 1, 100 + i * 8 + c))));
      const accepted = results.filter((r) => r.status === Status.ACCEPTED);
      const state = (await (await fetch(`http://127.0.0.1:${httpPort}/v1/auctions/${auction.id}`)).json()) as { seq: number; amount: number };
      expect(state.seq).toBe(accepted.length);
      expect(state.amount).toBe(Math.max(...accepted.map((r) => r.amount)));
      for (const client of clients) await client.close();

      expect(await node.kill("SIGTERM")).toBe(0);
    } finally {
      node.proc.kill("SIGKILL");
      await redis.stop();
    }
  });

  test("more than one worker needs Redis and fixed ports", async () => {
    const sqlite = await runGavelExpectingFailure({ GAVEL_WORKERS: "2", GAVEL_STORE: "sqlite" });
    expect(sqlite.code).toBe(2);
    expect(sqlite.output).toContain("GAVEL_WORKERS");
    const zeroPort = await runGavelExpectingFailure({ GAVEL_WORKERS: "2", REDIS_URL: "redis://127.0.0.1:1" });
    expect(zeroPort.code).toBe(2);
    expect(zeroPort.output).toContain("fixed ports");
  });
});
