// Property tests of the FrameAssembler (fast-check): however a byte stream is cut into chunks,
// it hands out exactly the frames a plain reading of the whole stream finds, in order, and keeps
// the tail; the same with suspend/resume at random frames, and with a handler that stops.
// A failure prints its seed and shrunk counterexample; `fc.assert(..., { seed, path })` replays it.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import { HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD } from "../../src/protocol/constants.ts";
import { anyFrame, encodeFrame } from "./arbitraries.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

/** Runs per property; with the codec's, well over 100k random inputs in all. */
const RUNS = { garbage: 15_000, frames: 15_000, suspend: 8_000, stop: 8_000 } as const;
const MAX_STREAM = 3_000;

/** A frame as seen: type and a copy of its payload (as hex, for readable diffs). */
type Seen = [type: number, payload: string];

/** The reference: reads a whole stream front to back; returns the frames and the tail's length. */
function readWhole(stream: Uint8Array): { frames: Seen[]; tail: number } {
  const frames: Seen[] = [];
  let offset = 0;
  while (stream.length - offset >= HEADER_SIZE) {
    const end = offset + HEADER_SIZE + stream[offset + 1]!;
    if (end > stream.length) break;
    frames.push([stream[offset]!, Buffer.from(stream.subarray(offset + HEADER_SIZE, end)).toString("hex")]);
    offset = end;
  }
  return { frames, tail: stream.length - offset };
}

/** Cuts `stream` at the given points (any numbers; taken modulo its length). */
function cut(stream: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of [...at, stream.length]) {
    if (p < start) continue;
    // Some chunks are copies, some views into a larger buffer: the assembler must not care.
    chunks.push(p % 2 === 0 ? stream.slice(start, p) : stream.subarray(start, p));
    start = p;
  }
  return chunks;
}

function collector(): { seen: Seen[]; assembler: FrameAssembler } {
  const seen: Seen[] = [];
  const assembler = new FrameAssembler((type, bytes, payload, length) => {
    seen.push([type, Buffer.from(bytes.subarray(payload, payload + length)).toString("hex")]);
    return true;
  });
  return { seen, assembler };
}

/** Split points: a few random ones, or a great many (down to byte by byte). */
const splits = fc.oneof(fc.array(fc.nat(), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 400 }));

/** A frame in the framing sense: any type, any payload of 0..255 bytes. */
const rawFrame = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: MAX_PAYLOAD })).map(([type, payload]) => {
  const bytes = new Uint8Array(HEADER_SIZE + payload.length);
  bytes[0] = type;
  bytes[1] = payload.length;
  bytes.set(payload, HEADER_SIZE);
  return bytes;
});

/** A protocol frame, encoded by the codec. */
const protocolFrame = anyFrame.map((frame) => {
  const out = new Uint8Array(MAX_FRAME);
  return out.slice(0, encodeFrame(out, 0, frame));
});

/** A stream of whole frames (protocol ones and arbitrary ones), optionally with a partial tail. */
const frameStream = fc
  .tuple(fc.array(fc.oneof(protocolFrame, protocolFrame, rawFrame), { maxLength: 30 }), fc.uint8Array({ maxLength: 3 }))
  .map(([frames, tail]) => {
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0) + tail.length);
    let offset = 0;
    for (const f of frames) {
      stream.set(f, offset);
      offset += f.length;
    }
    stream.set(tail, offset);
    return stream;
  });

describe("FrameAssembler properties", () => {
  test("arbitrary bytes at arbitrary splits: the frames of the whole stream, then the tail kept", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_STREAM }), splits, (stream, points) => {
        const { seen, assembler } = collector();
        for (const chunk of cut(stream, points)) expect(assembler.push(chunk)).toBe(true);
        const whole = readWhole(stream);
        expect(seen).toEqual(whole.frames);
        expect(assembler.hasPartialFrame).toBe(whole.tail > 0);
      }),
      { numRuns: RUNS.garbage },
    );
  });

  test("sequences of frames split at arbitrary points come out exactly, in order", () => {
    fc.assert(
      fc.property(frameStream, splits, (stream, points) => {
        const { seen, assembler } = collector();
        for (const chunk of cut(stream, points)) assembler.push(chunk);
        const whole = readWhole(stream);
        expect(seen).toEqual(whole.frames);
        expect(assembler.hasPartialFrame).toBe(whole.tail > 0);
        // A tail finished later comes out as one more frame.
        if (whole.tail > 0) {
          const tail = stream.subarray(stream.length - whole.tail);
          const missing = whole.tail < HEADER_SIZE ? HEADER_SIZE - whole.tail : HEADER_SIZE + tail[1]! - whole.tail;
          assembler.push(new Uint8Array(missing)); // a short header gets length 0
          expect(seen.length).toBe(whole.frames.length + 1);
          expect(seen.at(-1)![0]).toBe(tail[0]!);
          expect(assembler.hasPartialFrame).toBe(false);
        }
      }),
      { numRuns: RUNS.frames },
    );
  });

  test("suspend at random frames, resume at random later pushes: the same frames, none early", () => {
    fc.assert(
      fc.property(frameStream, splits, fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.boolean(), { maxLength: 40 }), (stream, points, stops, resumes) => {
        const suspendAt = new Set(stops.map((s) => s % 40));
        const seen: Seen[] = [];
        let suspendedHere = false;
        const assembler = new FrameAssembler((type, bytes, payload, length) => {
          expect(assembler.isSuspended).toBe(false); // nothing is handed out while suspended
          seen.push([type, Buffer.from(bytes.subarray(payload, payload + length)).toString("hex")]);
          if (suspendAt.has(seen.length)) {
            assembler.suspend();
            suspendedHere = true;
          }
          return true;
        });
        let step = 0;
        for (const chunk of cut(stream, points)) {
          assembler.push(chunk);
          if (assembler.isSuspended && (resumes[step++ % Math.max(resumes.length, 1)] ?? true)) assembler.resume();
        }
        while (assembler.isSuspended) assembler.resume();
        expect(seen).toEqual(readWhole(stream).frames);
        if (suspendAt.has(1) && seen.length > 0) expect(suspendedHere).toBe(true);
      }),
      { numRuns: RUNS.suspend },
    );
  });

  test("a handler that stops at frame k: exactly k frames, then nothing more", () => {
    fc.assert(
      fc.property(frameStream, splits, fc.nat(), (stream, points, stopAt) => {
        const total = readWhole(stream).frames.length;
        const k = total === 0 ? 1 : 1 + (stopAt % total);
        let count = 0;
        const assembler = new FrameAssembler(() => ++count < k);
        let stopped = false;
        for (const chunk of cut(stream, points)) {
          const more = assembler.push(chunk);
          if (stopped) expect(more).toBe(false);
          if (!more) stopped = true;
        }
        expect(count).toBe(Math.min(k, total));
        expect(stopped).toBe(total >= k);
        if (stopped) {
          expect(assembler.push(new Uint8Array([1, 0, 1, 0]))).toBe(false);
          expect(count).toBe(k);
        }
      }),
      { numRuns: RUNS.stop },
    );
  });
});
