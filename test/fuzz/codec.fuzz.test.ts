// Property tests of the codec (fast-check): the fit checks are total and match the contract's
// table, decoding never throws on any bytes, every frame round-trips, decodeBid's amountValid is
// exactly the contract's 1..2^53-1, and ERROR messages are cut on a character boundary.
// A failure prints its seed and shrunk counterexample; `fc.assert(..., { seed, path })` replays it.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  clientFrameFit,
  decodeBid,
  decodeFrame,
  encodeError,
  Fit,
  isInvalidBid,
  serverFrameFit,
  type BidFields,
  type Frame,
} from "../../src/protocol/codec.ts";
import { FrameType, HEADER_SIZE, MAX_ERROR_MESSAGE, MAX_FRAME, MAX_PAYLOAD } from "../../src/protocol/constants.ts";
import { anyFrame, encodeFrame, TWO_POW_53, u32, u64, u8, writeU64Big } from "./arbitraries.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

/** Runs per property; with the assembler's, well over 100k random inputs in all. */
const RUNS = { decode: 30_000, roundTrip: 20_000, bid: 30_000, error: 5_000 } as const;

/** The contract's tables (PROTOCOL.md), written out again rather than imported. */
const CLIENT_LENGTHS: Record<number, number> = { 0x01: 20, 0x0e: 20, 0x04: 12, 0x05: 8, 0x07: 8, 0x0a: 4 };
const SERVER_LENGTHS: Record<number, number> = { 0x02: 21, 0x06: 28, 0x08: 33, 0x0b: 12, 0x0c: 20, 0x0d: 4 };
const AUTH_MIN = 5;
const ERROR_MIN = 5;

function expectedClientFit(type: number, length: number): Fit {
  if (type === FrameType.AUTH) return length >= AUTH_MIN ? Fit.OK : Fit.MALFORMED;
  const fixed = CLIENT_LENGTHS[type];
  if (fixed === undefined) return Fit.UNKNOWN_TYPE;
  return length === fixed ? Fit.OK : Fit.MALFORMED;
}

function expectedServerFit(type: number, length: number): Fit {
  if (type === FrameType.ERROR) return length >= ERROR_MIN ? Fit.OK : Fit.MALFORMED;
  const fixed = SERVER_LENGTHS[type];
  if (fixed === undefined) return Fit.UNKNOWN_TYPE;
  return length === fixed ? Fit.OK : Fit.MALFORMED;
}

describe("codec properties", () => {
  test("clientFrameFit and serverFrameFit are total and match the contract, for every type and length", () => {
    for (let type = 0; type <= 255; type++) {
      for (let length = 0; length <= MAX_PAYLOAD; length++) {
        if (clientFrameFit(type, length) !== expectedClientFit(type, length)) throw new Error(`clientFrameFit(${type}, ${length})`);
        if (serverFrameFit(type, length) !== expectedServerFit(type, length)) throw new Error(`serverFrameFit(${type}, ${length})`);
      }
    }
  });

  test("decodeFrame never throws on arbitrary bytes, and a fitting frame decodes to in-range fields", () => {
    const knownType = fc.constantFrom(...Object.values(FrameType));
    /** Lengths near the contract's, and any other. */
    const length = fc.oneof(fc.integer({ min: 0, max: MAX_PAYLOAD }), fc.constantFrom(...Object.values(CLIENT_LENGTHS), ...Object.values(SERVER_LENGTHS), AUTH_MIN, ERROR_MIN, MAX_PAYLOAD));
    let fitting = 0;
    fc.assert(
      fc.property(fc.oneof(u8, knownType), length, fc.uint8Array({ minLength: 8, maxLength: MAX_FRAME + 40 }), fc.nat(), (type, wanted, bytes, at) => {
        // Mostly a payload that lies in the buffer; sometimes one cut short by its end.
        const payload = bytes.length === 0 ? 0 : at % Math.min(bytes.length, 41);
        const len = at % 8 === 0 ? wanted : Math.min(wanted, bytes.length - payload);
        const fits = clientFrameFit(type, len) === Fit.OK || serverFrameFit(type, len) === Fit.OK;
        const frame = decodeFrame(type, bytes, payload, len);
        // Decoded or not, it did not throw. Fields are only meaningful for a whole payload.
        if (!fits || payload + len > bytes.length) return;
        fitting++;
        expect(frame).not.toBeNull();
        expect(frame!.type).toBe(type as Frame["type"]);
        for (const [key, value] of Object.entries(frame!)) {
          if (typeof value === "number") {
            expect(Number.isInteger(value) && value >= 0).toBe(true);
            if (key !== "amount" && key !== "max" && key !== "endsAt" && key !== "now") expect(value).toBeLessThanOrEqual(0xffff_ffff);
          } else expect(typeof value).toBe("string");
        }
      }),
      { numRuns: RUNS.decode },
    );
    expect(fitting).toBeGreaterThan(RUNS.decode / 20);
  });

  test("every frame round-trips: encode, fit, decode, encode again to the same bytes", () => {
    const first = new Uint8Array(MAX_FRAME + 8);
    const second = new Uint8Array(MAX_FRAME + 8);
    fc.assert(
      fc.property(anyFrame, fc.integer({ min: 0, max: 8 }), (frame, offset) => {
        const end = encodeFrame(first, offset, frame);
        const type = first[offset]!;
        const length = first[offset + 1]!;
        expect(end - offset).toBe(HEADER_SIZE + length);
        expect(clientFrameFit(type, length) === Fit.OK || serverFrameFit(type, length) === Fit.OK).toBe(true);
        const decoded = decodeFrame(type, first, offset + HEADER_SIZE, length)!;
        if (frame.type === FrameType.ERROR) {
          // The message may be cut to 250 bytes; it is a prefix of the original.
          const { message, ...rest } = decoded as Extract<Frame, { type: typeof FrameType.ERROR }>;
          expect(rest).toEqual({ type: frame.type, req: frame.req, code: frame.code });
          expect(frame.message.startsWith(message)).toBe(true);
        } else expect(decoded).toEqual(frame);
        const again = encodeFrame(second, 0, decoded);
        expect(second.subarray(0, again)).toEqual(first.subarray(offset, end));
      }),
      { numRuns: RUNS.roundTrip },
    );
  });

  test("decodeBid: amountValid is exactly 1 <= u64 <= 2^53-1, and isInvalidBid the contract's INVALID", () => {
    const bytes = new Uint8Array(4 + HEADER_SIZE + 20);
    const target: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: false };
    fc.assert(
      fc.property(u32, fc.oneof(fc.constant(0), u32), fc.oneof(fc.constant(0), u32), u64, fc.integer({ min: 0, max: 4 }), (req, auction, user, value, at) => {
        bytes.fill(0xee);
        const p = at + HEADER_SIZE;
        const view = new DataView(bytes.buffer);
        view.setUint32(p, req);
        view.setUint32(p + 4, auction);
        view.setUint32(p + 8, user);
        writeU64Big(bytes, p + 12, value);
        decodeBid(bytes, p, target);
        const valid = value >= 1n && value < TWO_POW_53;
        expect(target.amountValid).toBe(valid);
        expect([target.req, target.auction, target.user]).toEqual([req, auction, user]);
        if (valid) expect(target.amount).toBe(Number(value));
        expect(isInvalidBid(target)).toBe(!valid || auction === 0 || user === 0);
      }),
      { numRuns: RUNS.bid },
    );
  });

  test("ERROR messages are cut to 250 bytes on a character boundary", () => {
    const out = new Uint8Array(MAX_FRAME);
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: "binary" }), (message) => {
        const end = encodeError(out, 0, 1, 2, message);
        const length = out[1]!;
        expect(end).toBe(HEADER_SIZE + length);
        const decoded = decodeFrame(FrameType.ERROR, out, HEADER_SIZE, length) as Extract<Frame, { type: typeof FrameType.ERROR }>;
        const full = encoder.encode(message);
        const kept = encoder.encode(decoded.message);
        expect(kept.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
        expect(full.subarray(0, kept.length)).toEqual(kept);
        // Cut only where the next character would not have fitted.
        if (kept.length < full.length) expect(kept.length).toBeGreaterThan(MAX_ERROR_MESSAGE - 4);
      }),
      { numRuns: RUNS.error },
    );
  });
});
