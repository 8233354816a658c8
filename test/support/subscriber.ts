// A subscriber for live-auction tests: a raw connection that SUBSCRIBEs and collects what the
// server pushes, with helpers to wait for a given seq or CLOSED.

import { encodeSubscribe, type Frame } from "../../src/protocol/codec.ts";
import { FrameType, NO_REPLAY, PayloadLength, HEADER_SIZE } from "../../src/protocol/constants.ts";
import { connectRaw, type RawClient } from "./raw-client.ts";

export type Update = Extract<Frame, { type: typeof FrameType.UPDATE }>;
export type Closed = Extract<Frame, { type: typeof FrameType.CLOSED }>;
export type State = Extract<Frame, { type: typeof FrameType.STATE }>;

export interface Subscriber {
  client: RawClient;
  updates(auction?: number): Update[];
  closed(auction?: number): Closed[];
  states(): State[];
  /** Waits until an UPDATE with this seq (or higher) arrived for the auction. */
  waitForSeq(auction: number, seq: number, timeoutMs?: number): Promise<void>;
  waitForClosed(auction: number, timeoutMs?: number): Promise<Closed>;
  close(): void;
}

async function until(check: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await Bun.sleep(5);
  }
}

export async function subscribe(port: number, auctions: number[], since = NO_REPLAY): Promise<Subscriber> {
  const client = await connectRaw(port);
  const bytes = new Uint8Array(auctions.length * (HEADER_SIZE + PayloadLength.SUBSCRIBE));
  let offset = 0;
  auctions.forEach((auction, i) => (offset = encodeSubscribe(bytes, offset, i + 1, auction, since)));
  client.send(bytes);
  await client.waitFor(auctions.length);
  const of = <T extends Frame>(type: number, auction?: number) =>
    client.frames.filter((f) => f.type === type && (auction === undefined || (f as { auction: number }).auction === auction)) as T[];
  return {
    client,
    updates: (auction) => of<Update>(FrameType.UPDATE, auction),
    closed: (auction) => of<Closed>(FrameType.CLOSED, auction),
    states: () => of<State>(FrameType.STATE),
    async waitForSeq(auction, seq, timeoutMs = 15_000) {
      await until(
        () => of<Update>(FrameType.UPDATE, auction).some((u) => u.seq >= seq),
        () => `seq ${seq} of auction ${auction} (have ${of<Update>(FrameType.UPDATE, auction).at(-1)?.seq})`,
        timeoutMs,
      );
    },
    async waitForClosed(auction, timeoutMs = 15_000) {
      await until(() => of<Closed>(FrameType.CLOSED, auction).length > 0, () => `CLOSED of auction ${auction}`, timeoutMs);
      return of<Closed>(FrameType.CLOSED, auction)[0]!;
    },
    close: () => client.close(),
  };
}

/** Every seq from `from` to `to`, once each, in order: the no-gap, no-duplicate check. */
export function expectSeqRun(updates: Update[], from: number, to: number): void {
  const seqs = updates.map((u) => u.seq);
  const expected = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  if (JSON.stringify(seqs) !== JSON.stringify(expected)) {
    throw new Error(`expected seq ${from}..${to} in order, got [${seqs.slice(0, 20).join(",")}${seqs.length > 20 ? ",…" : ""}] (${seqs.length})`);
  }
}
