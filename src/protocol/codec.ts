// Encoders and decoders for every frame of protocol v1; see docs/protocol.md.
// Pure functions over caller-owned bytes: nothing here touches a socket or allocates on the
// BID -> RESULT path. The object-returning `decodeFrame` is for clients, tests and tools.

import { readU32, readU64, TWO_POW_32, writeU32, writeU64 } from "./bytes.ts";
import { Direction, frameFit, type Fit } from "./frame-table.ts";
import {
  AUTH_MIN_PAYLOAD,
  ERROR_HEADER_PAYLOAD,
  FrameType,
  HEADER_SIZE,
  MAX_ERROR_MESSAGE,
  MAX_PAYLOAD,
  PayloadLength,
} from "./constants.ts";

/** Largest value of the high word of a u64 that is still <= 2^53-1. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

export { Fit } from "./frame-table.ts";

/** Whether a frame a client sent has a type the server reads and a payload length that fits it. */
export function clientFrameFit(type: number, length: number): Fit {
  return frameFit(Direction.CLIENT, type, length);
}

/** Whether a frame the server sent has a type a client reads and a payload length that fits it. */
export function serverFrameFit(type: number, length: number): Fit {
  return frameFit(Direction.SERVER, type, length);
}

// ---- Client to server ---------------------------------------------------------------------

/**
 * A decoded BID (or MAX_BID, whose layout is the same: `amount` is then the maximum). The server
 * decodes into one reused instance (or straight into its ring).
 */
export interface BidFields {
  req: number;
  auction: number;
  user: number;
  /** The amount as a number; meaningful only when `amountValid`. */
  amount: number;
  /** False when the u64 amount is 0 or above 2^53-1 (the contract's INVALID). */
  amountValid: boolean;
}

/** Reads the 20-byte BID (or MAX_BID) payload starting at `payload` into `target`. Allocates nothing. */
export function decodeBid(bytes: Uint8Array, payload: number, target: BidFields): BidFields {
  target.req = readU32(bytes, payload);
  target.auction = readU32(bytes, payload + 4);
  target.user = readU32(bytes, payload + 8);
  // The high word decides validity (<= 2^53-1); the two words make the number.
  const high = readU32(bytes, payload + 12);
  const amount = high * TWO_POW_32 + readU32(bytes, payload + 16);
  target.amount = amount;
  target.amountValid = high <= MAX_SAFE_HIGH_WORD && amount >= 1;
  return target;
}

/** SUBSCRIBE: the request, the auction and the seq to replay after (NO_REPLAY: none). */
export interface SubscribeFields {
  req: number;
  auction: number;
  since: number;
}

/** Reads a SUBSCRIBE payload into `target`. Allocates nothing. */
export function decodeSubscribe(bytes: Uint8Array, payload: number, target: SubscribeFields): SubscribeFields {
  target.req = readU32(bytes, payload);
  target.auction = readU32(bytes, payload + 4);
  target.since = readU32(bytes, payload + 8);
  return target;
}

/** UNSUBSCRIBE and QUERY: the request and the auction. */
export interface ReqAuctionFields {
  req: number;
  auction: number;
}

/** Reads an UNSUBSCRIBE or QUERY payload into `target`. Allocates nothing. */
export function decodeReqAuction(bytes: Uint8Array, payload: number, target: ReqAuctionFields): ReqAuctionFields {
  target.req = readU32(bytes, payload);
  target.auction = readU32(bytes, payload + 4);
  return target;
}

/** AUTH: the request, and where its token bytes lie in the frame's buffer. */
export interface AuthFields {
  req: number;
  /** The token is bytes[tokenStart, tokenEnd): valid only as long as the frame's bytes are. */
  tokenStart: number;
  tokenEnd: number;
}

/** AUTH: req u32, then the token. */
const AUTH_TOKEN_OFFSET = 4;

/** Reads an AUTH payload of `length` bytes into `target` (the token in place). Allocates nothing. */
export function decodeAuth(bytes: Uint8Array, payload: number, length: number, target: AuthFields): AuthFields {
  target.req = readU32(bytes, payload);
  target.tokenStart = payload + AUTH_TOKEN_OFFSET;
  target.tokenEnd = payload + length;
  return target;
}

/** The contract's INVALID rule, decided before the store is asked. */
export function isInvalidBid(bid: BidFields): boolean {
  return !bid.amountValid || bid.auction === 0 || bid.user === 0;
}

/** Every request starts with its u32 `req`. */
export function readReq(bytes: Uint8Array, payload: number): number {
  return readU32(bytes, payload);
}

export function encodeBid(out: Uint8Array, offset: number, req: number, auction: number, user: number, amount: number): number {
  out[offset] = FrameType.BID;
  out[offset + 1] = PayloadLength.BID;
  writeU32(out, offset + 2, req);
  writeU32(out, offset + 6, auction);
  writeU32(out, offset + 10, user);
  writeU64(out, offset + 14, amount);
  return offset + HEADER_SIZE + PayloadLength.BID;
}

/** MAX_BID: BID's layout, with the bidder's hidden maximum in the amount's place. */
export function encodeMaxBid(out: Uint8Array, offset: number, req: number, auction: number, user: number, max: number): number {
  encodeBid(out, offset, req, auction, user, max);
  out[offset] = FrameType.MAX_BID;
  return offset + HEADER_SIZE + PayloadLength.MAX_BID;
}

export function encodeSubscribe(out: Uint8Array, offset: number, req: number, auction: number, since: number): number {
  out[offset] = FrameType.SUBSCRIBE;
  out[offset + 1] = PayloadLength.SUBSCRIBE;
  writeU32(out, offset + 2, req);
  writeU32(out, offset + 6, auction);
  writeU32(out, offset + 10, since);
  return offset + HEADER_SIZE + PayloadLength.SUBSCRIBE;
}

/** UNSUBSCRIBE and QUERY share one layout: req, auction. */
function encodeReqAuction(out: Uint8Array, offset: number, type: number, req: number, auction: number): number {
  out[offset] = type;
  out[offset + 1] = PayloadLength.QUERY;
  writeU32(out, offset + 2, req);
  writeU32(out, offset + 6, auction);
  return offset + HEADER_SIZE + PayloadLength.QUERY;
}

export function encodeUnsubscribe(out: Uint8Array, offset: number, req: number, auction: number): number {
  return encodeReqAuction(out, offset, FrameType.UNSUBSCRIBE, req, auction);
}

export function encodeQuery(out: Uint8Array, offset: number, req: number, auction: number): number {
  return encodeReqAuction(out, offset, FrameType.QUERY, req, auction);
}

export function encodePing(out: Uint8Array, offset: number, req: number): number {
  out[offset] = FrameType.PING;
  out[offset + 1] = PayloadLength.PING;
  writeU32(out, offset + 2, req);
  return offset + HEADER_SIZE + PayloadLength.PING;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Encodes AUTH; throws RangeError when the token is empty or longer than 251 bytes. */
export function encodeAuth(out: Uint8Array, offset: number, req: number, token: string): number {
  const tokenBytes = utf8.encode(token);
  const maxToken = MAX_PAYLOAD - (AUTH_MIN_PAYLOAD - 1);
  if (tokenBytes.length < 1 || tokenBytes.length > maxToken) {
    throw new RangeError(`AUTH token must be 1..${maxToken} bytes, got ${tokenBytes.length}`);
  }
  out[offset] = FrameType.AUTH;
  out[offset + 1] = AUTH_MIN_PAYLOAD - 1 + tokenBytes.length;
  writeU32(out, offset + 2, req);
  out.set(tokenBytes, offset + 6);
  return offset + HEADER_SIZE + AUTH_MIN_PAYLOAD - 1 + tokenBytes.length;
}

export function decodeAuthToken(bytes: Uint8Array, payload: number, length: number): string {
  return utf8Decoder.decode(bytes.subarray(payload + 4, payload + length));
}

// ---- Server to client ---------------------------------------------------------------------

/** An UPDATE: an accepted bid's effect on its auction. */
export interface UpdateFields {
  auction: number;
  seq: number;
  amount: number;
  leader: number;
  endsAt: number;
}

/** Reads an UPDATE payload into `target` (a node reads them from the shared feed). Allocates nothing. */
export function decodeUpdate(bytes: Uint8Array, payload: number, target: UpdateFields): UpdateFields {
  target.auction = readU32(bytes, payload);
  target.seq = readU32(bytes, payload + 4);
  target.amount = readU64(bytes, payload + 8);
  target.leader = readU32(bytes, payload + 16);
  target.endsAt = readU64(bytes, payload + 20);
  return target;
}

/** A CLOSED: the auction's last seq, its winner (0: no sale) and the winning amount. */
export interface ClosedFields {
  auction: number;
  seq: number;
  winner: number;
  amount: number;
}

/** Reads a CLOSED payload into `target`. Allocates nothing. */
export function decodeClosed(bytes: Uint8Array, payload: number, target: ClosedFields): ClosedFields {
  target.auction = readU32(bytes, payload);
  target.seq = readU32(bytes, payload + 4);
  target.winner = readU32(bytes, payload + 8);
  target.amount = readU64(bytes, payload + 12);
  return target;
}

/** Writes a whole RESULT frame at `offset`; returns the offset after it. Allocates nothing. */
export function encodeResult(
  out: Uint8Array,
  offset: number,
  req: number,
  status: number,
  auction: number,
  amount: number,
  leader: number,
): number {
  out[offset] = FrameType.RESULT;
  out[offset + 1] = PayloadLength.RESULT;
  writeU32(out, offset + 2, req);
  out[offset + 6] = status;
  writeU32(out, offset + 7, auction);
  writeU64(out, offset + 11, amount);
  writeU32(out, offset + 19, leader);
  return offset + HEADER_SIZE + PayloadLength.RESULT;
}

/** Writes an ERROR frame; the message is cut to the contract's 250 bytes. */
export function encodeError(out: Uint8Array, offset: number, req: number, code: number, message: string): number {
  out[offset] = FrameType.ERROR;
  writeU32(out, offset + 2, req);
  out[offset + 6] = code;
  const room = out.subarray(offset + HEADER_SIZE + ERROR_HEADER_PAYLOAD, offset + HEADER_SIZE + ERROR_HEADER_PAYLOAD + MAX_ERROR_MESSAGE);
  // encodeInto never splits a UTF-8 sequence, so a cut message stays valid text.
  const { written } = utf8.encodeInto(message, room);
  out[offset + 1] = ERROR_HEADER_PAYLOAD + written;
  return offset + HEADER_SIZE + ERROR_HEADER_PAYLOAD + written;
}

export function encodeUpdate(
  out: Uint8Array,
  offset: number,
  auction: number,
  seq: number,
  amount: number,
  leader: number,
  endsAt: number,
): number {
  out[offset] = FrameType.UPDATE;
  out[offset + 1] = PayloadLength.UPDATE;
  writeU32(out, offset + 2, auction);
  writeU32(out, offset + 6, seq);
  writeU64(out, offset + 10, amount);
  writeU32(out, offset + 18, leader);
  writeU64(out, offset + 22, endsAt);
  return offset + HEADER_SIZE + PayloadLength.UPDATE;
}

export function encodeState(
  out: Uint8Array,
  offset: number,
  req: number,
  auction: number,
  phase: number,
  seq: number,
  amount: number,
  leader: number,
  endsAt: number,
): number {
  out[offset] = FrameType.STATE;
  out[offset + 1] = PayloadLength.STATE;
  writeU32(out, offset + 2, req);
  writeU32(out, offset + 6, auction);
  out[offset + 10] = phase;
  writeU32(out, offset + 11, seq);
  writeU64(out, offset + 15, amount);
  writeU32(out, offset + 23, leader);
  writeU64(out, offset + 27, endsAt);
  return offset + HEADER_SIZE + PayloadLength.STATE;
}

export function encodePong(out: Uint8Array, offset: number, req: number, now: number): number {
  out[offset] = FrameType.PONG;
  out[offset + 1] = PayloadLength.PONG;
  writeU32(out, offset + 2, req);
  writeU64(out, offset + 6, now);
  return offset + HEADER_SIZE + PayloadLength.PONG;
}

export function encodeClosed(out: Uint8Array, offset: number, auction: number, seq: number, winner: number, amount: number): number {
  out[offset] = FrameType.CLOSED;
  out[offset + 1] = PayloadLength.CLOSED;
  writeU32(out, offset + 2, auction);
  writeU32(out, offset + 6, seq);
  writeU32(out, offset + 10, winner);
  writeU64(out, offset + 14, amount);
  return offset + HEADER_SIZE + PayloadLength.CLOSED;
}

export function encodeOk(out: Uint8Array, offset: number, req: number): number {
  out[offset] = FrameType.OK;
  out[offset + 1] = PayloadLength.OK;
  writeU32(out, offset + 2, req);
  return offset + HEADER_SIZE + PayloadLength.OK;
}

// ---- Whole frames as objects (clients, tests, tools) ----------------------------------------

export type Frame =
  | { type: typeof FrameType.BID; req: number; auction: number; user: number; amount: number }
  | { type: typeof FrameType.MAX_BID; req: number; auction: number; user: number; max: number }
  | { type: typeof FrameType.SUBSCRIBE; req: number; auction: number; since: number }
  | { type: typeof FrameType.UNSUBSCRIBE; req: number; auction: number }
  | { type: typeof FrameType.QUERY; req: number; auction: number }
  | { type: typeof FrameType.AUTH; req: number; token: string }
  | { type: typeof FrameType.PING; req: number }
  | { type: typeof FrameType.RESULT; req: number; status: number; auction: number; amount: number; leader: number }
  | { type: typeof FrameType.ERROR; req: number; code: number; message: string }
  | { type: typeof FrameType.UPDATE; auction: number; seq: number; amount: number; leader: number; endsAt: number }
  | {
      type: typeof FrameType.STATE;
      req: number;
      auction: number;
      phase: number;
      seq: number;
      amount: number;
      leader: number;
      endsAt: number;
    }
  | { type: typeof FrameType.PONG; req: number; now: number }
  | { type: typeof FrameType.CLOSED; auction: number; seq: number; winner: number; amount: number }
  | { type: typeof FrameType.OK; req: number };

/**
 * Decodes one frame whose payload of `length` bytes starts at `payload` into an object, or
 * returns null when the type is unknown. The caller has checked the length with a `*FrameFit`.
 * BID amounts above 2^53-1 come back rounded; servers use `decodeBid` instead.
 */
export function decodeFrame(type: number, bytes: Uint8Array, payload: number, length: number): Frame | null {
  const p = payload;
  switch (type) {
    case FrameType.BID:
      return { type, req: readU32(bytes, p), auction: readU32(bytes, p + 4), user: readU32(bytes, p + 8), amount: readU64(bytes, p + 12) };
    case FrameType.MAX_BID:
      return { type, req: readU32(bytes, p), auction: readU32(bytes, p + 4), user: readU32(bytes, p + 8), max: readU64(bytes, p + 12) };
    case FrameType.SUBSCRIBE:
      return { type, req: readU32(bytes, p), auction: readU32(bytes, p + 4), since: readU32(bytes, p + 8) };
    case FrameType.UNSUBSCRIBE:
    case FrameType.QUERY:
      return { type, req: readU32(bytes, p), auction: readU32(bytes, p + 4) };
    case FrameType.AUTH:
      return { type, req: readU32(bytes, p), token: decodeAuthToken(bytes, p, length) };
    case FrameType.PING:
      return { type, req: readU32(bytes, p) };
    case FrameType.RESULT:
      return {
        type,
        req: readU32(bytes, p),
        status: bytes[p + 4]!,
        auction: readU32(bytes, p + 5),
        amount: readU64(bytes, p + 9),
        leader: readU32(bytes, p + 17),
      };
    case FrameType.ERROR:
      return {
        type,
        req: readU32(bytes, p),
        code: bytes[p + 4]!,
        message: utf8Decoder.decode(bytes.subarray(p + ERROR_HEADER_PAYLOAD, p + length)),
      };
    case FrameType.UPDATE:
      return {
        type,
        auction: readU32(bytes, p),
        seq: readU32(bytes, p + 4),
        amount: readU64(bytes, p + 8),
        leader: readU32(bytes, p + 16),
        endsAt: readU64(bytes, p + 20),
      };
    case FrameType.STATE:
      return {
        type,
        req: readU32(bytes, p),
        auction: readU32(bytes, p + 4),
        phase: bytes[p + 8]!,
        seq: readU32(bytes, p + 9),
        amount: readU64(bytes, p + 13),
        leader: readU32(bytes, p + 21),
        endsAt: readU64(bytes, p + 25),
      };
    case FrameType.PONG:
      return { type, req: readU32(bytes, p), now: readU64(bytes, p + 4) };
    case FrameType.CLOSED:
      return { type, auction: readU32(bytes, p), seq: readU32(bytes, p + 4), winner: readU32(bytes, p + 8), amount: readU64(bytes, p + 12) };
    case FrameType.OK:
      return { type, req: readU32(bytes, p) };
    default:
      return null;
  }
}

