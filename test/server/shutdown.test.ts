// SIGTERM: stop accepting, answer every request already received, close the store, exit 0.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBid, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, Status } from "../../src/protocol/constants.ts";
import { connectRaw } from "../support/raw-client.ts";
import { spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

describe("graceful shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} mid-stream: every request read gets its reply, then exit 0`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "gavel-stop-"));
      try {
        const node = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") });
        const created = await fetch(`${node.httpUrl}/v1/auctions`, {
          method: "POST",
          body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }),
        });
        const auction = (await created.json()) as { id: number };
        const client = await connectRaw(node.port);
        const count = 20_000;
        const bytes = new Uint8Array(count * BID_FRAME_SIZE);
        let offset = 0;
        for (let i = 0; i < count; i++) offset = encodeBid(bytes, offset, i + 1, auction.id, 7, 100 + i);
        client.send(bytes);
        await client.waitFor(1);
        const exitCode = await node.kill(signal);
        await client.closed;

        expect(exitCode).toBe(0);
        const replies = client.frames as Extract<Frame, { req: number }>[];
        const reqs = replies.map((f) => f.req);
        // Exactly one reply per request the server read, and no request answered twice.
        expect(new Set(reqs).size).toBe(reqs.length);
        for (const frame of client.frames) {
          const ok =
            (frame.type === FrameType.RESULT && frame.status === Status.ACCEPTED) ||
            (frame.type === FrameType.ERROR && frame.code === ErrorCode.SHUTTING_DOWN);
          expect(ok).toBe(true);
        }
        // Requests are read in order, so the answered ones are a prefix 1..n.
        expect(Math.max(...reqs)).toBe(reqs.length);
        expect(node.output()).toContain("stopped");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
