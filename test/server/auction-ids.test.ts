// Generated auction ids stay within the wire's u32 (1..2^32-1) on the in-process stores, over
// the admin API: past the top they wrap to the first free id; none free is a 503.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { startServer } from "../../src/server.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { startGavel } from "../support/gavel.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const MAX_U32 = 0xffff_ffff;
const SMALL_ID_SPACE = 3;
const IN_PROCESS_KINDS = ["memory", "sqlite"] as const;

const dir = mkdtempSync(join(tmpdir(), "gavel-ids-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function create(httpUrl: string, fields: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000, ...fields }) });
}

async function createdId(httpUrl: string, fields: Record<string, unknown> = {}): Promise<number> {
  const response = await create(httpUrl, fields);
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

describe.each(IN_PROCESS_KINDS)("generated auction ids (%s)", (kind) => {
  test("after an auction with id 2^32-1, ids wrap to the next free one, and each can be read", async () => {
    const gavel = await startGavel(kind);
    try {
      expect(await createdId(gavel.httpUrl)).toBe(1);
      expect(await createdId(gavel.httpUrl, { id: MAX_U32 })).toBe(MAX_U32);
      expect(await createdId(gavel.httpUrl, { id: 3 })).toBe(3);
      const generated = [await createdId(gavel.httpUrl), await createdId(gavel.httpUrl), await createdId(gavel.httpUrl)];
      expect(generated).toEqual([2, 4, 5]);
      for (const id of [1, 3, ...generated, MAX_U32]) expect((await fetch(`${gavel.httpUrl}/v1/auctions/${id}`)).status).toBe(200);
    } finally {
      await gavel.dispose();
    }
  });

  test("with every id taken, a create without an id is a 503 naming the exhausted ids, and nothing is created", async () => {
    const store: Store =
      kind === "memory" ? new MemoryStore({ maxAuctionId: SMALL_ID_SPACE }) : new SqliteStore({ path: join(dir, "exhausted.db"), maxAuctionId: SMALL_ID_SPACE });
    const server = await startServer(loadConfig({ GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", GAVEL_STORE: kind }), store);
    const httpUrl = `http://127.0.0.1:${server.httpPort}`;
    try {
      expect(await createdId(httpUrl, { id: 2 })).toBe(2);
      expect([await createdId(httpUrl), await createdId(httpUrl)]).toEqual([3, 1]);
      const refused = await create(httpUrl);
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: string }).error).toStartWith("auction ids exhausted");
      // Nothing was created by the refusal, and the table still serves.
      expect((await fetch(`${httpUrl}/v1/auctions/4`)).status).toBe(404);
      expect((await fetch(`${httpUrl}/v1/auctions?limit=10`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
