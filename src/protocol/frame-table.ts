// The one per-type table of protocol v1 frames (see docs/protocol.md): each type's name, which
// side sends it and the payload lengths it may have. The length checks and the MALFORMED
// message are derived from it.

import { AUTH_MIN_PAYLOAD, ERROR_HEADER_PAYLOAD, FrameType, MAX_PAYLOAD, PayloadLength } from "./constants.ts";

/** Which side sends a frame type. */
export const Direction = { CLIENT: 0, SERVER: 1 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** What the server makes of a frame header before reading the payload. */
export const Fit = { OK: 0, MALFORMED: 1, UNKNOWN_TYPE: 2 } as const;
export type Fit = (typeof Fit)[keyof typeof Fit];

export interface FrameSpec {
  readonly type: FrameType;
  /** The contract's name, e.g. "BID". */
  readonly name: keyof typeof FrameType;
  readonly direction: Direction;
  /** Payload length bounds, inclusive; equal for a fixed-length frame. */
  readonly minPayload: number;
  readonly maxPayload: number;
}

function fixed(name: keyof typeof FrameType & keyof typeof PayloadLength, direction: Direction): FrameSpec {
  return { type: FrameType[name], name, direction, minPayload: PayloadLength[name], maxPayload: PayloadLength[name] };
}

/** Every frame type, in type order. */
export const FRAME_SPECS: readonly FrameSpec[] = [
  fixed("BID", Direction.CLIENT),
  fixed("RESULT", Direction.SERVER),
  { type: FrameType.ERROR, name: "ERROR", direction: Direction.SERVER, minPayload: ERROR_HEADER_PAYLOAD, maxPayload: MAX_PAYLOAD },
  fixed("SUBSCRIBE", Direction.CLIENT),
  fixed("UNSUBSCRIBE", Direction.CLIENT),
  fixed("UPDATE", Direction.SERVER),
  fixed("QUERY", Direction.CLIENT),
  fixed("STATE", Direction.SERVER),
  { type: FrameType.AUTH, name: "AUTH", direction: Direction.CLIENT, minPayload: AUTH_MIN_PAYLOAD, maxPayload: MAX_PAYLOAD },
  fixed("PING", Direction.CLIENT),
  fixed("PONG", Direction.SERVER),
  fixed("CLOSED", Direction.SERVER),
  fixed("OK", Direction.SERVER),
  fixed("MAX_BID", Direction.CLIENT),
];

/** Type byte -> spec (a type byte is < 256), for a lookup without a search. */
const TYPE_BYTES = 256;
const BY_TYPE: (FrameSpec | undefined)[] = new Array<FrameSpec | undefined>(TYPE_BYTES).fill(undefined);
for (const spec of FRAME_SPECS) BY_TYPE[spec.type] = spec;

/** The spec of a frame type, or undefined for a type the protocol does not have. */
export function frameSpec(type: number): FrameSpec | undefined {
  return BY_TYPE[type];
}

/** Whether a frame of `type` with `length` payload bytes is one `direction` may send. Allocates nothing. */
export function frameFit(direction: Direction, type: number, length: number): Fit {
  const spec = BY_TYPE[type];
  if (spec === undefined || spec.direction !== direction) return Fit.UNKNOWN_TYPE;
  return length >= spec.minPayload && length <= spec.maxPayload ? Fit.OK : Fit.MALFORMED;
}

/** The lengths a type allows, as the MALFORMED message says them: "20" or "5..255". */
export function payloadLengthText(spec: FrameSpec): string {
  return spec.minPayload === spec.maxPayload ? String(spec.minPayload) : `${spec.minPayload}..${spec.maxPayload}`;
}

/** ERROR MALFORMED's message for a frame whose payload length does not fit its type. */
export function malformedMessage(type: number, length: number): string {
  const spec = BY_TYPE[type];
  return spec === undefined ? `unknown frame type ${type}` : `payload length ${length} does not fit ${spec.name} (${payloadLengthText(spec)})`;
}
