// Runs of SUBSCRIBE, UNSUBSCRIBE and BID requests sent pipelined on one connection, and the
// checks the contract's subscription rules make of what comes back: every request answered
// exactly once; per auction, SUBSCRIBE and UNSUBSCRIBE answered in request order (so a STATE
// comes before the OK of an UNSUBSCRIBE sent after it); no UPDATE or CLOSED of an auction while
// the connection does not follow it (before a STATE, after an UNSUBSCRIBE's OK); no UPDATE seq
// twice (the runs ask for no replay).

import { encodeBid, encodeSubscribe, encodeUnsubscribe, type Frame } from "../../src/protocol/codec.ts";
import { ErrorCode, FrameType, MAX_FRAME, NO_REPLAY, Phase } from "../../src/protocol/constants.ts";
import type { RawClient } from "./raw-client.ts";

export type SubscriptionOp =
  | { kind: "subscribe"; auction: number }
  | { kind: "unsubscribe"; auction: number }
  | { kind: "bid"; auction: number; user: number; amount: number };

export type SentRequest = SubscriptionOp & { req: number };

/** Gives the ops reqs first..first+n-1, in order. */
export function numbered(ops: readonly SubscriptionOp[], first = 1): SentRequest[] {
  return ops.map((op, i) => ({ ...op, req: first + i }));
}

/** The requests back to back, as one pipelined stream (SUBSCRIBEs ask for no replay). */
export function encodeRequests(requests: readonly SentRequest[]): Uint8Array {
  const out = new Uint8Array(requests.length * MAX_FRAME);
  let offset = 0;
  for (const r of requests) {
    if (r.kind === "subscribe") offset = encodeSubscribe(out, offset, r.req, r.auction, NO_REPLAY);
    else if (r.kind === "unsubscribe") offset = encodeUnsubscribe(out, offset, r.req, r.auction);
    else offset = encodeBid(out, offset, r.req, r.auction, r.user, r.amount);
  }
  return out.slice(0, offset);
}

const REPLY_TYPES = new Set<number>([FrameType.STATE, FrameType.OK, FrameType.ERROR, FrameType.RESULT]);

/** Frames that answer a request (as opposed to pushed UPDATEs and CLOSEDs). */
export function replies(frames: readonly Frame[]): (Frame & { req: number })[] {
  return frames.filter((f) => REPLY_TYPES.has(f.type)) as (Frame & { req: number })[];
}

/** Waits until `count` replies arrived on the client. */
export async function waitForReplies(client: RawClient, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (replies(client.frames).length < count) {
    if (client.isClosed()) throw new Error(`connection closed with ${replies(client.frames).length} of ${count} replies`);
    if (Date.now() > deadline) throw new Error(`timed out with ${replies(client.frames).length} of ${count} replies`);
    await Bun.sleep(5);
  }
}

export interface AuctionOutcome {
  /** The connection follows the auction after its last answered SUBSCRIBE / UNSUBSCRIBE. */
  following: boolean;
  /** The seq of the last STATE or UPDATE of the auction received. */
  lastSeq: number;
  /** SUBSCRIBEs answered with STATE, and UNSUBSCRIBEs with OK. */
  states: number;
  oks: number;
  /** Requests refused with ERROR LIMIT. */
  limited: number;
}

function fail(message: string): never {
  throw new Error(message);
}

/** Checks the replies and pushes against the rules above; returns what each auction ended as. */
export function checkSubscriptionReplies(requests: readonly SentRequest[], frames: readonly Frame[]): Map<number, AuctionOutcome> {
  const byReq = new Map<number, SentRequest>();
  for (const r of requests) byReq.set(r.req, r);
  const answered = new Map<number, Frame>();
  /** Per auction, the reqs of its SUBSCRIBEs and UNSUBSCRIBEs that were not refused, in answer order. */
  const answerOrder = new Map<number, number[]>();
  const outcomes = new Map<number, AuctionOutcome>();
  const outcome = (auction: number): AuctionOutcome => {
    let o = outcomes.get(auction);
    if (o === undefined) outcomes.set(auction, (o = { following: false, lastSeq: 0, states: 0, oks: 0, limited: 0 }));
    return o;
  };

  frames.forEach((frame, at) => {
    const where = `frame ${at} (${JSON.stringify(frame)})`;
    if (frame.type === FrameType.UPDATE || frame.type === FrameType.CLOSED) {
      const o = outcome(frame.auction);
      if (!o.following) fail(`${where}: pushed while the connection does not follow auction ${frame.auction}`);
      if (frame.type === FrameType.UPDATE) {
        if (frame.seq <= o.lastSeq) fail(`${where}: seq ${frame.seq} after seq ${o.lastSeq} already seen`);
        o.lastSeq = frame.seq;
      }
      return;
    }
    if (!REPLY_TYPES.has(frame.type)) fail(`${where}: unexpected frame`);
    const req = (frame as { req: number }).req;
    const request = byReq.get(req) ?? fail(`${where}: answers no request sent`);
    if (answered.has(req)) fail(`${where}: req ${req} answered twice (first ${JSON.stringify(answered.get(req))})`);
    answered.set(req, frame);
    const o = outcome(request.auction);
    if (frame.type === FrameType.ERROR) {
      if (request.kind === "bid" || frame.code !== ErrorCode.LIMIT) fail(`${where}: unexpected ERROR for ${request.kind}`);
      o.limited++;
      return;
    }
    if (request.kind === "bid") {
      if (frame.type !== FrameType.RESULT) fail(`${where}: a BID answered with type ${frame.type}`);
      return;
    }
    const order = answerOrder.get(request.auction) ?? [];
    answerOrder.set(request.auction, order);
    order.push(req);
    if (request.kind === "subscribe") {
      if (frame.type !== FrameType.STATE || frame.auction !== request.auction) fail(`${where}: a SUBSCRIBE answered otherwise than by its STATE`);
      o.states++;
      if (frame.phase === Phase.UNKNOWN) {
        o.following = false;
        return;
      }
      if (frame.seq < o.lastSeq) fail(`${where}: STATE seq ${frame.seq} behind seq ${o.lastSeq} already seen`);
      o.following = true;
      o.lastSeq = frame.seq;
    } else {
      if (frame.type !== FrameType.OK) fail(`${where}: an UNSUBSCRIBE answered with type ${frame.type}`);
      o.oks++;
      o.following = false;
    }
  });

  for (const r of requests) if (!answered.has(r.req)) fail(`req ${r.req} (${r.kind} of auction ${r.auction}) was not answered`);
  // Request order per auction, leaving out the refused ones (they change nothing).
  for (const [auction, order] of answerOrder) {
    const expected = requests
      .filter((r) => r.kind !== "bid" && r.auction === auction && answered.get(r.req)!.type !== FrameType.ERROR)
      .map((r) => r.req);
    if (JSON.stringify(order) !== JSON.stringify(expected)) {
      fail(`auction ${auction}: SUBSCRIBE/UNSUBSCRIBE answered in the order [${order.join(",")}], sent as [${expected.join(",")}]`);
    }
  }
  return outcomes;
}
