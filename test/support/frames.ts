// Builds a run of client frames to send in one write (pipelined), for tests that need the
// exact order of requests on the wire.

import { encodeAuth, encodeBid, encodeMaxBid, encodePing, encodeQuery, encodeSubscribe, encodeUnsubscribe } from "../../src/protocol/codec.ts";
import { MAX_FRAME, NO_REPLAY } from "../../src/protocol/constants.ts";

const MAX_FRAMES = 64;

export class FrameBuilder {
  private readonly out = new Uint8Array(MAX_FRAMES * MAX_FRAME);
  private length = 0;

  bid(req: number, auction: number, user: number, amount: number): this {
    this.length = encodeBid(this.out, this.length, req, auction, user, amount);
    return this;
  }

  /** MAX_BID: a hidden maximum. */
  maxBid(req: number, auction: number, user: number, max: number): this {
    this.length = encodeMaxBid(this.out, this.length, req, auction, user, max);
    return this;
  }

  auth(req: number, token: string): this {
    this.length = encodeAuth(this.out, this.length, req, token);
    return this;
  }

  ping(req: number): this {
    this.length = encodePing(this.out, this.length, req);
    return this;
  }

  query(req: number, auction: number): this {
    this.length = encodeQuery(this.out, this.length, req, auction);
    return this;
  }

  subscribe(req: number, auction: number, since: number = NO_REPLAY): this {
    this.length = encodeSubscribe(this.out, this.length, req, auction, since);
    return this;
  }

  unsubscribe(req: number, auction: number): this {
    this.length = encodeUnsubscribe(this.out, this.length, req, auction);
    return this;
  }

  /** The frames so far, back to back. */
  bytes(): Uint8Array {
    return this.out.slice(0, this.length);
  }

  /** Each frame as its own array (one WebSocket message each). */
  split(): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (let at = 0; at < this.length; at += 2 + this.out[at + 1]!) frames.push(this.out.slice(at, at + 2 + this.out[at + 1]!));
    return frames;
  }
}

export function frames(): FrameBuilder {
  return new FrameBuilder();
}
