// A mass close must not stall the server: 50,000 auctions ending in the same second close on
// time (their CLOSED reaches a subscriber within about a second of ends_at) while another
// connection's PINGs and BIDs, sent every 10 ms, keep being answered promptly. The closer pops
// only what is due (src/auction/ends-heap.ts) and works in slices that give the event loop back.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import { decodeFrame } from "../../src/protocol/codec.ts";
import { FrameType } from "../../src/protocol/constants.ts";
import { frames } from "../support/frames.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { subscribe } from "../support/subscriber.ts";

/**
 * Auctions ending in the same second. The 50,000-auction figure is measured by bench/growth.ts;
 * this test proves the behaviour at a size a loaded CI machine closes well within the bounds.
 */
const ENDING = 10_000;
/** Auctions that stay open through the close (bid on by the pinger). */
const STAYING_OPEN = 5_000;
/** Admin requests in flight while creating. */
const CREATE_CONCURRENCY = 48;
const PING_EVERY_MS = 10;
/** The goal; a CLOSED later than this is counted and reported. */
const CLOSED_WITHIN_MS = 1_000;
/** The asserted bounds: generous (a test on a shared machine, not a benchmark). */
const CLOSED_LATE_BOUND_MS = 3_000;
/**
 * What the close may add to the round trips the machine gives anyway: the bound is this plus
 * the largest round trip of an equal quiet window before the close (a shared machine's own
 * stalls are not the server's). It catches a frozen event loop (a close done in one piece
 * froze it for seconds), not a slow one: with two test runs sharing two cores, one stall of
 * 0.55 s was seen during a close that otherwise kept p99 at 46 ms.
 */
const ROUND_TRIP_BOUND_MS = 1_000;
/** The quiet window before the first ends_at. */
const BASELINE_MS = 2_000;
const TEST_TIMEOUT_MS = 240_000;

let server: GavelProcess | null = null;
let dir = "";
afterEach(async () => {
  await server?.kill("SIGKILL");
  server = null;
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
  dir = "";
});

async function createMany(httpUrl: string, count: number, body: (i: number) => Record<string, unknown>): Promise<number[]> {
  const ids: number[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const response = await fetch(`${httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(body(i)) });
      if (response.status !== 201) throw new Error(`create answered ${response.status}: ${await response.text()}`);
      ids[i] = ((await response.json()) as { id: number }).id;
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
  return ids;
}

/** Sends a PING and a BID every PING_EVERY_MS and records each answer's round trip. */
async function startPinger(port: number, auction: number) {
  const sentAt = new Map<number, number>();
  /** Each answer's round trip and when it came (ms since the epoch). */
  const roundTrips: number[] = [];
  const answeredAt: number[] = [];
  const assembler = new FrameAssembler((type, bytes, payload, length) => {
    const frame = decodeFrame(type, bytes, payload, length);
    if (frame !== null && (frame.type === FrameType.PONG || frame.type === FrameType.RESULT)) {
      const at = sentAt.get(frame.req);
      if (at !== undefined) {
        roundTrips.push(performance.now() - at);
        answeredAt.push(Date.now());
      }
      sentAt.delete(frame.req);
    }
    return true;
  });
  const socket: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: { binaryType: "uint8array", data(_s, chunk: Uint8Array) {
        assembler.push(chunk);
      } },
  });
  let req = 0;
  let amount = 1_000;
  const timer = setInterval(() => {
    const now = performance.now();
    sentAt.set(++req, now);
    const ping = req;
    sentAt.set(++req, now);
    socket.write(frames().ping(ping).bid(req, auction, 7, (amount += 10)).bytes());
  }, PING_EVERY_MS);
  return {
    roundTrips,
    /** The largest round trip answered in [from, to). */
    maxBetween(from: number, to: number): number {
      let max = 0;
      answeredAt.forEach((at, i) => {
        if (at >= from && at < to) max = Math.max(max, roundTrips[i]!);
      });
      return max;
    },
    /** Requests sent and not answered yet. */
    unanswered: () => sentAt.size,
    stop() {
      clearInterval(timer);
      socket.end();
    },
  };
}

describe.each(["memory", "sqlite"] as const)("%s store: a mass close", (kind) => {
  test(
    `${ENDING} auctions ending in the same second close on time while PINGs and BIDs are answered`,
    async () => {
      dir = mkdtempSync(join(tmpdir(), "gavel-mass-close-"));
      server = await spawnGavel({ GAVEL_STORE: kind, GAVEL_DB: join(dir, "gavel.db"), GAVEL_MAX_SUBSCRIPTIONS: String(ENDING) });
      const farEnd = Date.now() + 3_600_000;
      const open = await createMany(server.httpUrl, STAYING_OPEN, () => ({ ends_at: farEnd }));

      // Ends far enough ahead for the creation to finish first (measured on the first batch).
      const probeStart = Date.now();
      const probe = await createMany(server.httpUrl, 1_000, () => ({ ends_at: farEnd }));
      const perAuctionMs = (Date.now() - probeStart) / probe.length;
      const endsAt = Date.now() + Math.ceil(perAuctionMs * ENDING * 2) + 5_000;
      // Spread over one second, as a real wave of auctions ending "at 12:00" would be.
      const ending = await createMany(server.httpUrl, ENDING, (i) => ({ ends_at: endsAt + (i % 1000) }));
      const endsAtOf = new Map(ending.map((id, i) => [id, endsAt + (i % 1000)]));
      expect(Date.now()).toBeLessThan(endsAt - 1_000);

      const subscriber = await subscribe(server.port, ending);
      const closedAt = new Map<number, number>();
      let seen = 0;
      const watch = setInterval(() => {
        // Frames are appended as they arrive; timestamp the new CLOSEDs (every 5 ms: a 5 ms error).
        const all = subscriber.client.frames;
        for (; seen < all.length; seen++) {
          const frame = all[seen]!;
          if (frame.type === FrameType.CLOSED && !closedAt.has(frame.auction)) closedAt.set(frame.auction, Date.now());
        }
      }, 5);
      const pinger = await startPinger(server.port, open[0]!);
      expect(Date.now()).toBeLessThan(endsAt - BASELINE_MS);
      while (Date.now() < endsAt) await Bun.sleep(50);

      const lastEnd = endsAt + 1_000;
      while (closedAt.size < ENDING && Date.now() < lastEnd + 15_000) await Bun.sleep(50);
      await Bun.sleep(300); // a few more round trips after the close
      pinger.stop();
      clearInterval(watch);
      subscriber.close();

      const lateness = ending.map((id) => (closedAt.get(id) ?? Infinity) - endsAtOf.get(id)!);
      const maxLate = Math.max(...lateness);
      const lateCount = lateness.filter((late) => late > CLOSED_WITHIN_MS).length;
      const maxRoundTrip = Math.max(...pinger.roundTrips);
      const baselineMax = pinger.maxBetween(endsAt - BASELINE_MS, endsAt);
      const p99RoundTrip = [...pinger.roundTrips].sort((a, b) => a - b)[Math.floor(pinger.roundTrips.length * 0.99)]!;
      console.log(
        `${kind}: ${closedAt.size}/${ENDING} CLOSED received; latest ${maxLate.toFixed(0)} ms after ends_at (${lateCount} later than ${CLOSED_WITHIN_MS} ms); ` +
          `${pinger.roundTrips.length} PING/BID round trips, max ${maxRoundTrip.toFixed(1)} ms, p99 ${p99RoundTrip.toFixed(1)} ms (quiet window before: max ${baselineMax.toFixed(1)} ms)`,
      );
      expect(closedAt.size).toBe(ENDING);
      expect(maxLate).toBeLessThan(CLOSED_LATE_BOUND_MS);
      expect(pinger.roundTrips.length).toBeGreaterThan(100);
      expect(pinger.unanswered()).toBeLessThanOrEqual(2);
      expect(maxRoundTrip).toBeLessThan(ROUND_TRIP_BOUND_MS + baselineMax);
    },
    TEST_TIMEOUT_MS,
  );
});
