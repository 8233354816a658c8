// What the server does with each whole frame a client sends; see docs/protocol.md.
// The hot path (BID) decodes straight into the ring and allocates nothing.

import { decodeBid, clientFrameFit, Fit, isInvalidBid, readReq, type BidFields } from "../protocol/codec.ts";
import { readU32 } from "../protocol/bytes.ts";
import { ErrorCode, FrameType, Phase, PayloadLength, Status, AUTH_MIN_PAYLOAD, MAX_PAYLOAD } from "../protocol/constants.ts";
import { phaseAt } from "../auction/auction.ts";
import type { BidRing } from "../queue/bid-ring.ts";
import type { Drain } from "../queue/drain.ts";
import type { Store } from "../store/store.ts";
import { PauseReason, type Connection } from "./connection.ts";
import type { SubscriptionHub } from "../auction/subscription-hub.ts";

const TYPE_NAMES: Record<number, string> = {
  [FrameType.BID]: "BID",
  [FrameType.SUBSCRIBE]: "SUBSCRIBE",
  [FrameType.UNSUBSCRIBE]: "UNSUBSCRIBE",
  [FrameType.QUERY]: "QUERY",
  [FrameType.AUTH]: "AUTH",
  [FrameType.PING]: "PING",
};

const EXPECTED_LENGTH: Record<number, string> = {
  [FrameType.BID]: String(PayloadLength.BID),
  [FrameType.SUBSCRIBE]: String(PayloadLength.SUBSCRIBE),
  [FrameType.UNSUBSCRIBE]: String(PayloadLength.UNSUBSCRIBE),
  [FrameType.QUERY]: String(PayloadLength.QUERY),
  [FrameType.AUTH]: `${AUTH_MIN_PAYLOAD}..${MAX_PAYLOAD}`,
  [FrameType.PING]: String(PayloadLength.PING),
};

export interface RequestContext {
  ring: BidRing;
  drain: Drain;
  store: Store;
  hub: SubscriptionHub;
  /** Connections to write to at the end of this tick. */
  markDirty(connection: Connection): void;
  /** Connections paused because the ring passed its high-water mark. */
  pausedForRing: Connection[];
  ringHighWater: number;
}

export class RequestHandler {
  private readonly bid: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: false };
  shuttingDown = false;

  constructor(private readonly ctx: RequestContext) {}

  /** Handles one frame; returns false when the connection must stop reading (MALFORMED). */
  handleFrame(connection: Connection, type: number, bytes: Uint8Array, payload: number, length: number): boolean {
    const fit = clientFrameFit(type, length);
    if (fit !== Fit.OK) {
      if (fit === Fit.MALFORMED) {
        connection.queueError(0, ErrorCode.MALFORMED, `payload length ${length} does not fit ${TYPE_NAMES[type]} (${EXPECTED_LENGTH[type]})`);
        connection.closeAfterFlush();
      } else {
        connection.queueError(0, ErrorCode.UNKNOWN_TYPE, `unknown frame type ${type}`);
      }
      this.ctx.markDirty(connection);
      return fit !== Fit.MALFORMED;
    }

    if (this.shuttingDown) {
      connection.queueError(readReq(bytes, payload), ErrorCode.SHUTTING_DOWN, "server is shutting down");
      this.ctx.markDirty(connection);
      return true;
    }

    switch (type) {
      case FrameType.BID:
        this.handleBid(connection, bytes, payload);
        break;
      case FrameType.PING:
        connection.queuePong(readReq(bytes, payload), this.ctx.store.now());
        this.ctx.markDirty(connection);
        break;
      case FrameType.QUERY:
        this.handleQuery(connection, readReq(bytes, payload), readU32(bytes, payload + 4));
        break;
      case FrameType.SUBSCRIBE:
        this.ctx.hub.subscribe(connection, readReq(bytes, payload), readU32(bytes, payload + 4), readU32(bytes, payload + 8));
        break;
      case FrameType.UNSUBSCRIBE:
        this.ctx.hub.unsubscribe(connection, readU32(bytes, payload + 4));
        connection.queueOk(readReq(bytes, payload));
        this.ctx.markDirty(connection);
        break;
      case FrameType.AUTH:
        // No authentication configured: the contract answers OK.
        connection.queueOk(readReq(bytes, payload));
        this.ctx.markDirty(connection);
        break;
    }
    return true;
  }

  private handleBid(connection: Connection, bytes: Uint8Array, payload: number): void {
    const bid = decodeBid(bytes, payload, this.bid);
    const { ring } = this.ctx;
    if (isInvalidBid(bid)) {
      connection.queueResult(bid.req, Status.INVALID, bid.auction, 0, 0);
      this.ctx.markDirty(connection);
      return;
    }
    if (!ring.push(connection, bid.req, bid.auction, bid.user, bid.amount)) {
      connection.queueResult(bid.req, Status.OVERLOADED, bid.auction, 0, 0);
      this.ctx.markDirty(connection);
      return;
    }
    connection.pending++;
    if (ring.length >= this.ctx.ringHighWater && !connection.assembler.isSuspended) {
      // Backpressure rather than OVERLOADED: stop reading this socket and leave the rest of
      // the chunk unparsed until the drain has made room.
      connection.pauseReading(PauseReason.RING);
      connection.assembler.suspend();
      this.ctx.pausedForRing.push(connection);
    }
    this.ctx.drain.schedule();
  }

  private handleQuery(connection: Connection, req: number, auctionId: number): void {
    const { store } = this.ctx;
    connection.pending++;
    store.getAuction(auctionId).then(
      (auction) => {
        connection.pending--;
        if (auction === null) connection.queueState(req, auctionId, Phase.UNKNOWN, 0, 0, 0, 0);
        else {
          const phase = phaseAt(auction, store.now());
          connection.queueState(req, auctionId, phase, auction.seq, auction.amount, auction.leader, auction.endsAt);
        }
        this.ctx.markDirty(connection);
      },
      () => {
        connection.pending--;
        connection.queueError(req, ErrorCode.INTERNAL, "store unavailable");
        this.ctx.markDirty(connection);
      },
    );
  }
}
