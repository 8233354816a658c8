// The wire contract's closed sets and sizes; see docs/protocol.md.

/** Frame types, both directions. */
export const FrameType = {
  BID: 0x01,
  RESULT: 0x02,
  ERROR: 0x03,
  SUBSCRIBE: 0x04,
  UNSUBSCRIBE: 0x05,
  UPDATE: 0x06,
  QUERY: 0x07,
  STATE: 0x08,
  AUTH: 0x09,
  PING: 0x0a,
  PONG: 0x0b,
  CLOSED: 0x0c,
  OK: 0x0d,
  /** Proxy bidding: same layout as BID, the amount is the bidder's hidden maximum. */
  MAX_BID: 0x0e,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** RESULT status codes, in the contract's order of precedence for the first four. */
export const Status = {
  ACCEPTED: 0,
  OUTBID: 1,
  UNKNOWN: 2,
  CLOSED: 3,
  NOT_STARTED: 4,
  RATE_LIMITED: 5,
  OVERLOADED: 6,
  FORBIDDEN: 7,
  UNAVAILABLE: 8,
  INVALID: 9,
  /** The store was asked but did not answer in time: the bid may or may not be stored. */
  UNCONFIRMED: 10,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/** Auction phase carried by STATE. */
export const Phase = {
  UNKNOWN: 0,
  SCHEDULED: 1,
  OPEN: 2,
  CLOSED: 3,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** ERROR codes. MALFORMED, TOO_MANY_CONNECTIONS, SHUTTING_DOWN and RESET close the connection. */
export const ErrorCode = {
  MALFORMED: 1,
  UNKNOWN_TYPE: 2,
  UNAUTHENTICATED: 3,
  AUTH_FAILED: 4,
  TOO_MANY_CONNECTIONS: 5,
  SHUTTING_DOWN: 6,
  INTERNAL: 7,
  /** The store could not answer a QUERY or SUBSCRIBE; retry. */
  UNAVAILABLE: 8,
  /** A per-connection bound (e.g. subscriptions) refused this request. */
  LIMIT: 9,
  /** The store lost acknowledged data: subscribe again with no replay and trust the new STATE. */
  RESET: 10,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every frame starts with type (u8) and payload length (u8). */
export const HEADER_SIZE = 2;
export const MAX_PAYLOAD = 255;
export const MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD;

/** Fixed payload lengths. AUTH and ERROR vary within the bounds below. */
export const PayloadLength = {
  BID: 20,
  RESULT: 21,
  SUBSCRIBE: 12,
  UNSUBSCRIBE: 8,
  UPDATE: 28,
  QUERY: 8,
  STATE: 33,
  PING: 4,
  PONG: 12,
  CLOSED: 20,
  OK: 4,
  MAX_BID: 20,
} as const;

/** AUTH: req u32 then a 1..251-byte token. */
export const AUTH_MIN_PAYLOAD = 5;
/** ERROR: req u32, code u8, then a 0..250-byte message. */
export const ERROR_HEADER_PAYLOAD = 5;
export const MAX_ERROR_MESSAGE = MAX_PAYLOAD - ERROR_HEADER_PAYLOAD;

/** Amounts are u64 on the wire but must be exact JS numbers: 1..2^53-1. */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;
/** SUBSCRIBE `since` value that asks for no replay. */
export const NO_REPLAY = 0xffffffff;

/** Whole frame sizes the server writes most. */
export const RESULT_FRAME_SIZE = HEADER_SIZE + PayloadLength.RESULT;
export const UPDATE_FRAME_SIZE = HEADER_SIZE + PayloadLength.UPDATE;
export const BID_FRAME_SIZE = HEADER_SIZE + PayloadLength.BID;
