// The client SDK's public surface; see docs/protocol.md.

export {
  type AuctionSnapshot,
  type BidResult,
  CLOSE_TIMEOUT_MS,
  type ConnectOptions,
  DEFAULT_HOST,
  DEFAULT_MAX_QUEUED_BYTES,
  type ErrorListener,
  GavelClient,
  type PushFrame,
  type PushListener,
} from "./client.ts";
export { GavelBackpressureError, GavelConnectionError, GavelError, GavelProtocolError } from "./errors.ts";
// The closed sets a caller compares results with.
export { ErrorCode, FrameType, NO_REPLAY, Phase, Status } from "../protocol/constants.ts";
