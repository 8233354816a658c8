// The client SDK's public surface; see docs/protocol.md.

export {
  type AuctionSnapshot,
  type BidResult,
  type ClientTlsOptions,
  CLOSE_TIMEOUT_MS,
  type ConnectOptions,
  DEFAULT_HOST,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_RECONNECT_DELAY_MS,
  DEFAULT_RECONNECT_DELAY_MS,
  type DisconnectListener,
  type ErrorListener,
  GavelClient,
  type PushFrame,
  type PushListener,
  type ReconnectOptions,
} from "./client.ts";
export {
  type AuctionEvent,
  AuctionSubscription,
  type ClosedEvent,
  DEFAULT_MAX_BUFFERED_EVENTS,
  type StateEvent,
  type UpdateEvent,
} from "./subscription.ts";
export { GavelBackpressureError, GavelConnectionError, GavelError, GavelProtocolError } from "./errors.ts";
export { firstBidStored } from "../protocol/resubmission.ts";
// The closed sets a caller compares results with.
export { ErrorCode, FrameType, NO_REPLAY, Phase, Status } from "../protocol/constants.ts";
