// Bids over a raw TCP connection and keeps every RESULT, for tests that follow what a client
// was told (ACCEPTED, UNAVAILABLE) across faults and restarts.

import { encodeBid, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, FrameType, Status } from "../../src/protocol/constants.ts";
import { connectRaw, type RawClient } from "./raw-client.ts";

export type Result = Extract<Frame, { type: typeof FrameType.RESULT }>;

const BID_TIMEOUT_MS = 10_000;

export class Bidder {
  private req = 0;
  /** Every RESULT received, in order. */
  readonly results: Result[] = [];

  private constructor(
    private readonly client: RawClient,
    private readonly auction: number,
    /** The next amount: every bid outbids the last (one rising stream per bidder). */
    private amount: number,
  ) {}

  static async connect(port: number, auction: number, firstAmount = 1000): Promise<Bidder> {
    return new Bidder(await connectRaw(port), auction, firstAmount);
  }

  /** Sends `count` rising bids at once and waits for their RESULTs; returns them. */
  async send(count: number): Promise<Result[]> {
    const bytes = new Uint8Array(count * BID_FRAME_SIZE);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      this.req++;
      offset = encodeBid(bytes, offset, this.req, this.auction, 1 + (this.req % 5), this.amount++);
    }
    const before = this.client.frames.length;
    this.client.send(bytes);
    const frames = await this.client.waitFor(before + count, BID_TIMEOUT_MS);
    const results = frames.slice(before).filter((f): f is Result => f.type === FrameType.RESULT);
    this.results.push(...results);
    return results;
  }

  /** Sends one bid; returns its status. */
  async one(): Promise<number> {
    const [result] = await this.send(1);
    return result!.status;
  }

  accepted(): Result[] {
    return this.results.filter((r) => r.status === Status.ACCEPTED);
  }

  close(): void {
    this.client.close();
  }
}

/** Every bid of an auction's history, through the admin API (all pages). */
export async function allBids(httpUrl: string, auction: number): Promise<{ seq: number; amount: number }[]> {
  const bids: { seq: number; amount: number }[] = [];
  let next: string | null = `/v1/auctions/${auction}/bids?limit=500`;
  while (next !== null) {
    const page = (await (await fetch(httpUrl + next)).json()) as { bids: { seq: number; amount: number }[]; next: string | null };
    bids.push(...page.bids);
    next = page.next;
  }
  return bids;
}
