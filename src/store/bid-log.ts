// The SQLite store's bid history: one row per drain batch, holding that batch's accepted bids
// packed back to back. One INSERT per batch instead of one per bid (and no per-auction UPDATE:
// an auction's state is its last logged bid) is what lets the durable store keep up with the
// in-memory one. `bid-locator.ts` finds each (auction, seq) in it.

import { readU32, readU64, writeU32, writeU64 } from "../protocol/bytes.ts";
import type { HistoryEntry } from "./store.ts";

/** auction u32, seq u32, amount u64, user u32, at u64, ends_at u64; big-endian. */
export const LOG_ENTRY_SIZE = 36;

export interface LoggedBid extends HistoryEntry {
  auction: number;
}

/** Packs one batch's accepted bids into a reused buffer. */
export class BidLogWriter {
  private readonly bytes: Uint8Array;
  count = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity * LOG_ENTRY_SIZE);
  }

  reset(): void {
    this.count = 0;
  }

  /** Appends a bid; returns its index in this batch's row. */
  add(auction: number, seq: number, amount: number, user: number, at: number, endsAt: number): number {
    const o = this.count * LOG_ENTRY_SIZE;
    writeU32(this.bytes, o, auction);
    writeU32(this.bytes, o + 4, seq);
    writeU64(this.bytes, o + 8, amount);
    writeU32(this.bytes, o + 16, user);
    writeU64(this.bytes, o + 20, at);
    writeU64(this.bytes, o + 28, endsAt);
    return this.count++;
  }

  /** Bid `index` of the batch being packed. */
  entry(index: number): LoggedBid {
    return readLoggedBid(this.bytes, index);
  }

  /** The row's bytes (a view: SQLite copies it when binding). */
  packed(): Uint8Array {
    return this.bytes.subarray(0, this.count * LOG_ENTRY_SIZE);
  }
}

export function entryCount(row: Uint8Array): number {
  return Math.floor(row.length / LOG_ENTRY_SIZE);
}

export function readLoggedBid(row: Uint8Array, index: number): LoggedBid {
  const o = index * LOG_ENTRY_SIZE;
  return {
    auction: readU32(row, o),
    seq: readU32(row, o + 4),
    amount: readU64(row, o + 8),
    user: readU32(row, o + 16),
    at: readU64(row, o + 20),
    endsAt: readU64(row, o + 28),
  };
}
