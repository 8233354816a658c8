// fast-check arbitraries shared by the fuzz tests: every frame of protocol v1 with random
// fields, and the codec's encoders driven by a frame object.

import fc from "fast-check";
import {
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
  type Frame,
} from "../../src/protocol/codec.ts";
import { FrameType, MAX_AMOUNT } from "../../src/protocol/constants.ts";

export const TWO_POW_53 = 2n ** 53n;

export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const u8 = fc.integer({ min: 0, max: 255 });
/** Amounts the codec carries exactly, edges favoured. */
export const amount = fc.oneof(fc.constantFrom(0, 1, MAX_AMOUNT, 0xffff_ffff, 0x1_0000_0000), fc.integer({ min: 0, max: MAX_AMOUNT }));
/** Any u64, edges of the valid range favoured. */
export const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, TWO_POW_53 - 1n, TWO_POW_53, TWO_POW_53 + 1n, 2n ** 64n - 1n, 2n ** 32n - 1n, 2n ** 32n),
  fc.bigInt({ min: 0n, max: TWO_POW_53 + 1000n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);

export function writeU64Big(bytes: Uint8Array, offset: number, value: bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(offset, value);
}

/** Every frame type with random fields, as the object decodeFrame should give back. */
export const anyFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant(FrameType.BID), req: u32, auction: u32, user: u32, amount }),
  fc.record({ type: fc.constant(FrameType.MAX_BID), req: u32, auction: u32, user: u32, max: amount }),
  fc.record({ type: fc.constant(FrameType.SUBSCRIBE), req: u32, auction: u32, since: u32 }),
  fc.record({ type: fc.constant(FrameType.UNSUBSCRIBE), req: u32, auction: u32 }),
  fc.record({ type: fc.constant(FrameType.QUERY), req: u32, auction: u32 }),
  fc.record({ type: fc.constant(FrameType.AUTH), req: u32, token: fc.string({ minLength: 1, maxLength: 60, unit: "binary" }) }),
  fc.record({ type: fc.constant(FrameType.PING), req: u32 }),
  fc.record({ type: fc.constant(FrameType.RESULT), req: u32, status: u8, auction: u32, amount, leader: u32 }),
  fc.record({ type: fc.constant(FrameType.ERROR), req: u32, code: u8, message: fc.string({ maxLength: 60, unit: "binary" }) }),
  fc.record({ type: fc.constant(FrameType.UPDATE), auction: u32, seq: u32, amount, leader: u32, endsAt: amount }),
  fc.record({ type: fc.constant(FrameType.STATE), req: u32, auction: u32, phase: u8, seq: u32, amount, leader: u32, endsAt: amount }),
  fc.record({ type: fc.constant(FrameType.PONG), req: u32, now: amount }),
  fc.record({ type: fc.constant(FrameType.CLOSED), auction: u32, seq: u32, winner: u32, amount }),
  fc.record({ type: fc.constant(FrameType.OK), req: u32 }),
) as fc.Arbitrary<Frame>;

/** Encodes a frame object with the codec's encoders; returns the end offset. */
export function encodeFrame(out: Uint8Array, offset: number, f: Frame): number {
  switch (f.type) {
    case FrameType.BID:
      return encodeBid(out, offset, f.req, f.auction, f.user, f.amount);
    case FrameType.MAX_BID:
      return encodeMaxBid(out, offset, f.req, f.auction, f.user, f.max);
    case FrameType.SUBSCRIBE:
      return encodeSubscribe(out, offset, f.req, f.auction, f.since);
    case FrameType.UNSUBSCRIBE:
      return encodeUnsubscribe(out, offset, f.req, f.auction);
    case FrameType.QUERY:
      return encodeQuery(out, offset, f.req, f.auction);
    case FrameType.AUTH:
      return encodeAuth(out, offset, f.req, f.token);
    case FrameType.PING:
      return encodePing(out, offset, f.req);
    case FrameType.RESULT:
      return encodeResult(out, offset, f.req, f.status, f.auction, f.amount, f.leader);
    case FrameType.ERROR:
      return encodeError(out, offset, f.req, f.code, f.message);
    case FrameType.UPDATE:
      return encodeUpdate(out, offset, f.auction, f.seq, f.amount, f.leader, f.endsAt);
    case FrameType.STATE:
      return encodeState(out, offset, f.req, f.auction, f.phase, f.seq, f.amount, f.leader, f.endsAt);
    case FrameType.PONG:
      return encodePong(out, offset, f.req, f.now);
    case FrameType.CLOSED:
      return encodeClosed(out, offset, f.auction, f.seq, f.winner, f.amount);
    case FrameType.OK:
      return encodeOk(out, offset, f.req);
  }
}
