// The in-process store: the bid rule over a Map. For tests and benchmarks, and the table the
// SQLite store writes through.

import { freshAuction, phaseAt, type AuctionState } from "../auction/auction.ts";
import { applyBidRule, closeAuction, stepBy, type BidKind } from "../auction/bid-rule.ts";
import { notifyBid, notifyClose, type NotificationSink } from "../auction/notification.ts";
import { MemoryOutbox } from "./outbox-memory.ts";
import { GONE, EndsHeap, takeDue } from "../auction/ends-heap.ts";
import { Phase, Status } from "../protocol/constants.ts";
import { SortedIds } from "./sorted-ids.ts";
import { Retention } from "./retention.ts";
import { AuctionHistory } from "./auction-history.ts";
import type { CancelResult, ClosedAuction, CreateResult, HistoryEntry, NewAuction, Store, StoreBatch } from "./store.ts";
import { IdsExhaustedError } from "./errors.ts";

/** The highest auction id: ids are u32 on the wire, 0 is "none". */
export const MAX_AUCTION_ID = 0xffff_ffff;

/**
 * Auctions that are taken but not held: the SQLite store's closed auctions, which live on disk
 * only. The memory store holds every auction and has none.
 */
export interface ClosedOnDisk {
  /** The closed auction with this id, or null (read from disk: off the hot path's usual case). */
  get(id: number): AuctionState | null;
  has(id: number): boolean;
  count(): number;
}

const NONE_ON_DISK: ClosedOnDisk = { get: () => null, has: () => false, count: () => 0 };

/**
 * Auctions held in a Map, bids applied with the shared rule. Allocates nothing per bid.
 *
 * What the background work and the listing cost is what is open, not what was ever stored:
 * `live` holds the ids of the open and scheduled auctions in order, `scheduled` those not yet
 * started (as of the last promotion), `ends` and `starts` are heaps of their times, so the
 * closer pops only what is due. With `keepClosed` (the memory store) closed auctions stay in the
 * Map and their ids in `closedIds`; without it (SQLite) the store forgets them once their close
 * is written, and reads them from its file.
 */
export class AuctionTable {
  readonly auctions = new Map<number, AuctionState>();
  /** Ids of the auctions not closed (open, scheduled, or past their end but not closed yet). */
  readonly live = new SortedIds();
  /** Ids of the live auctions whose starts_at had not passed at the last promotion. */
  readonly scheduled = new SortedIds();
  /** Ids of the closed auctions held (memory store only). */
  readonly closedIds = new SortedIds();
  private readonly ends = new EndsHeap();
  /** The same heap keyed by starts_at: when a scheduled auction becomes open. */
  private readonly starts = new EndsHeap();
  /** The same heap over the closed auctions held (memory store): which are past retention. */
  private readonly expiry = new EndsHeap();
  /**
   * Where the search for a generated id starts: one past the highest id so far, so ids run
   * 1, 2, 3, ... in O(1). Past `maxId` it wraps to 1 and walks up to the first free id; the
   * walk resumes from there next time, so each taken id is stepped over once per wrap.
   */
  private nextCandidate = 1;
  /** Webhooks on: where an accepted bid's events go (the store's outbox); null: nothing is written. */
  notifications: NotificationSink | null = null;

  /** `maxId` is the highest id handed out (tests use a small one). */
  constructor(
    private readonly maxId: number = MAX_AUCTION_ID,
    private readonly keepClosed = true,
    private readonly stored: ClosedOnDisk = NONE_ON_DISK,
  ) {}

  /** The applied auction's hidden maximum before the last applyOne (a rolled-back batch restores it). */
  topBefore = 0;

  /**
   * Applies bid `i` of the batch at `now`; returns the auction when the bid changed what is
   * stored of it: a visible step (`batch.stepped[i]` is 1; its history entry is the auction's
   * amount, leader and ends_at, placed by `stepBy(batch.kind[i], batch.status[i])`), or only
   * the leader's hidden maximum (`top`). Null when nothing changed.
   */
  applyOne(batch: StoreBatch, i: number, now: number): AuctionState | null {
    const auction = this.auctions.get(batch.auction[i]!);
    if (auction === undefined) {
      // Not held: unknown, or closed and on disk (answered CLOSED with its final amount).
      const closed = this.stored.get(batch.auction[i]!);
      batch.status[i] = closed === null ? Status.UNKNOWN : Status.CLOSED;
      batch.resultAmount[i] = closed?.amount ?? 0;
      batch.resultLeader[i] = closed?.leader ?? 0;
      batch.stepped[i] = 0;
      if (closed !== null) {
        batch.seq[i] = closed.seq;
        batch.endsAt[i] = closed.endsAt;
      }
      return null;
    }
    const endsAtBefore = auction.endsAt;
    const seqBefore = auction.seq;
    const topBefore = auction.top;
    this.topBefore = topBefore;
    const leaderBefore = auction.leader;
    const status = applyBidRule(auction, batch.user[i]!, batch.amount[i]!, now, batch.kind[i] as BidKind);
    // Webhooks: each step's events, written with it (one null check when they are off). A step
    // can be OUTBID (a maximum answered): it may still extend the auction.
    if (this.notifications !== null && auction.seq !== seqBefore) notifyBid(this.notifications, auction, leaderBefore, endsAtBefore, now);
    // Buy-now ends the auction now: the closer must find it at its new, earlier end (the heap
    // entry of a later end is dropped when it comes up). Typed arrays: nothing allocated.
    if (auction.endsAt < endsAtBefore) this.ends.push(auction.endsAt, auction.id);
    batch.status[i] = status;
    batch.resultAmount[i] = auction.amount;
    batch.resultLeader[i] = auction.leader;
    batch.seq[i] = auction.seq;
    batch.endsAt[i] = auction.endsAt;
    const stepped = auction.seq !== seqBefore;
    batch.stepped[i] = stepped ? 1 : 0;
    return stepped || auction.top !== topBefore ? auction : null;
  }

  /** Adds an auction; id 0 takes the next free id, starts_at 0 means now. */
  insert(spec: NewAuction): CreateResult {
    const id = spec.id === 0 ? this.nextId() : spec.id;
    if (this.auctions.has(id) || this.stored.has(id)) return { created: false, reason: "exists" };
    const auction = freshAuction({ ...spec, id, startsAt: spec.startsAt === 0 ? Date.now() : spec.startsAt });
    this.put(auction);
    return { created: true, auction: { ...auction } };
  }

  /** Holds `auction` (new, loaded, or put back as the file has it); indexes it by phase and times. */
  put(auction: AuctionState): void {
    this.auctions.set(auction.id, auction);
    this.noteId(auction.id);
    if (auction.closed) {
      this.live.delete(auction.id);
      this.scheduled.delete(auction.id);
      if (this.keepClosed) {
        this.closedIds.add(auction.id);
        this.expiry.push(auction.endsAt, auction.id);
      } else this.auctions.delete(auction.id);
      return;
    }
    this.closedIds.delete(auction.id);
    this.live.add(auction.id);
    this.ends.push(auction.endsAt, auction.id);
    if (auction.startsAt > Date.now()) {
      this.scheduled.add(auction.id);
      this.starts.push(auction.startsAt, auction.id);
    }
  }

  /** An id taken outside the table (SQLite's closed auctions): generated ids start above it. */
  noteId(id: number): void {
    if (id >= this.nextCandidate) this.nextCandidate = id + 1;
  }

  /**
   * Closes auctions past their end, at most `limit`, in ends_at order; returns them (now
   * closed). Costs the auctions due (and the stale heap entries of moved or cancelled ones).
   */
  closeDue(now: number, limit: number): AuctionState[] {
    const closed: AuctionState[] = [];
    takeDue(this.ends, now, limit, this.currentEndsAt, (id) => {
      const auction = this.auctions.get(id)!;
      closeAuction(auction);
      this.markClosed(auction);
      closed.push(auction);
    });
    return closed;
  }

  private readonly currentEndsAt = (id: number): number => {
    const auction = this.auctions.get(id);
    return auction === undefined || auction.closed ? GONE : auction.endsAt;
  };

  /** Cancels an auction that has not ended; returns it, or why not. */
  cancel(id: number, now: number): AuctionState | "unknown" | "closed" {
    const auction = this.auctions.get(id);
    if (auction === undefined) return this.stored.has(id) ? "closed" : "unknown";
    if (auction.closed || now >= auction.endsAt) return "closed";
    auction.closed = true;
    auction.winner = 0;
    auction.endsAt = now;
    this.markClosed(auction);
    return auction;
  }

  /** A close that could not be written: the auction is open again, as it was. */
  reopen(auction: AuctionState, endsAt: number): void {
    auction.closed = false;
    auction.winner = 0;
    auction.endsAt = endsAt;
    this.put(auction);
  }

  /** Forgets a closed auction (its state is on disk, or it was deleted by retention). */
  forget(id: number): void {
    const auction = this.auctions.get(id);
    if (auction === undefined || !auction.closed) return;
    this.auctions.delete(id);
    this.closedIds.delete(id);
  }

  /** Drops an auction whose create could not be written, whatever its phase. */
  discard(id: number): void {
    this.auctions.delete(id);
    this.live.delete(id);
    this.scheduled.delete(id);
    this.closedIds.delete(id);
  }

  private markClosed(auction: AuctionState): void {
    this.live.delete(auction.id);
    this.scheduled.delete(auction.id);
    if (this.keepClosed) {
      this.closedIds.add(auction.id);
      this.expiry.push(auction.endsAt, auction.id);
    }
  }

  /**
   * Deletes held closed auctions whose ends_at is at or before `cutoff`, at most `limit`,
   * oldest first; returns their ids (the store drops their history too).
   */
  retire(cutoff: number, limit: number): number[] {
    const retired: number[] = [];
    const closedEndsAt = (id: number) => {
      const auction = this.auctions.get(id);
      return auction === undefined || !auction.closed ? GONE : auction.endsAt;
    };
    takeDue(this.expiry, cutoff, limit, closedEndsAt, (id) => {
      this.forget(id);
      retired.push(id);
    });
    return retired;
  }

  /** Scheduled auctions whose starts_at has passed leave `scheduled` (they are open now). */
  private promoteStarted(now: number): void {
    takeDue(
      this.starts,
      now,
      Infinity,
      (id) => (this.scheduled.has(id) ? this.auctions.get(id)!.startsAt : GONE),
      (id) => this.scheduled.delete(id),
    );
  }

  /**
   * Auctions in `phase` (by `now`; null: any), ascending id after `afterId`, at most `limit`.
   * Closed ones come from `readClosed` (the SQLite store's file; by default the table's own),
   * merged with the held ones past their end that the closer has not reached yet. A page costs
   * the page plus the held ids of other phases interleaved with it, never every auction.
   */
  list(phase: Phase | null, afterId: number, limit: number, now: number, readClosed = this.readHeldClosed): AuctionState[] {
    this.promoteStarted(now);
    const copy = (id: number) => ({ ...this.auctions.get(id)! });
    if (phase === Phase.SCHEDULED || phase === Phase.OPEN) {
      const source = phase === Phase.SCHEDULED ? this.scheduled : this.live;
      return source.after(afterId, limit, (id) => phaseAt(this.auctions.get(id)!, now) === phase).map(copy);
    }
    const closed = readClosed(afterId, limit);
    // Held ids above a full closed page's last cannot make this page.
    const upTo = closed.length === limit ? closed.at(-1)!.id : Infinity;
    const accept = phase === null ? () => true : (id: number) => phaseAt(this.auctions.get(id)!, now) === Phase.CLOSED;
    return mergePages(this.live.after(afterId, limit, accept, upTo).map(copy), closed, limit);
  }

  private readonly readHeldClosed = (afterId: number, limit: number): AuctionState[] =>
    this.closedIds.after(afterId, limit).map((id) => ({ ...this.auctions.get(id)! }));

  /** How many ids are taken, held or not. */
  private get taken(): number {
    return this.auctions.size + this.stored.count();
  }

  /** The next free id in 1..maxId, or IdsExhaustedError when every one is taken. */
  private nextId(): number {
    if (this.taken >= this.maxId) {
      throw new IdsExhaustedError(`auction ids exhausted: every id from 1 to ${this.maxId} is taken`);
    }
    // A free id exists (fewer auctions than ids), so the walk ends.
    let id = this.nextCandidate;
    for (;;) {
      if (id > this.maxId) id = 1;
      if (!this.auctions.has(id) && !this.stored.has(id)) break;
      id++;
    }
    this.nextCandidate = id + 1;
    return id;
  }
}

/**
 * Two pages, each ascending by id and each the first `limit` of its source after the same id,
 * merged: the first `limit` of their union. An id in both (an auction closed between the
 * reads) is kept once.
 */
export function mergePages(a: AuctionState[], b: AuctionState[], limit: number): AuctionState[] {
  const out: AuctionState[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && a[i]!.id < b[j]!.id)) out.push(a[i++]!);
    else if (i >= a.length || b[j]!.id < a[i]!.id) out.push(b[j++]!);
    else {
      out.push(b[j++]!);
      i++;
    }
  }
  return out;
}

/** CLOSED's fields for an auction the closing step (or cancel) just closed. */
export function closedFields(auction: AuctionState): ClosedAuction {
  return { id: auction.id, seq: auction.seq, winner: auction.winner, amount: auction.winner === 0 ? 0 : auction.amount };
}

export class MemoryStore implements Store {
  readonly kind = "memory";
  private readonly table: AuctionTable;
  private readonly histories = new Map<number, AuctionHistory>();
  private readonly retention: Retention | null;
  /** Webhooks on: the events, in memory (lost on restart, like the auctions). */
  readonly outbox?: MemoryOutbox;

  /**
   * `maxAuctionId`: the highest id handed out (1..2^32-1 by default; tests use a small one).
   * `retentionMs`: closed auctions whose ends_at is older are deleted (0: kept).
   * `webhooks`: keep the webhook events in an outbox (GAVEL_WEBHOOK_URL is set).
   */
  constructor(options: { maxAuctionId?: number; retentionMs?: number; webhooks?: boolean } = {}) {
    this.table = new AuctionTable(options.maxAuctionId);
    if (options.webhooks === true) {
      this.outbox = new MemoryOutbox();
      this.table.notifications = this.outbox;
    }
    this.retention = Retention.start(options.retentionMs ?? 0, (cutoff, limit) => {
      const retired = this.table.retire(cutoff, limit);
      for (const id of retired) this.histories.delete(id);
      return retired.length;
    });
  }

  applyBids(batch: StoreBatch): void {
    const now = Date.now();
    for (let i = 0; i < batch.count; i++) {
      const stepped = this.table.applyOne(batch, i, now);
      if (stepped !== null && batch.stepped[i] === 1) {
        const by = stepBy(batch.kind[i] as BidKind, batch.status[i] as Status);
        this.histories.get(stepped.id)!.record(stepped.amount, stepped.leader, now, stepped.endsAt, by);
      }
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
    const now = this.now();
    const closed = this.table.closeDue(now, limit);
    if (this.outbox !== undefined) for (const auction of closed) notifyClose(this.outbox, auction, false, now);
    return closed.map(closedFields);
  }

  async cancel(id: number): Promise<CancelResult> {
    const now = this.now();
    const result = this.table.cancel(id, now);
    if (typeof result === "string") return { cancelled: false, reason: result };
    if (this.outbox !== undefined) notifyClose(this.outbox, result, true, now);
    return { cancelled: true, closed: closedFields(result) };
  }

  now(): number {
    return Date.now();
  }

  unavailableReason(): string | null {
    return null;
  }

  async close(): Promise<void> {
    this.retention?.stop();
  }
}
