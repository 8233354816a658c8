// FrameAssembler: whole, byte by byte, at every split point and at random splits; in-place
// hand-out; stopping; random round trips; random garbage. Randomness is seeded: a failure
// names its seed, and the same seed replays it.

import { describe, expect, test } from "bun:test";

import { FrameAssembler } from "../../src/protocol/assembler.ts";
import {
  clientFrameFit,
  decodeBid,
  decodeFrame,
  encodeAuth,
  encodeBid,
  encodeMaxBid,
  encodeClosed,
  encodeError,
  encodeOk,
  encodePing,
  encodePong,
  encodeQuery,
  encodeResult,
  encodeState,
  encodeSubscribe,
  encodeUnsubscribe,
  encodeUpdate,
  Fit,
  type BidFields,
  type Frame,
  serverFrameFit,
} from "../../src/protocol/codec.ts";
import { FrameType, HEADER_SIZE, MAX_AMOUNT, MAX_ERROR_MESSAGE, MAX_FRAME } from "../../src/protocol/constants.ts";
import vectors from "../fixtures/vectors.json";
import { allowSlowTests } from "../support/timeouts.ts";
import { seededRandom } from "../support/random.ts";

allowSlowTests();

// ---- helpers ---------------------------------------------------------------------------------


/** A random integer in [min, max]. */
function int(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** What the handler saw, copied out (the bytes are only valid during the call). */
interface Seen {
  type: number;
  length: number;
  frame: Frame | null;
  raw: string;
}

/** Feeds chunks to a fresh assembler and returns every frame it handed out. */
function collect(chunks: Uint8Array[]): Seen[] {
  const seen: Seen[] = [];
  const assembler = new FrameAssembler((type, bytes, payload, length) => {
    expect(bytes[payload - HEADER_SIZE]).toBe(type);
    expect(bytes[payload - 1]).toBe(length);
    seen.push({
      type,
      length,
      frame: decodeFrame(type, bytes, payload, length),
      raw: Buffer.from(bytes.subarray(payload - HEADER_SIZE, payload + length)).toString("hex"),
    });
    return true;
  });
  for (const chunk of chunks) expect(assembler.push(chunk)).toBe(true);
  return seen;
}

/** Cuts `bytes` at the given sorted offsets. Chunks are copies, as a socket's would be. */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.slice(start, cut));
    start = cut;
  }
  return chunks;
}

function randomCuts(random: () => number, length: number, count: number): number[] {
  const cuts = new Set<number>();
  for (let i = 0; i < count; i++) cuts.add(int(random, 0, length));
  return [...cuts].sort((a, b) => a - b);
}

/** The frames of a byte string by the plain definition of the framing, for comparison. */
function referenceFrames(bytes: Uint8Array): string[] {
  const frames: string[] = [];
  let offset = 0;
  while (offset + HEADER_SIZE <= bytes.length && offset + HEADER_SIZE + bytes[offset + 1]! <= bytes.length) {
    const end = offset + HEADER_SIZE + bytes[offset + 1]!;
    frames.push(Buffer.from(bytes.subarray(offset, end)).toString("hex"));
    offset = end;
  }
  return frames;
}

// ---- the client_stream vector --------------------------------------------------------------

type Fields = Record<string, number | string>;
const clientVectors = (vectors.valid as unknown as { name: string; type: number; direction: string; hex: string; fields: Fields }[]).filter(
  (v) => v.direction === "client",
);
const stream = fromHex(vectors.client_stream.hex);
const expected = clientVectors.map((v) => ({ type: v.type, ...v.fields }));

function expectStream(seen: Seen[]): void {
  expect(seen.map((s) => s.frame)).toEqual(expected as never);
  expect(seen.map((s) => s.raw)).toEqual(clientVectors.map((v) => v.hex));
}

function bothWays(name: string, run: (chunks: (bytes: Uint8Array) => Uint8Array[]) => void): void {
  // node-redis style: every decoder test on the whole input and one byte at a time.
  test(`${name} (whole)`, () => run((bytes) => [bytes]));
  test(`${name} (byte by byte)`, () => run((bytes) => Array.from(bytes, (b) => Uint8Array.of(b))));
}

describe("client_stream vector", () => {
  test("its frames are the client vectors, in order", () => {
    expect(clientVectors.map((v) => v.name)).toEqual(vectors.client_stream.frames);
    expect(vectors.client_stream.hex).toBe(clientVectors.map((v) => v.hex).join(""));
  });

  bothWays("yields the listed frames with their fields", (chunks) => {
    const seen = collect(chunks(stream));
    expectStream(seen);
    for (const s of seen) expect(clientFrameFit(s.type, s.length)).toBe(Fit.OK);
  });

  test("split at every point into two chunks", () => {
    for (let cut = 0; cut <= stream.length; cut++) expectStream(collect(splitAt(stream, [cut])));
  });

  test("split at every pair of points around each frame boundary", () => {
    // Every cut within 3 bytes of a boundary, paired with every other such cut: exercises a
    // header split over two chunks followed by a payload split again.
    const boundaries: number[] = [];
    let offset = 0;
    for (const v of clientVectors) {
      boundaries.push(offset);
      offset += v.hex.length / 2;
    }
    const near = new Set<number>();
    for (const b of boundaries) for (let d = -3; d <= 3; d++) if (b + d >= 0 && b + d <= stream.length) near.add(b + d);
    const points = [...near].sort((a, b) => a - b);
    for (const a of points) for (const b of points) if (a < b) expectStream(collect(splitAt(stream, [a, b])));
  });

  test("split at random points, 500 times", () => {
    for (let seed = 1; seed <= 500; seed++) {
      const random = seededRandom(seed);
      const cuts = randomCuts(random, stream.length, int(random, 1, 40));
      try {
        expectStream(collect(splitAt(stream, cuts)));
      } catch (error) {
        throw new Error(`seed ${seed}, cuts ${cuts.join(",")}`, { cause: error });
      }
    }
  });

  test("empty chunks change nothing", () => {
    const chunks = splitAt(stream, [0, 0, 1, 1, 30, 30, stream.length]);
    expect(chunks.some((c) => c.length === 0)).toBe(true);
    expectStream(collect(chunks));
  });
});

// ---- in place ---------------------------------------------------------------------------------

describe("frames lying whole in a chunk are handed out in place", () => {
  test("the handler receives the chunk itself, at the frame's offset", () => {
    const calls: { bytes: Uint8Array; payload: number }[] = [];
    const assembler = new FrameAssembler((_type, bytes, payload) => {
      calls.push({ bytes, payload });
      return true;
    });
    assembler.push(stream);
    let offset = 0;
    expect(calls.length).toBe(clientVectors.length);
    for (const [i, v] of clientVectors.entries()) {
      expect(calls[i]!.bytes).toBe(stream);
      expect(calls[i]!.payload).toBe(offset + HEADER_SIZE);
      offset += v.hex.length / 2;
    }
  });

  test("only a frame split across chunks is handed out from another buffer", () => {
    // Cut inside the 4th frame: frames 1-3 come from chunk 1, frame 4 is gathered, 5+ come from chunk 2.
    const frameSizes = clientVectors.map((v) => v.hex.length / 2);
    const fourthStart = frameSizes[0]! + frameSizes[1]! + frameSizes[2]!;
    const [first, second] = splitAt(stream, [fourthStart + 5]);
    const sources: Uint8Array[] = [];
    const assembler = new FrameAssembler((_type, bytes) => {
      sources.push(bytes);
      return true;
    });
    assembler.push(first!);
    expect(assembler.hasPartialFrame).toBe(true);
    assembler.push(second!);
    expect(assembler.hasPartialFrame).toBe(false);
    expect(sources.slice(0, 3).every((b) => b === first)).toBe(true);
    expect(sources[3]).not.toBe(first);
    expect(sources[3]).not.toBe(second);
    expect(sources[3]!.length).toBe(MAX_FRAME);
    expect(sources.slice(4).every((b) => b === second)).toBe(true);
  });
});

// ---- stopping ---------------------------------------------------------------------------------

describe("a handler returning false stops the stream", () => {
  bothWays("no frame after the one that said stop", (chunks) => {
    for (let stopAt = 0; stopAt < clientVectors.length; stopAt++) {
      const names: number[] = [];
      const assembler = new FrameAssembler((type) => {
        names.push(type);
        return names.length - 1 !== stopAt;
      });
      const results = chunks(stream).map((chunk) => assembler.push(chunk));
      expect(names).toEqual(clientVectors.slice(0, stopAt + 1).map((v) => v.type));
      expect(results.includes(false)).toBe(true);
      // Once stopped, every push is refused and nothing more is handed out.
      expect(results.slice(results.indexOf(false)).every((r) => r === false)).toBe(true);
      expect(assembler.push(stream)).toBe(false);
      expect(names.length).toBe(stopAt + 1);
    }
  });

  test("stopping on a frame completed from a partial one", () => {
    const calls: number[] = [];
    const assembler = new FrameAssembler((type) => {
      calls.push(type);
      return false;
    });
    expect(assembler.push(stream.subarray(0, 5))).toBe(true);
    expect(assembler.push(stream.subarray(5))).toBe(false);
    expect(calls).toEqual([FrameType.BID]);
  });
});

// ---- random round trips -------------------------------------------------------------------

function u32(random: () => number): number {
  return random() < 0.1 ? [0, 1, 0xffffffff][int(random, 0, 2)]! : Math.floor(random() * 0x1_0000_0000);
}

function amount(random: () => number): number {
  const r = random();
  if (r < 0.1) return [0, 1, MAX_AMOUNT][int(random, 0, 2)]!;
  if (r < 0.5) return int(random, 1, 0xffffffff);
  return Math.floor(random() * MAX_AMOUNT);
}

/** Random text of at most `maxBytes` UTF-8 bytes, mixing 1-, 2-, 3- and 4-byte characters. */
function text(random: () => number, minBytes: number, maxBytes: number): string {
  const target = int(random, minBytes, maxBytes);
  const alphabet = ["a", "Z", "0", ".", "\u00e9", "\u20ac", "\u{1f528}"];
  let out = "";
  let size = 0;
  for (;;) {
    const c = alphabet[int(random, 0, alphabet.length - 1)]!;
    const n = Buffer.byteLength(c);
    if (size + n > target) break;
    out += c;
    size += n;
  }
  // Pad with ASCII to reach the exact size (and the minimum).
  return out + "t".repeat(target - size);
}

/** Encodes one random frame of a random type at `offset`; returns the new offset and its object. */
function randomFrame(random: () => number, out: Uint8Array, offset: number): [number, Frame] {
  const types = Object.values(FrameType);
  const type = types[int(random, 0, types.length - 1)]!;
  switch (type) {
    case FrameType.BID: {
      const f = { type, req: u32(random), auction: u32(random), user: u32(random), amount: amount(random) };
      return [encodeBid(out, offset, f.req, f.auction, f.user, f.amount), f];
    }
    case FrameType.MAX_BID: {
      const f = { type, req: u32(random), auction: u32(random), user: u32(random), max: amount(random) };
      return [encodeMaxBid(out, offset, f.req, f.auction, f.user, f.max), f];
    }
    case FrameType.SUBSCRIBE: {
      const f = { type, req: u32(random), auction: u32(random), since: u32(random) };
      return [encodeSubscribe(out, offset, f.req, f.auction, f.since), f];
    }
    case FrameType.UNSUBSCRIBE: {
      const f = { type, req: u32(random), auction: u32(random) };
      return [encodeUnsubscribe(out, offset, f.req, f.auction), f];
    }
    case FrameType.QUERY: {
      const f = { type, req: u32(random), auction: u32(random) };
      return [encodeQuery(out, offset, f.req, f.auction), f];
    }
    case FrameType.AUTH: {
      const f = { type, req: u32(random), token: text(random, 1, 251) };
      return [encodeAuth(out, offset, f.req, f.token), f];
    }
    case FrameType.PING: {
      const f = { type, req: u32(random) };
      return [encodePing(out, offset, f.req), f];
    }
    case FrameType.RESULT: {
      const f = { type, req: u32(random), status: int(random, 0, 9), auction: u32(random), amount: amount(random), leader: u32(random) };
      return [encodeResult(out, offset, f.req, f.status, f.auction, f.amount, f.leader), f];
    }
    case FrameType.ERROR: {
      const f = { type, req: u32(random), code: int(random, 1, 7), message: text(random, 0, MAX_ERROR_MESSAGE) };
      return [encodeError(out, offset, f.req, f.code, f.message), f];
    }
    case FrameType.UPDATE: {
      const f = { type, auction: u32(random), seq: u32(random), amount: amount(random), leader: u32(random), endsAt: amount(random) };
      return [encodeUpdate(out, offset, f.auction, f.seq, f.amount, f.leader, f.endsAt), f];
    }
    case FrameType.STATE: {
      const f = {
        type,
        req: u32(random),
        auction: u32(random),
        phase: int(random, 0, 3),
        seq: u32(random),
        amount: amount(random),
        leader: u32(random),
        endsAt: amount(random),
      };
      return [encodeState(out, offset, f.req, f.auction, f.phase, f.seq, f.amount, f.leader, f.endsAt), f];
    }
    case FrameType.PONG: {
      const f = { type, req: u32(random), now: amount(random) };
      return [encodePong(out, offset, f.req, f.now), f];
    }
    case FrameType.CLOSED: {
      const f = { type, auction: u32(random), seq: u32(random), winner: u32(random), amount: amount(random) };
      return [encodeClosed(out, offset, f.auction, f.seq, f.winner, f.amount), f];
    }
    case FrameType.OK: {
      const f = { type, req: u32(random) };
      return [encodeOk(out, offset, f.req), f];
    }
  }
}

describe("random frames round-trip", () => {
  test("200 streams of random frames of every type, split at random", () => {
    const covered = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed * 7919);
      const count = int(random, 1, 300);
      const out = new Uint8Array(count * MAX_FRAME);
      const frames: Frame[] = [];
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const [end, frame] = randomFrame(random, out, offset);
        frames.push(frame);
        covered.add(frame.type);
        offset = end;
      }
      const bytes = out.subarray(0, offset);
      const cuts = randomCuts(random, bytes.length, int(random, 0, count * 2));
      try {
        const seen = collect(splitAt(bytes, cuts));
        for (const s of seen) {
          const fit = (clientFrameFit(s.type, s.length) === Fit.OK ? Fit.OK : serverFrameFit(s.type, s.length)) as Fit;
          expect(fit).toBe(Fit.OK);
        }
        expect(seen.map((s) => s.frame)).toEqual(frames);
      } catch (error) {
        throw new Error(`seed ${seed * 7919}`, { cause: error });
      }
    }
    expect(covered.size).toBe(Object.values(FrameType).length);
  });
});

// ---- random garbage -----------------------------------------------------------------------

describe("random bytes never throw", () => {
  test("garbage of many sizes, in random chunks, frames as the framing defines them", () => {
    const bid: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: false };
    const sizes = [0, 1, 2, 3, 255, 256, 257, 258, 1000, 4096, 65536, 200_000];
    for (let seed = 1; seed <= 120; seed++) {
      const random = seededRandom(seed * 104729);
      const size = seed <= sizes.length ? sizes[seed - 1]! : int(random, 0, 20_000);
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = int(random, 0, 255);
      // Bias some streams towards real types, so that OK frames get decoded too.
      if (seed % 2 === 0) for (let i = 0; i < size; i += int(random, 1, 40)) bytes[i] = int(random, 0, 14);

      const raws: string[] = [];
      const assembler = new FrameAssembler((type, chunk, payload, length) => {
        raws.push(Buffer.from(chunk.subarray(payload - HEADER_SIZE, payload + length)).toString("hex"));
        if (clientFrameFit(type, length) === Fit.OK) {
          expect(decodeFrame(type, chunk, payload, length)).not.toBeNull();
          if (type === FrameType.BID) decodeBid(chunk, payload, bid);
        }
        if (serverFrameFit(type, length) === Fit.OK) expect(decodeFrame(type, chunk, payload, length)).not.toBeNull();
        return true;
      });
      const cuts = randomCuts(random, size, int(random, 0, Math.max(1, size / 10)));
      try {
        for (const chunk of splitAt(bytes, cuts)) expect(assembler.push(chunk)).toBe(true);
        const frames = referenceFrames(bytes);
        expect(raws).toEqual(frames);
        const consumed = frames.reduce((sum, hex) => sum + hex.length / 2, 0);
        expect(assembler.hasPartialFrame).toBe(consumed < size);
      } catch (error) {
        throw new Error(`seed ${seed * 104729}, size ${size}`, { cause: error });
      }
    }
  });
});
