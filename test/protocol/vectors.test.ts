// The shared test vectors of protocol v1 (test/fixtures/vectors.json) against the codec.
// Every valid vector must decode to its fields and encode back to exactly its bytes.

import { describe, expect, test } from "bun:test";

import { ErrorCode, FrameType, HEADER_SIZE, MAX_ERROR_MESSAGE, MAX_PAYLOAD } from "../../src/protocol/constants.ts";
import {
  type BidFields,
  clientFrameFit,
  decodeBid,
  decodeFrame,
  encodeAuth,
  encodeBid,
  encodeClosed,
  encodeError,
  encodeMaxBid,
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
  isInvalidBid,
  serverFrameFit,
} from "../../src/protocol/codec.ts";
import vectors from "../fixtures/vectors.json";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

type Fields = Record<string, number | string>;
interface ValidVector {
  name: string;
  type: number;
  direction: string;
  hex: string;
  fields: Fields;
}

/** ERROR codes after which the server closes the connection (PROTOCOL.md, "ERROR code"). */
const CLOSING_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.MALFORMED,
  ErrorCode.TOO_MANY_CONNECTIONS,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.RESET,
]);

/** The header's FrameType name for a type byte, to check each vector's `name` against `type`. */
const typeNames = new Map<number, string>(Object.entries(FrameType).map(([name, type]) => [type, name]));

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** The vectors name fields in snake_case, the codec's objects in camelCase. */
function camelFields(fields: Fields): Fields {
  const out: Fields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())] = value;
  }
  return out;
}

/** Every field a vector may carry, by the codec's names (each vector has those of its type). */
interface VectorFields {
  req: number;
  auction: number;
  user: number;
  amount: number;
  max: number;
  since: number;
  token: string;
  status: number;
  code: number;
  message: string;
  seq: number;
  leader: number;
  endsAt: number;
  phase: number;
  now: number;
  winner: number;
}

/** Encodes a vector's fields with the codec's encoder for its type, into a fresh frame. */
function encodeVector(vector: ValidVector): Uint8Array {
  const f = camelFields(vector.fields) as unknown as VectorFields;
  // Slack after the frame: an encoder must write exactly its frame, no more.
  const out = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD + 16);
  let end: number;
  switch (vector.type) {
    case FrameType.BID:
      end = encodeBid(out, 0, f.req, f.auction, f.user, f.amount);
      break;
    case FrameType.MAX_BID:
      end = encodeMaxBid(out, 0, f.req, f.auction, f.user, f.max);
      break;
    case FrameType.SUBSCRIBE:
      end = encodeSubscribe(out, 0, f.req, f.auction, f.since);
      break;
    case FrameType.UNSUBSCRIBE:
      end = encodeUnsubscribe(out, 0, f.req, f.auction);
      break;
    case FrameType.QUERY:
      end = encodeQuery(out, 0, f.req, f.auction);
      break;
    case FrameType.AUTH:
      end = encodeAuth(out, 0, f.req, f.token);
      break;
    case FrameType.PING:
      end = encodePing(out, 0, f.req);
      break;
    case FrameType.RESULT:
      end = encodeResult(out, 0, f.req, f.status, f.auction, f.amount, f.leader);
      break;
    case FrameType.ERROR:
      end = encodeError(out, 0, f.req, f.code, f.message);
      break;
    case FrameType.UPDATE:
      end = encodeUpdate(out, 0, f.auction, f.seq, f.amount, f.leader, f.endsAt);
      break;
    case FrameType.STATE:
      end = encodeState(out, 0, f.req, f.auction, f.phase, f.seq, f.amount, f.leader, f.endsAt);
      break;
    case FrameType.PONG:
      end = encodePong(out, 0, f.req, f.now);
      break;
    case FrameType.CLOSED:
      end = encodeClosed(out, 0, f.auction, f.seq, f.winner, f.amount);
      break;
    case FrameType.OK:
      end = encodeOk(out, 0, f.req);
      break;
    default:
      throw new Error(`no encoder for type ${vector.type}`);
  }
  for (let i = end; i < out.length; i++) expect(out[i]).toBe(0);
  return out.subarray(0, end);
}

const valid = vectors.valid as unknown as ValidVector[];

function label(vector: { name: string; hex: string }): string {
  return `${vector.name} ${vector.hex.length > 40 ? `${vector.hex.slice(0, 40)}...` : vector.hex}`;
}

describe("valid vectors", () => {
  test("cover every frame type of both directions", () => {
    const covered = new Set(valid.map((v) => v.type));
    for (const type of Object.values(FrameType)) expect(covered.has(type)).toBe(true);
  });

  for (const vector of valid) {
    describe(label(vector), () => {
      const bytes = fromHex(vector.hex);

      test("header: name, type and length agree", () => {
        expect(typeNames.get(vector.type)).toBe(vector.name);
        expect(bytes[0]).toBe(vector.type);
        expect(bytes[1]).toBe(bytes.length - HEADER_SIZE);
      });

      test("fits its direction", () => {
        const fit = vector.direction === "client" ? clientFrameFit : serverFrameFit;
        expect(fit(bytes[0]!, bytes[1]!)).toBe(Fit.OK);
      });

      test("decodes to its fields", () => {
        const frame = decodeFrame(bytes[0]!, bytes, HEADER_SIZE, bytes[1]!);
        expect(frame).toEqual({ type: vector.type, ...camelFields(vector.fields) } as never);
      });

      test("decodes at an offset inside a larger buffer", () => {
        const padded = new Uint8Array(bytes.length + 13);
        padded.fill(0xa5);
        padded.set(bytes, 7);
        const frame = decodeFrame(bytes[0]!, padded, 7 + HEADER_SIZE, bytes[1]!);
        expect(frame).toEqual({ type: vector.type, ...camelFields(vector.fields) } as never);
      });

      test("encodes back to exactly its bytes", () => {
        expect(toHex(encodeVector(vector))).toBe(vector.hex);
      });
    });
  }

  test("decodeBid reads every valid BID, which is not INVALID", () => {
    const target: BidFields = { req: -1, auction: -1, user: -1, amount: -1, amountValid: false };
    for (const vector of valid.filter((v) => v.type === FrameType.BID || v.type === FrameType.MAX_BID)) {
      const bytes = fromHex(vector.hex);
      expect(decodeBid(bytes, HEADER_SIZE, target)).toBe(target);
      const { max, ...fields } = vector.fields as Record<string, number>;
      expect(target).toEqual({ ...fields, ...(max === undefined ? {} : { amount: max }), amountValid: true } as never);
      expect(isInvalidBid(target)).toBe(false);
    }
  });

  test("the ERROR vectors encode with encodeError", () => {
    const errors = valid.filter((v) => v.type === FrameType.ERROR);
    expect(errors.length).toBeGreaterThan(0);
    for (const vector of errors) {
      const { req, code, message } = vector.fields as { req: number; code: number; message: string };
      const out = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD);
      const end = encodeError(out, 0, req, code, message);
      expect(toHex(out.subarray(0, end))).toBe(vector.hex);
    }
  });
});

describe("malformed vectors", () => {
  for (const vector of vectors.malformed) {
    test(vector.name, () => {
      const bytes = fromHex(vector.hex);
      // Each is one whole frame, so a server sees exactly this header.
      expect(bytes.length).toBe(HEADER_SIZE + bytes[1]!);
      const fit = clientFrameFit(bytes[0]!, bytes[1]!);
      expect(fit).not.toBe(Fit.OK);
      // Fit values are the ERROR codes the server answers with.
      expect(fit).toBe(vector.error as Fit);
      expect(vector.error).toBe(fit === Fit.MALFORMED ? ErrorCode.MALFORMED : ErrorCode.UNKNOWN_TYPE);
      expect(CLOSING_ERRORS.has(vector.error)).toBe(vector.closes);
    });
  }
});

describe("invalid_bids vectors", () => {
  for (const vector of vectors.invalid_bids) {
    test(vector.name, () => {
      const bytes = fromHex(vector.hex);
      expect(clientFrameFit(bytes[0]!, bytes[1]!)).toBe(Fit.OK);
      const target: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: true };
      decodeBid(bytes, HEADER_SIZE, target);
      expect(isInvalidBid(target)).toBe(true);
    });
  }

  test("amount validity is exact at the bounds", () => {
    const out = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD);
    const target: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: false };
    const cases: [number, boolean][] = [
      [0, false],
      [1, true],
      [2 ** 32 - 1, true],
      [2 ** 32, true],
      [Number.MAX_SAFE_INTEGER, true],
      [2 ** 53, false],
      [2 ** 63, false],
    ];
    for (const [amount, amountValid] of cases) {
      encodeBid(out, 0, 1, 7, 42, amount);
      decodeBid(out, HEADER_SIZE, target);
      expect({ amount, valid: target.amountValid }).toEqual({ amount, valid: amountValid });
      if (amountValid) expect(target.amount).toBe(amount);
    }
  });
});

describe("codec edges", () => {
  test("ERROR messages are cut to 250 bytes without splitting a UTF-8 sequence", () => {
    const out = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD + 8);
    // 249 ASCII bytes then a 3-byte character: only 249 bytes fit whole.
    const message = `${"x".repeat(MAX_ERROR_MESSAGE - 1)}\u20ac tail`;
    const end = encodeError(out, 0, 9, ErrorCode.INTERNAL, message);
    expect(end).toBe(HEADER_SIZE + MAX_PAYLOAD - 1);
    expect(serverFrameFit(out[0]!, out[1]!)).toBe(Fit.OK);
    const frame = decodeFrame(out[0]!, out, HEADER_SIZE, out[1]!);
    expect(frame).toEqual({ type: FrameType.ERROR, req: 9, code: ErrorCode.INTERNAL, message: "x".repeat(MAX_ERROR_MESSAGE - 1) });

    const full = encodeError(out, 0, 9, ErrorCode.INTERNAL, "y".repeat(1000));
    expect(full).toBe(HEADER_SIZE + MAX_PAYLOAD);
    expect(out[1]).toBe(MAX_PAYLOAD);
  });

  test("AUTH tokens outside 1..251 bytes are refused before anything is written", () => {
    const out = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD + 8);
    expect(() => encodeAuth(out, 0, 1, "")).toThrow(RangeError);
    expect(() => encodeAuth(out, 0, 1, "t".repeat(252))).toThrow(RangeError);
    expect(out.every((b) => b === 0)).toBe(true);
    expect(encodeAuth(out, 0, 1, "\u00e9".repeat(125) + "t")).toBe(HEADER_SIZE + MAX_PAYLOAD);
  });

  test("decodeFrame returns null for an unknown type", () => {
    expect(decodeFrame(0x7f, new Uint8Array(8), HEADER_SIZE, 4)).toBeNull();
    expect(decodeFrame(0, new Uint8Array(2), HEADER_SIZE, 0)).toBeNull();
  });

  test("each direction treats the other's types as unknown, not malformed", () => {
    const client = [FrameType.BID, FrameType.MAX_BID, FrameType.SUBSCRIBE, FrameType.UNSUBSCRIBE, FrameType.QUERY, FrameType.AUTH, FrameType.PING];
    for (const type of Object.values(FrameType)) {
      const isClient = (client as number[]).includes(type);
      for (let length = 0; length <= MAX_PAYLOAD; length++) {
        if (isClient) expect(serverFrameFit(type, length)).toBe(Fit.UNKNOWN_TYPE);
        else expect(clientFrameFit(type, length)).toBe(Fit.UNKNOWN_TYPE);
      }
    }
  });
});
