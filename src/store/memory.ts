// The in-process store: the bid rule over a Map. For tests and benchmarks, and the table the
// SQLite store writes through.

import { freshAuction, phaseAt, type AuctionState } from "../auction/auction.ts";
import { applyBidRule, closeAuction } from "../auction/bid-rule.ts";
import { Status, type Phase } from "../protocol/constants.ts";
import { AuctionHistory } from "./auction-history.ts";
import type { CancelResult, ClosedAuction, CreateResult, HistoryEntry, NewAuction, Store, StoreBatch } from "./store.ts";
import { IdsExhaustedError } from "./errors.ts";

/** The highest auction id: ids are u32 on the wire, 0 is "none". */
export const MAX_AUCTION_ID = 0xffff_ffff;

/** Auctions held in a Map, bids applied with the shared rule. Allocates nothing per bid. */
export class AuctionTable {
  readonly auctions = new Map<number, AuctionState>();
  /**
   * Where the search for a generated id starts: one past the highest id so far, so ids run
   * 1, 2, 3, ... in O(1). Past `maxId` it wraps to 1 and walks up to the first free id; the
   * walk resumes from there next time, so each taken id is stepped over once per wrap.
   */
  private nextCandidate = 1;

  /** `maxId` is the highest id handed out (tests use a small one). */
  constructor(private readonly maxId: number = MAX_AUCTION_ID) {}

  /** Applies bid `i` of the batch at `now`; returns the auction when it was ACCEPTED. */
  applyOne(batch: StoreBatch, i: number, now: number): AuctionState | null {
    const auction = this.auctions.get(batch.auction[i]!);
    if (auction === undefined) {
      batch.status[i] = Status.UNKNOWN;
      batch.resultAmount[i] = 0;
      batch.resultLeader[i] = 0;
      return null;
    }
    const status = applyBidRule(auction, batch.user[i]!, batch.amount[i]!, now);
    batch.status[i] = status;
    batch.resultAmount[i] = auction.amount;
    batch.resultLeader[i] = auction.leader;
    batch.seq[i] = auction.seq;
    batch.endsAt[i] = auction.endsAt;
    return status === Status.ACCEPTED ? auction : null;
  }

  /** Adds an auction; id 0 takes the next free id, starts_at 0 means now. */
  insert(spec: NewAuction): CreateResult {
    const id = spec.id === 0 ? this.nextId() : spec.id;
    if (this.auctions.has(id)) return { created: false, reason: "exists" };
    const auction = freshAuction({ ...spec, id, startsAt: spec.startsAt === 0 ? Date.now() : spec.startsAt });
    this.put(auction);
    return { created: true, auction: { ...auction } };
  }

  put(auction: AuctionState): void {
    this.auctions.set(auction.id, auction);
    if (auction.id >= this.nextCandidate) this.nextCandidate = auction.id + 1;
  }

  /** Closes every auction past its end, at most `limit`; returns them (now closed). */
  closeDue(now: number, limit: number): AuctionState[] {
    const closed: AuctionState[] = [];
    for (const auction of this.auctions.values()) {
      if (closed.length >= limit) break;
      if (!auction.closed && now >= auction.endsAt) {
        closeAuction(auction);
        closed.push(auction);
      }
    }
    return closed;
  }

  /** Cancels an auction that has not ended; returns it, or why not. */
  cancel(id: number, now: number): AuctionState | "unknown" | "closed" {
    const auction = this.auctions.get(id);
    if (auction === undefined) return "unknown";
    if (auction.closed || now >= auction.endsAt) return "closed";
    auction.closed = true;
    auction.winner = 0;
    auction.endsAt = now;
    return auction;
  }

  list(phase: Phase | null, afterId: number, limit: number, now: number): AuctionState[] {
    const ids = [...this.auctions.keys()].filter((id) => id > afterId).sort((a, b) => a - b);
    const page: AuctionState[] = [];
    for (const id of ids) {
      const auction = this.auctions.get(id)!;
      if (phase !== null && phaseAt(auction, now) !== phase) continue;
      page.push({ ...auction });
      if (page.length >= limit) break;
    }
    return page;
  }

  /** The next free id in 1..maxId, or IdsExhaustedError when every one is taken. */
  private nextId(): number {
    if (this.auctions.size >= this.maxId) {
      throw new IdsExhaustedError(`auction ids exhausted: every id from 1 to ${this.maxId} is taken`);
    }
    // A free id exists (fewer auctions than ids), so the walk ends.
    let id = this.nextCandidate;
    for (;;) {
      if (id > this.maxId) id = 1;
      if (!this.auctions.has(id)) break;
      id++;
    }
    this.nextCandidate = id + 1;
    return id;
  }
}

/** CLOSED's fields for an auction the closing step (or cancel) just closed. */
export function closedFields(auction: AuctionState): ClosedAuction {
  return { id: auction.id, seq: auction.seq, winner: auction.winner, amount: auction.winner === 0 ? 0 : auction.amount };
}

export class MemoryStore implements Store {
  readonly kind = "memory";
  private readonly table: AuctionTable;
  private readonly histories = new Map<number, AuctionHistory>();

  /** `maxAuctionId`: the highest id handed out (1..2^32-1 by default; tests use a small one). */
  constructor(options: { maxAuctionId?: number } = {}) {
    this.table = new AuctionTable(options.maxAuctionId);
  }

  applyBids(batch: StoreBatch): void {
    const now = Date.now();
    for (let i = 0; i < batch.count; i++) {
      const accepted = this.table.applyOne(batch, i, now);
      if (accepted !== null) this.histories.get(accepted.id)!.record(accepted.amount, accepted.leader, now, accepted.endsAt);
    }
  }

  async createAuction(spec: NewAuction): Promise<CreateResult> {
    const result = this.table.insert(spec);
    if (result.created) this.histories.set(result.auction.id, new AuctionHistory());
    return result;
  }

  async getAuction(id: number): Promise<AuctionState | null> {
    const auction = this.table.auctions.get(id);
    return auction === undefined ? null : { ...auction };
  }

  async listAuctions(phase: Phase | null, afterId: number, limit: number): Promise<AuctionState[]> {
    return this.table.list(phase, afterId, limit, this.now());
  }

  async history(auction: number, afterSeq: number, limit: number): Promise<HistoryEntry[]> {
    return this.histories.get(auction)?.after(afterSeq, limit) ?? [];
  }

  async historyNewestFirst(auction: number, beforeSeq: number, limit: number): Promise<HistoryEntry[]> {
    return this.histories.get(auction)?.newestFirst(beforeSeq, limit) ?? [];
  }

  async closeDue(limit: number): Promise<ClosedAuction[]> {
    return this.table.closeDue(this.now(), limit).map(closedFields);
  }

  async cancel(id: number): Promise<CancelResult> {
    const result = this.table.cancel(id, this.now());
    if (typeof result === "string") return { cancelled: false, reason: result };
    return { cancelled: true, closed: closedFields(result) };
  }

  now(): number {
    return Date.now();
  }

  unavailableReason(): string | null {
    return null;
  }

  async close(): Promise<void> {}
}
