// What the server does with each whole frame a client sends; see docs/protocol.md.
// The hot path (BID and MAX_BID) decodes straight into the ring and allocates nothing.

import {
  clientFrameFit,
  decodeAuth,
  decodeBid,
  decodeReqAuction,
  decodeSubscribe,
  Fit,
  isInvalidBid,
  readReq,
  type AuthFields,
  type BidFields,
  type ReqAuctionFields,
  type SubscribeFields,
} from "../protocol/codec.ts";
import { ErrorCode, FrameType, Phase, Status } from "../protocol/constants.ts";
import { malformedMessage } from "../protocol/frame-table.ts";
import { Limit, type LimitLog } from "../log/limit-log.ts";
import { phaseAt } from "../auction/auction.ts";
import { BidKind } from "../auction/bid-rule.ts";
import type { BidRing } from "../queue/bid-ring.ts";
import type { Drain } from "../queue/drain.ts";
import type { Store } from "../store/store.ts";
import { PauseReason, type Connection } from "./connection.ts";
import { STORE_UNAVAILABLE, type SubscriptionHub } from "../live/subscription-hub.ts";
import type { TokenVerifier } from "../auth/token-verifier.ts";
import type { BidRateLimiter } from "./limits/bid-rate-limiter.ts";
import type { ReplyPath } from "./reply-path.ts";


export interface RequestContext {
  ring: BidRing<Connection>;
  drain: Drain<Connection>;
  store: Store;
  hub: SubscriptionHub<Connection>;
  /** Connections to write to at the end of this tick. */
  markDirty(connection: Connection): void;
  /** Pre-store RESULTs, and the ring's backpressure on this reader. */
  replyPath: ReplyPath;
  /** GAVEL_AUTH=jwt: verifies AUTH tokens; null when authentication is off. */
  verifier?: TokenVerifier | null;
  /** GAVEL_BID_RATE: the per-user buckets; null when there is no limit. */
  bidLimiter?: BidRateLimiter | null;
  /** Counts limits hit, for the sampled log line (never a line per bid). */
  limitLog?: LimitLog;
}

export class RequestHandler {
  // Frames are decoded into these, reused: nothing is allocated per frame.
  private readonly bid: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: false };
  private readonly subscription: SubscribeFields = { req: 0, auction: 0, since: 0 };
  private readonly reqAuction: ReqAuctionFields = { req: 0, auction: 0 };
  private readonly auth: AuthFields = { req: 0, tokenStart: 0, tokenEnd: 0 };
  shuttingDown = false;
  private readonly verifier: TokenVerifier | null;
  private readonly bidLimiter: BidRateLimiter | null;

  constructor(private readonly ctx: RequestContext) {
    this.verifier = ctx.verifier ?? null;
    this.bidLimiter = ctx.bidLimiter ?? null;
  }

  /** Handles one frame; returns false when the connection must stop reading (MALFORMED). */
  handleFrame(connection: Connection, type: number, bytes: Uint8Array, payload: number, length: number): boolean {
    const fit = clientFrameFit(type, length);
    if (fit !== Fit.OK) {
      if (fit === Fit.MALFORMED) {
        connection.queueError(0, ErrorCode.MALFORMED, malformedMessage(type, length));
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

    if (this.verifier !== null && type !== FrameType.PING && type !== FrameType.AUTH) {
      // With authentication on, only PING and AUTH pass without a live token.
      if (connection.authUser === 0 || Date.now() >= connection.authExpiresAt) {
        const why = connection.authUser === 0 ? "send AUTH first" : "the token has expired: send AUTH again";
        connection.queueError(readReq(bytes, payload), ErrorCode.UNAUTHENTICATED, why);
        this.ctx.markDirty(connection);
        return true;
      }
    }

    switch (type) {
      case FrameType.BID:
        this.handleBid(connection, bytes, payload, BidKind.BID);
        break;
      case FrameType.MAX_BID:
        // The same layout and checks as BID; the store applies the proxy rule.
        this.handleBid(connection, bytes, payload, BidKind.MAX);
        break;
      case FrameType.PING:
        connection.queuePong(readReq(bytes, payload), this.ctx.store.now());
        this.ctx.markDirty(connection);
        break;
      case FrameType.QUERY: {
        const query = decodeReqAuction(bytes, payload, this.reqAuction);
        this.handleQuery(connection, query.req, query.auction);
        break;
      }
      case FrameType.SUBSCRIBE: {
        const subscribe = decodeSubscribe(bytes, payload, this.subscription);
        this.ctx.hub.subscribe(connection, subscribe.req, subscribe.auction, subscribe.since);
        break;
      }
      case FrameType.UNSUBSCRIBE: {
        // The hub answers it, in order with the SUBSCRIBEs of the same auction before it.
        const unsubscribe = decodeReqAuction(bytes, payload, this.reqAuction);
        this.ctx.hub.unsubscribe(connection, unsubscribe.req, unsubscribe.auction);
        break;
      }
      case FrameType.AUTH:
        if (this.verifier !== null) this.handleAuth(connection, this.verifier, bytes, payload, length);
        else {
          // No authentication configured: the contract answers OK.
          connection.queueOk(readReq(bytes, payload));
          this.ctx.markDirty(connection);
        }
        break;
    }
    return true;
  }

  private handleBid(connection: Connection, bytes: Uint8Array, payload: number, kind: BidKind): void {
    const bid = decodeBid(bytes, payload, this.bid);
    const { ring, replyPath } = this.ctx;
    // The contract's order: FORBIDDEN, INVALID, RATE_LIMITED, OVERLOADED, then the store.
    if (this.verifier !== null && bid.user !== connection.authUser) {
      replyPath.answer(connection, bid.req, Status.FORBIDDEN, bid.auction);
      return;
    }
    if (isInvalidBid(bid)) {
      replyPath.answer(connection, bid.req, Status.INVALID, bid.auction);
      return;
    }
    if (this.bidLimiter !== null && !this.bidLimiter.take(bid.user, Date.now())) {
      this.ctx.limitLog?.hit(Limit.BID_RATE);
      replyPath.answer(connection, bid.req, Status.RATE_LIMITED, bid.auction);
      return;
    }
    if (!ring.push(connection, bid.req, bid.auction, bid.user, bid.amount, connection.chunkReadAt, kind)) {
      this.ctx.limitLog?.hit(Limit.QUEUE);
      replyPath.answer(connection, bid.req, Status.OVERLOADED, bid.auction);
      return;
    }
    replyPath.queued(connection);
    this.ctx.drain.schedule();
  }

  /**
   * Verifies an AUTH token (asynchronously: jose uses WebCrypto). Until it is decided, the
   * connection reads no further frames: its assembler keeps the rest of the stream and the
   * socket is paused, so every frame sent after the AUTH is judged with the identity the AUTH
   * established (or, when it failed, with none). A failed AUTH leaves the connection
   * unauthenticated, whatever it was before: the frames after it were meant for the new user.
   */
  private handleAuth(connection: Connection, verifier: TokenVerifier, bytes: Uint8Array, payload: number, length: number): void {
    const { req, tokenStart, tokenEnd } = decodeAuth(bytes, payload, length, this.auth);
    // The token bytes are only valid during this call: verifyBytes decodes them at once.
    const verification = verifier.verifyBytes(bytes, tokenStart, tokenEnd);
    connection.pending++;
    connection.holdFrames(PauseReason.AUTH);
    void verification.then((result) => {
      connection.pending--;
      if (result.ok) {
        connection.authUser = result.user;
        connection.authExpiresAt = result.expiresAt;
        connection.queueOk(req);
      } else {
        connection.authUser = 0;
        connection.authExpiresAt = 0;
        connection.queueError(req, ErrorCode.AUTH_FAILED, result.reason);
      }
      this.ctx.markDirty(connection);
      if (connection.closed) return;
      connection.releaseFrames(PauseReason.AUTH);
    });
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
        connection.queueError(req, ErrorCode.UNAVAILABLE, STORE_UNAVAILABLE);
        this.ctx.markDirty(connection);
      },
    );
  }
}
