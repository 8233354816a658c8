// The SQLite store's bid history: one row per drain batch, holding that batch's accepted bids
// packed back to back. One INSERT per batch instead of one per bid (and no per-auction UPDATE:
// an auction's state is its last logged bid) is what lets the durable store keep up with the
// in-memory one. `bid-locator.ts` finds each (auction, seq) in it.

import { readU32, readU64, writeU32, writeU64 } from "../protocol/bytes.ts";
import { StepBy } from "../auction/auction.ts";
import type { HistoryEntry } from "./store.ts";

/**
 * auction u32, seq u32, amount u64, user u32, at u64, ends_at u64, top u64, flags u8;
 * big-endian. `top` is the leader's hidden maximum after the entry (never read out of the
 * store: it only restores the auction at start-up).
 */
export const LOG_ENTRY_SIZE = 45;
/** The layout of schema version 2 and before: no top, no flags (sqlite.ts migrates it). */
export const LOG_ENTRY_SIZE_V2 = 36;

/** Bits of an entry's flags byte. */
export const LogFlag = {
  /** The step was placed by a maximum (StepBy.MAX), not the bidder's own BID. */
  BY_MAX: 1,
  /**
   * Not a step: the leader raised their own hidden maximum (a MAX_BID that changed nothing
   * visible). seq, amount, leader and ends_at repeat the auction's; only `top` is news. Not
   * history: the bid locator never holds it.
   */
  TOP_ONLY: 2,
} as const;

export interface LoggedBid extends HistoryEntry {
  auction: number;
  top: number;
  /** True for a LogFlag.TOP_ONLY entry. */
  topOnly: boolean;
}

/** Packs one batch's accepted bids into a reused buffer. */
export class BidLogWriter {
  private readonly bytes: Uint8Array;
  count = 0;
  /**
   * Per entry, the auction's hidden maximum before it (not logged): a batch whose transaction
   * rolls back puts each auction's maximum back from its first entry.
   */
  readonly topBefore: Float64Array;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity * LOG_ENTRY_SIZE);
    this.topBefore = new Float64Array(capacity);
  }

  reset(): void {
    this.count = 0;
  }

  /** Appends an entry (a step, or with LogFlag.TOP_ONLY a new hidden maximum); returns its index in this batch's row. */
  add(auction: number, seq: number, amount: number, user: number, at: number, endsAt: number, top: number, flags: number): number {
    writeEntry(this.bytes, this.count * LOG_ENTRY_SIZE, auction, seq, amount, user, at, endsAt, top, flags);
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

function writeEntry(bytes: Uint8Array, o: number, auction: number, seq: number, amount: number, user: number, at: number, endsAt: number, top: number, flags: number): void {
  writeU32(bytes, o, auction);
  writeU32(bytes, o + 4, seq);
  writeU64(bytes, o + 8, amount);
  writeU32(bytes, o + 16, user);
  writeU64(bytes, o + 20, at);
  writeU64(bytes, o + 28, endsAt);
  writeU64(bytes, o + 36, top);
  bytes[o + 44] = flags;
}

export function readLoggedBid(row: Uint8Array, index: number): LoggedBid {
  const o = index * LOG_ENTRY_SIZE;
  const flags = row[o + 44]!;
  return {
    auction: readU32(row, o),
    seq: readU32(row, o + 4),
    amount: readU64(row, o + 8),
    user: readU32(row, o + 16),
    at: readU64(row, o + 20),
    endsAt: readU64(row, o + 28),
    top: readU64(row, o + 36),
    by: (flags & LogFlag.BY_MAX) !== 0 ? StepBy.MAX : StepBy.BID,
    topOnly: (flags & LogFlag.TOP_ONLY) !== 0,
  };
}

/**
 * A log row written by schema version 2 or before (36-byte entries of plain BIDs) in this
 * layout: each entry's top is its amount (no maximum existed), placed by a BID.
 */
export function upgradeLogRowV2(row: Uint8Array): Uint8Array {
  const count = Math.floor(row.length / LOG_ENTRY_SIZE_V2);
  const out = new Uint8Array(count * LOG_ENTRY_SIZE);
  for (let i = 0; i < count; i++) {
    const o = i * LOG_ENTRY_SIZE_V2;
    const amount = readU64(row, o + 8);
    writeEntry(out, i * LOG_ENTRY_SIZE, readU32(row, o), readU32(row, o + 4), amount, readU32(row, o + 16), readU64(row, o + 20), readU64(row, o + 28), amount, 0);
  }
  return out;
}
