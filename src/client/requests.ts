// Request correlation: each request gets a `req` from a wrapping u32 counter and waits in a
// map until the reply carrying that `req` settles it. Replies may come in any order.

import { FrameType } from "../protocol/constants.ts";
import { GavelProtocolError } from "./errors.ts";

/** The reply type each request waits for. */
export type ReplyType = typeof FrameType.RESULT | typeof FrameType.STATE | typeof FrameType.PONG | typeof FrameType.OK;

export interface Pending {
  expect: ReplyType;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

const MAX_U32 = 0xffff_ffff;
/** `req` 0 is ERROR's "tied to no request": never handed out. */
const FIRST_REQ = 1;

export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextReq = FIRST_REQ;

  /** Requests sent and not yet answered. */
  get size(): number {
    return this.pending.size;
  }

  /** The next `req`: a u32 that wraps, skipping 0 and ids still pending. */
  take(): number {
    let req = this.nextReq;
    while (this.pending.has(req)) req = req === MAX_U32 ? FIRST_REQ : req + 1;
    this.nextReq = req === MAX_U32 ? FIRST_REQ : req + 1;
    return req;
  }

  /** Registers a request whose reply is handled by the caller's callbacks. */
  add(req: number, pending: Pending): void {
    this.pending.set(req, pending);
  }

  /** Registers a request; the promise settles with its reply's value or ERROR. */
  wait<T>(req: number, expect: ReplyType): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req, { expect, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /**
   * A reply arrived. No such request: nothing times out here, so this is a server bug;
   * dropping the reply keeps the other requests going.
   */
  settle(req: number, type: ReplyType, value: unknown): void {
    const pending = this.pending.get(req);
    if (!pending) return;
    this.pending.delete(req);
    if (pending.expect === type) pending.resolve(value);
    else pending.reject(new GavelProtocolError(`req ${req} expected reply type ${pending.expect}, got ${type}`));
  }

  /** An ERROR for `req`: rejects it; false when nobody waits on that `req`. */
  fail(req: number, error: Error): boolean {
    const pending = this.pending.get(req);
    if (!pending) return false;
    this.pending.delete(req);
    pending.reject(error);
    return true;
  }

  /** Rejects everything pending (the connection is gone or about to be). */
  rejectAll(reason: Error): void {
    if (this.pending.size === 0) return;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(reason);
  }
}
