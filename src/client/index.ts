// The client SDK's public surface (the `@gavel/client` package); see docs/sdk.md.

export { type ConnectOptions, DEFAULT_HOST, GavelClient } from "./client.ts";
export {
  type AuctionSnapshot,
  type BidResult,
  ClientCore,
  CLOSE_TIMEOUT_MS,
  type CoreOptions,
  DEFAULT_MAX_QUEUED_BYTES,
  type DisconnectListener,
  type ErrorListener,
  type PushFrame,
  type PushListener,
} from "./core.ts";
export { DEFAULT_MAX_RECONNECT_DELAY_MS, DEFAULT_RECONNECT_DELAY_MS, type ReconnectOptions } from "./reconnect.ts";
export { DEFAULT_KEEPALIVE_MS, type KeepaliveOptions } from "./keepalive.ts";
export type { ClientTlsOptions, TcpTarget, Transport, TransportFactory, TransportHandlers } from "./transport.ts";
export { bunTcpTransport } from "./transports/bun-tcp.ts";
export { nodeNetTransport } from "./transports/node-net.ts";
export { webSocketTransport } from "./transports/websocket.ts";
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
// The closed sets a caller compares results with, and their names.
export { ErrorCode, FrameType, NO_REPLAY, Phase, Status } from "../protocol/constants.ts";
export { errorCodeName, phaseName, statusName } from "../protocol/names.ts";
