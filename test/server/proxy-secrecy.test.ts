// The maximum stays secret: a proxy-heavy session over real sockets, on every store, then every
// output is scanned for the maxima used: each RESULT, UPDATE, STATE and CLOSED received (the
// bidders', a subscriber's with a full replay, QUERY's), the admin API (the auction, the
// listing, every page of the bid history), /metrics, and the server's own output at debug level.
//
// The maxima cannot equal a visible price by construction (the contract allows a price to equal
// a maximum on a tie, or when one increment would pass it): with an increment of 10, maxima end
// in 007 (thousands apart, never tied), plain bids in 500, the starting price in 000 and the
// reserve in 300; a visible price is one of those, or a maximum plus 10 (ending in 017).

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoreKind } from "../../src/config.ts";
import { FrameType, Status } from "../../src/protocol/constants.ts";
import type { Frame } from "../../src/protocol/codec.ts";
import { frames } from "../support/frames.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { STORE_KINDS } from "../support/stores.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const USERS = 6;
const ROUNDS = 12;
const INCREMENT = 10;
const ENDS_IN_MS = 6_000;
const WAIT_MS = 15_000;

/** A maximum no visible price can equal: thousands apart, ending in 007, distinct per (round, user). */
function maximum(round: number, user: number): number {
  return 7_300_000_007 + (round * USERS + user) * 13_000;
}
/** A plain bid: ends in 500, so it never lands on (or one increment below) a maximum. */
function plainBid(round: number): number {
  return 1_000_000_500 + round * 400_000_000;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNode(kind: StoreKind): Promise<GavelProcess> {
  const dir = mkdtempSync(join(tmpdir(), "gavel-secrecy-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const env: Record<string, string> = { GAVEL_STORE: kind, GAVEL_DB: join(dir, "gavel.db"), GAVEL_LOG_LEVEL: "debug", GAVEL_LOG_FORMAT: "json", GAVEL_CLOSE_INTERVAL_MS: "100" };
  if (kind === "redis") {
    const redis: RedisHandle = await startRedis();
    cleanups.push(() => redis.stop());
    env.REDIS_URL = redis.url;
  }
  const node = await spawnGavel(env);
  cleanups.push(() => node.kill("SIGKILL"));
  return node;
}

/** Every decimal and hexadecimal spelling of a maximum found in `text`. */
function leaks(text: string, maxima: number[]): string[] {
  const found: string[] = [];
  for (const m of maxima) for (const spelling of [String(m), m.toString(16), (m / 100).toFixed(2)]) if (text.includes(spelling)) found.push(spelling);
  return found;
}

/** Every number a frame carries, as text (so a maximum in any field is found). */
function frameText(received: Frame[]): string {
  return JSON.stringify(received);
}

for (const kind of STORE_KINDS) {
  describe(`no output carries a maximum (${kind} store)`, () => {
    test("RESULT, UPDATE, STATE, CLOSED, the admin API, the bid history, /metrics and debug logs", async () => {
      const node = await startNode(kind);
      const create = await fetch(`${node.httpUrl}/v1/auctions`, {
        method: "POST",
        body: JSON.stringify({ title: "secret maxima", starting_price: 1_000_000_000, min_increment: INCREMENT, reserve: 5_000_000_300, ends_at: Date.now() + ENDS_IN_MS, anti_snipe_ms: 1_000 }),
      });
      expect(create.status).toBe(201);
      const auction = ((await create.json()) as { id: number }).id;

      const watcher: RawClient = await connectRaw(node.port);
      cleanups.push(() => watcher.close());
      watcher.send(frames().subscribe(1, auction, 0).bytes());
      await watcher.waitFor(1, WAIT_MS);

      const bidders: RawClient[] = [];
      for (let u = 0; u < USERS; u++) {
        const client = await connectRaw(node.port);
        cleanups.push(() => client.close());
        bidders.push(client);
      }
      const maxima: number[] = [];
      let req = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Most users leave a maximum, one bids plainly: steps come from maxima answering too.
        for (let u = 0; u < USERS; u++) {
          const bidder = bidders[u]!;
          const sent = bidder.frames.length;
          if (u === round % USERS) bidder.send(frames().bid(++req, auction, u + 1, plainBid(round)).query(++req, auction).bytes());
          else {
            const m = maximum(round, u);
            maxima.push(m);
            bidder.send(frames().maxBid(++req, auction, u + 1, m).query(++req, auction).bytes());
          }
          await bidder.waitFor(sent + 2, WAIT_MS);
        }
      }
      const results = bidders.flatMap((b) => b.frames).filter((f) => f.type === FrameType.RESULT);
      // The session did what it is meant to: maxima led, and maxima answered (OUTBID steps).
      expect(results.some((f) => f.type === FrameType.RESULT && f.status === Status.OUTBID && f.amount > 0)).toBe(true);
      expect(results.some((f) => f.type === FrameType.RESULT && f.status === Status.ACCEPTED)).toBe(true);

      // The close: CLOSED to the watcher, then a late subscriber's full replay.
      const deadline = Date.now() + WAIT_MS;
      while (!watcher.frames.some((f) => f.type === FrameType.CLOSED)) {
        if (Date.now() > deadline) throw new Error("no CLOSED");
        await Bun.sleep(50);
      }
      const late = await connectRaw(node.port);
      cleanups.push(() => late.close());
      late.send(frames().subscribe(1, auction, 0).query(2, auction).bytes());
      const updates = watcher.frames.filter((f) => f.type === FrameType.UPDATE);
      await late.waitFor(updates.length + 3, WAIT_MS);
      expect(updates.length).toBeGreaterThan(ROUNDS);

      const http: string[] = [];
      const read = async (path: string) => {
        const response = await fetch(`${node.httpUrl}${path}`);
        const body = await response.text();
        http.push(body);
        return body;
      };
      await read(`/v1/auctions/${auction}`);
      await read(`/v1/auctions?phase=closed`);
      await read(`/v1/auctions`);
      await read(`/metrics`);
      let page: string | null = `/v1/auctions/${auction}/bids?limit=7`;
      let steps = 0;
      while (page !== null) {
        const body = JSON.parse(await read(page)) as { bids: { by: string }[]; next: string | null };
        steps += body.bids.length;
        page = body.next;
      }
      expect(steps).toBe(updates.length);
      expect(http.join("\n")).toContain('"by":"max"');
      // Let the process write what it logs for the close before its output is read.
      await Bun.sleep(300);
      const outputs = {
        frames: frameText([...bidders.flatMap((b) => b.frames), ...watcher.frames, ...late.frames]),
        http: http.join("\n"),
        logs: node.output(),
      };
      expect(outputs.logs.length).toBeGreaterThan(0);
      for (const [where, text] of Object.entries(outputs)) expect({ where, leaks: leaks(text, maxima) }).toEqual({ where, leaks: [] });
      // And the scan can see: the maxima's visible neighbours (a maximum plus 10) are there.
      expect(outputs.frames.includes(String(maxima.at(-2)! + INCREMENT)) || outputs.frames.includes(String(maxima.at(-1)! + INCREMENT))).toBe(true);
    });
  });
}
