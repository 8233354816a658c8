// Garbage beside honest bidders, against a real server process (memory and SQLite stores):
// connections spew random bytes, valid types with wrong lengths, unknown types and floods
// while honest bidders pipeline rising bids. The honest bidders all get right answers, the
// server's memory stays bounded, every malformed frame gets ERROR MALFORMED and a close, and
// every unknown type gets ERROR UNKNOWN_TYPE and the connection stays open.
// Randomness is seeded: a failure names its seed; GAVEL_FUZZ_SEED=<seed> replays it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { allowSlowTests } from "../support/timeouts.ts";
import { seededRandom } from "../support/random.ts";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import { clientFrameFit, encodeAuth, encodeBid, encodePing, encodeSubscribe, Fit, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, ErrorCode, FrameType, HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD, PayloadLength, Status } from "../../src/protocol/constants.ts";
import { assertConsistent, ClientLog, fetchFinalState, settle, type BidderLog } from "../support/consistency.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";

allowSlowTests();

const SEED = Number(process.env.GAVEL_FUZZ_SEED ?? Date.now() % 0x7fff_ffff);
/** The bound the server's memory must stay within while all this goes on. */
const MAX_RSS_GROWTH_KB = 200 * 1024;
const RSS_SAMPLE_MS = 50;

const HONEST_BIDDERS = 4;
const HONEST_BURSTS = 20;
const HONEST_BURST_BIDS = 400;
const HONEST_BURST_GAP_MS = 40;
const RANDOM_BYTE_CONNECTIONS = 16;
const UNKNOWN_TYPE_CONNECTIONS = 4;
const UNKNOWN_FRAMES_EACH = 100;
/** Bytes of 257-byte frames (unknown types and AUTHs, alternating) one reading flood sends. */
const BIG_FRAME_FLOOD_BYTES = 8 * 1024 * 1024;
/** BIDs on an auction that does not exist, all through the ring and the store. */
const BID_FLOOD_COUNT = 150_000;
/** How long the non-reading connection pushes PINGs at the server. */
const STUCK_FLOOD_SECONDS = 2;
/** An auction id no test creates. */
const NOWHERE = 0xffff_ff00;
const CLOSE_TIMEOUT_MS = 10_000;
const CLIENT_TYPES: readonly number[] = [FrameType.BID, FrameType.SUBSCRIBE, FrameType.UNSUBSCRIBE, FrameType.QUERY, FrameType.AUTH, FrameType.PING];
/** Requests answered as soon as they are read (no store round trip). */
const SYNC_REPLIES: ReadonlySet<number> = new Set([FrameType.PING, FrameType.UNSUBSCRIBE, FrameType.AUTH]);


function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

function int(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (match === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

/** Sends `bytes` in random-sized pieces, a tick or two apart, so frames arrive split. */
async function sendInPieces(client: RawClient, bytes: Uint8Array, random: () => number): Promise<void> {
  let offset = 0;
  while (offset < bytes.length && !client.isClosed()) {
    const size = int(random, 1, 700);
    client.send(bytes.subarray(offset, offset + size));
    offset += size;
    if (random() < 0.3) await Bun.sleep(int(random, 0, 3));
  }
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What the server must make of a byte stream, frame by frame (the reference reading): the
 * ERRORs it sends, in order, up to and including the MALFORMED that closes the connection, and
 * the requests it must answer before that.
 */
interface Expectation {
  errors: number[];
  syncRequests: number;
  asyncRequests: number;
}

/** Random bytes, extended until they hold a malformed frame; and what the server must answer. */
function randomGarbage(random: () => number): { bytes: Uint8Array; expected: Expectation } {
  let bytes = randomBytes(random, int(random, 64, 6000));
  for (;;) {
    const expected: Expectation = { errors: [], syncRequests: 0, asyncRequests: 0 };
    let offset = 0;
    while (bytes.length - offset >= HEADER_SIZE) {
      const type = bytes[offset]!;
      const length = bytes[offset + 1]!;
      if (offset + HEADER_SIZE + length > bytes.length) break;
      offset += HEADER_SIZE + length;
      const fit = clientFrameFit(type, length);
      if (fit === Fit.UNKNOWN_TYPE) expected.errors.push(ErrorCode.UNKNOWN_TYPE);
      else if (fit === Fit.MALFORMED) {
        expected.errors.push(ErrorCode.MALFORMED);
        return { bytes, expected };
      } else if (SYNC_REPLIES.has(type)) expected.syncRequests++;
      else expected.asyncRequests++;
    }
    // No malformed frame yet (or a tail swallowed the end): add a BID header of length 0.
    const longer = new Uint8Array(bytes.length + HEADER_SIZE);
    longer.set(bytes);
    longer.set([FrameType.BID, 0], bytes.length);
    bytes = longer;
  }
}

/** A client that only counts what comes back (floods: no frame objects). */
interface CountingClient {
  byType: Map<number, number>;
  errors: Map<number, number>;
  frames(): number;
  send(bytes: Uint8Array): void;
  waitForFrames(count: number, timeoutMs: number): Promise<void>;
  isClosed(): boolean;
  close(): void;
}

async function connectCounting(port: number): Promise<CountingClient> {
  const byType = new Map<number, number>();
  const errors = new Map<number, number>();
  let total = 0;
  let closed = false;
  const assembler = new FrameAssembler((type, bytes, payload) => {
    total++;
    byType.set(type, (byType.get(type) ?? 0) + 1);
    if (type === FrameType.ERROR) {
      const code = bytes[payload + 4]!;
      errors.set(code, (errors.get(code) ?? 0) + 1);
    }
    return true;
  });
  const pending: Uint8Array[] = [];
  const socket: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_s, chunk: Uint8Array) {
        assembler.push(chunk);
      },
      drain(s) {
        while (pending.length > 0) {
          const next = pending[0]!;
          const written = s.write(next);
          if (written < next.length) {
            pending[0] = next.subarray(Math.max(written, 0));
            return;
          }
          pending.shift();
        }
      },
      close() {
        closed = true;
      },
    },
  });
  return {
    byType,
    errors,
    frames: () => total,
    send(bytes) {
      if (pending.length > 0) {
        pending.push(bytes);
        return;
      }
      const written = socket.write(bytes);
      if (written < bytes.length) pending.push(bytes.subarray(Math.max(written, 0)));
    },
    async waitForFrames(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (total < count) {
        if (closed) throw new Error(`closed after ${total} of ${count} frames`);
        if (Date.now() > deadline) throw new Error(`timed out with ${total} of ${count} frames`);
        await Bun.sleep(10);
      }
    },
    isClosed: () => closed,
    close: () => socket.end(),
  };
}

/**
 * A connection that pushes PINGs as fast as the server takes them and never reads a byte
 * (tiny receive buffer), from a Python process: Bun cannot stop reading a socket.
 */
const STUCK_FLOODER = `
import json, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.setblocking(False)
ping = bytes([0x0a, 4, 0, 0, 0, 1]) * 10000
sent, closed, deadline = 0, False, time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        sent += s.send(ping)
    except BlockingIOError:
        time.sleep(0.005)
    except OSError:
        closed = True
        break
print(json.dumps({"sent": sent, "closed": closed}), flush=True)
`;

async function stuckFlood(port: number): Promise<{ sent: number; closed: boolean }> {
  const proc = Bun.spawn(["python3", "-c", STUCK_FLOODER, String(port), String(STUCK_FLOOD_SECONDS)], { stdout: "pipe", stderr: "inherit" });
  const output = await new Response(proc.stdout).text();
  await proc.exited;
  return JSON.parse(output) as { sent: number; closed: boolean };
}

type Result = Extract<Frame, { type: typeof FrameType.RESULT }>;
type ErrorFrame = Extract<Frame, { type: typeof FrameType.ERROR }>;

const errorsOf = (frames: Frame[]) => frames.filter((f): f is ErrorFrame => f.type === FrameType.ERROR);

for (const kind of ["memory", "sqlite"] as const) {
  describe(`garbage beside honest bidders on ${kind}`, () => {
    let node: GavelProcess;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "gavel-garbage-"));
      node = await spawnGavel({ GAVEL_STORE: kind, GAVEL_DB: join(dir, "gavel.db") });
    });
    afterAll(async () => {
      await node.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    });

    test("honest bidders are served, memory stays bounded, garbage gets its ERRORs", async () => {
      const failure = `(seed ${SEED}; GAVEL_FUZZ_SEED=${SEED} replays it)`;
      const auctions: number[] = [];
      for (let i = 0; i < HONEST_BIDDERS; i++) {
        const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
        auctions.push(((await response.json()) as { id: number }).id);
      }

      // Memory: a baseline once the server is warm, then the peak while garbage flows.
      const warm = await connectRaw(node.port);
      const warmBids = new Uint8Array(1000 * BID_FRAME_SIZE);
      for (let i = 0, o = 0; i < 1000; i++) o = encodeBid(warmBids, o, i + 1, NOWHERE, 1, 10);
      warm.send(warmBids);
      await warm.waitFor(1000);
      warm.close();
      const pid = node.proc.pid;
      const baseline = rssKb(pid);
      let peak = baseline;
      const sampler = setInterval(() => {
        if (node.proc.exitCode === null) peak = Math.max(peak, rssKb(pid));
      }, RSS_SAMPLE_MS);
      try {

        // ---- Honest bidders: one per auction, rising bids pipelined in bursts; one subscriber.
        const log = new ClientLog();
        const subscriberLog = log.subscriber("honest subscriber");
        const subscriber = await connectRaw(node.port);
        const subscribeBytes = new Uint8Array(auctions.length * (HEADER_SIZE + PayloadLength.SUBSCRIBE));
        auctions.forEach((a, i) => {
          encodeSubscribe(subscribeBytes, i * (HEADER_SIZE + PayloadLength.SUBSCRIBE), i + 1, a, 0);
          subscriberLog.subscribed(a, 0);
        });
        subscriber.send(subscribeBytes);
        const honest: { client: RawClient; log: BidderLog; sent: number }[] = [];
        for (let b = 0; b < HONEST_BIDDERS; b++) honest.push({ client: await connectRaw(node.port), log: log.bidder(`honest ${b}`), sent: 0 });
        const honestRun = (async () => {
          for (let burst = 0; burst < HONEST_BURSTS; burst++) {
            honest.forEach((h, b) => {
              const bytes = new Uint8Array(HONEST_BURST_BIDS * BID_FRAME_SIZE);
              let offset = 0;
              for (let i = 0; i < HONEST_BURST_BIDS; i++) {
                const req = ++h.sent;
                const amount = 100 + req * 3;
                offset = encodeBid(bytes, offset, req, auctions[b]!, 1000 + b, amount);
                h.log.sent(req, auctions[b]!, 1000 + b, amount);
              }
              h.client.send(bytes);
            });
            await Bun.sleep(HONEST_BURST_GAP_MS);
          }
        })();

        // ---- Random bytes: every one ends in a MALFORMED and a close.
        const randomRun = Promise.all(
          Array.from({ length: RANDOM_BYTE_CONNECTIONS }, async (_, c) => {
            const own = seededRandom(SEED + 1 + c);
            const { bytes, expected } = randomGarbage(own);
            const client = await connectRaw(node.port);
            await sendInPieces(client, bytes, own);
            await within(client.closed, CLOSE_TIMEOUT_MS, `random-bytes connection ${c} to be closed ${failure}`);
            const frames = client.frames;
            const errors = errorsOf(frames);
            expect(errors.map((e) => e.code), `random-bytes connection ${c} ${failure}`).toEqual(expected.errors);
            expect(errors.every((e) => e.req === 0)).toBe(true);
            expect(errors.at(-1)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.MALFORMED });
            const syncReplies = frames.filter((f) => f.type === FrameType.PONG || f.type === FrameType.OK).length;
            expect(syncReplies, `random-bytes connection ${c} ${failure}`).toBe(expected.syncRequests);
            // Replies that need the store come after the drain, possibly after the MALFORMED,
            // but before the close: see "a BID just before a malformed frame" below.
            const asyncReplies = frames.length - errors.length - syncReplies;
            expect(asyncReplies).toBe(expected.asyncRequests);
            return expected.errors.length;
          }),
        );

        // ---- Valid types with wrong lengths: answered up to the bad frame, then MALFORMED, closed.
        const wrongLengthRun = Promise.all(
          CLIENT_TYPES.flatMap((type) => [0, 1].map((n) => ({ type, n }))).map(async ({ type, n }) => {
            const own = seededRandom(SEED + 100 + type * 2 + n);
            const fixed = clientFrameFit(type, 4) === Fit.OK ? 4 : [...Array(MAX_PAYLOAD + 1).keys()].find((l) => clientFrameFit(type, l) === Fit.OK)!;
            let length: number;
            do length = type === FrameType.AUTH ? int(own, 0, 4) : n === 0 ? int(own, 0, MAX_PAYLOAD) : fixed + (own() < 0.5 ? -1 : 1);
            while (clientFrameFit(type, length) !== Fit.MALFORMED);
            const bytes = new Uint8Array(6 + HEADER_SIZE + length + 6);
            let offset = encodePing(bytes, 0, 7);
            bytes[offset] = type;
            bytes[offset + 1] = length;
            bytes.set(randomBytes(own, length), offset + HEADER_SIZE);
            offset += HEADER_SIZE + length;
            encodePing(bytes, offset, 8); // never read: the connection is closing
            const client = await connectRaw(node.port);
            await sendInPieces(client, bytes, own);
            await within(client.closed, CLOSE_TIMEOUT_MS, `wrong-length ${type}/${length} connection to be closed`);
            expect(client.frames).toEqual([
              { type: FrameType.PONG, req: 7, now: expect.any(Number) },
              { type: FrameType.ERROR, req: 0, code: ErrorCode.MALFORMED, message: expect.any(String) },
            ]);
          }),
        );

        // ---- Unknown types: one ERROR each, and the connection stays open.
        const unknownRun = Promise.all(
          Array.from({ length: UNKNOWN_TYPE_CONNECTIONS }, async (_, c) => {
            const own = seededRandom(SEED + 200 + c);
            const parts: Uint8Array[] = [];
            for (let i = 0; i < UNKNOWN_FRAMES_EACH; i++) {
              let type: number;
              do type = int(own, 0, 255);
              while (clientFrameFit(type, 0) !== Fit.UNKNOWN_TYPE);
              const length = int(own, 0, MAX_PAYLOAD);
              const frame = new Uint8Array(HEADER_SIZE + length);
              frame[0] = type;
              frame[1] = length;
              frame.set(randomBytes(own, length), HEADER_SIZE);
              parts.push(frame);
            }
            const ping = new Uint8Array(6);
            encodePing(ping, 0, 9);
            parts.push(ping);
            const client = await connectRaw(node.port);
            await sendInPieces(client, Buffer.concat(parts), own);
            const frames = await client.waitFor(UNKNOWN_FRAMES_EACH + 1);
            expect(frames.slice(0, UNKNOWN_FRAMES_EACH).every((f) => f.type === FrameType.ERROR && f.code === ErrorCode.UNKNOWN_TYPE && f.req === 0)).toBe(true);
            expect(frames[UNKNOWN_FRAMES_EACH]).toMatchObject({ type: FrameType.PONG, req: 9 });
            await Bun.sleep(100);
            expect(client.isClosed()).toBe(false);
            client.close();
          }),
        );

        // ---- Floods.
        const bigFrameRun = (async () => {
          const client = await connectCounting(node.port);
          const unknown = new Uint8Array(MAX_FRAME);
          unknown[0] = 0xee;
          unknown[1] = MAX_PAYLOAD;
          const auth = new Uint8Array(MAX_FRAME);
          encodeAuth(auth, 0, 3, "t".repeat(MAX_PAYLOAD - 4));
          const pair = Buffer.concat([unknown, auth]);
          const pairs = Math.floor(BIG_FRAME_FLOOD_BYTES / pair.length);
          const chunkPairs = 256;
          for (let sent = 0; sent < pairs; sent += chunkPairs) {
            client.send(Buffer.concat(Array(Math.min(chunkPairs, pairs - sent)).fill(pair)));
            await Bun.sleep(0);
          }
          await client.waitForFrames(2 * pairs, 60_000);
          expect(client.errors.get(ErrorCode.UNKNOWN_TYPE)).toBe(pairs);
          expect(client.byType.get(FrameType.OK)).toBe(pairs);
          expect(client.isClosed()).toBe(false);
          client.close();
        })();

        const bidFloodRun = (async () => {
          const client = await connectCounting(node.port);
          const chunk = 5000;
          for (let sent = 0; sent < BID_FLOOD_COUNT; sent += chunk) {
            const bytes = new Uint8Array(chunk * BID_FRAME_SIZE);
            for (let i = 0, o = 0; i < chunk; i++) o = encodeBid(bytes, o, sent + i + 1, NOWHERE, 1 + (i % 7), 1 + i);
            client.send(bytes);
            await Bun.sleep(0);
          }
          await client.waitForFrames(BID_FLOOD_COUNT, 60_000);
          expect(client.byType.get(FrameType.RESULT)).toBe(BID_FLOOD_COUNT);
          client.close();
        })();

        const stuckRun = stuckFlood(node.port);

        const [randomErrorCounts] = await Promise.all([randomRun, wrongLengthRun, unknownRun, bigFrameRun, bidFloodRun, honestRun]);
        const stuck = await stuckRun;

        // ---- Honest bidders: every req answered once, every rising bid ACCEPTED, all consistent.
        await Promise.all(honest.map((h) => h.client.waitFor(h.sent, 60_000)));
        for (const h of honest) {
          for (const frame of h.client.frames) h.log.observe(frame);
          const results = h.client.frames as Result[];
          expect(results.length).toBe(h.sent);
          expect(results.every((r) => r.type === FrameType.RESULT && r.status === Status.ACCEPTED)).toBe(true);
        }
        const final = await settle(log, async () => {
          for (const frame of subscriber.frames.splice(0)) subscriberLog.observe(frame);
          return fetchFinalState(node.httpUrl, auctions);
        });
        for (const frame of subscriber.frames.splice(0)) subscriberLog.observe(frame);
        // The subscriber reads in this busy test process, beside the floods: when it falls more
        // than GAVEL_SUBSCRIBER_BUFFER behind, the server sends it the latest state instead (its
        // seq jumps forward, as documented). Everything else is checked exactly.
        assertConsistent(log, final, { conflationAllowed: true });
        expect(log.stats().accepted).toBe(HONEST_BIDDERS * HONEST_BURSTS * HONEST_BURST_BIDS);

        // ---- Memory stayed bounded, the stuck flood was held back, and the server still serves.
        clearInterval(sampler);
        peak = Math.max(peak, rssKb(pid));
        const after = rssKb(pid);
        console.log(
          `${kind}: RSS baseline ${Math.round(baseline / 1024)} MB, peak ${Math.round(peak / 1024)} MB, after ${Math.round(after / 1024)} MB; ` +
            `stuck flood pushed ${(stuck.sent / 1e6).toFixed(1)} MB (${stuck.closed ? "dropped" : "held back"}); random-bytes connections got ${randomErrorCounts.reduce((a, b) => a + b, 0)} ERRORs ${failure}`,
        );
        expect(peak - baseline).toBeLessThan(MAX_RSS_GROWTH_KB);
        expect(stuck.sent).toBeLessThan(MAX_RSS_GROWTH_KB * 1024);
        expect(node.proc.exitCode).toBeNull();
        const probe = await connectRaw(node.port);
        const ping = new Uint8Array(6);
        encodePing(ping, 0, 42);
        probe.send(ping);
        expect((await probe.waitFor(1))[0]).toMatchObject({ type: FrameType.PONG, req: 42 });
        probe.close();
        subscriber.close();
        for (const h of honest) h.client.close();
      } finally {
        clearInterval(sampler);
      }
    });

    // Contract rule 1: every well-formed request gets its reply. The server closes right after
    // writing the MALFORMED, before the drain has answered a BID read just before it (the BID
    // is stored all the same: an ACCEPTED nobody hears of). Remove `.failing` once fixed.
    test("a BID just before a malformed frame still gets its RESULT", async () => {
      const created = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
      const auction = ((await created.json()) as { id: number }).id;
      const client = await connectRaw(node.port);
      const bytes = new Uint8Array(BID_FRAME_SIZE + HEADER_SIZE + 1);
      const offset = encodeBid(bytes, 0, 1, auction, 5, 100);
      bytes.set([FrameType.PING, 1, 0], offset); // PING with a 1-byte payload: MALFORMED
      client.send(bytes);
      await within(client.closed, CLOSE_TIMEOUT_MS, "the connection to be closed");
      expect(client.frames.map((f) => f.type).sort()).toEqual([FrameType.RESULT, FrameType.ERROR].sort());
    });
  });
}
