// Local subscribers of each auction: SUBSCRIBE's snapshot and replay, live fan-out of UPDATE
// and CLOSED, gap healing from the bid history, and conflation for slow subscribers.
// See docs/architecture.md ("Live auctions").
//
// Every subscription remembers the last seq it was sent, so an UPDATE that arrives twice (the
// feed and a heal from history overlap) is sent once, and one that arrives early waits until
// the gap before it is filled from the history.

import { phaseAt, type AuctionState, type HistoryEntry } from "./auction.ts";
import { readU32, readU64 } from "../protocol/bytes.ts";
import { encodeUpdate } from "../protocol/codec.ts";
import { ErrorCode, FrameType, HEADER_SIZE, NO_REPLAY, Phase, UPDATE_FRAME_SIZE } from "../protocol/constants.ts";
import type { Connection } from "../net/connection.ts";

/** What the hub needs of the store. */
export interface HubSource {
  getAuction(id: number): Promise<AuctionState | null>;
  /** Accepted bids with seq > afterSeq, oldest first, at most `limit`. */
  history(auction: number, afterSeq: number, limit: number): Promise<HistoryEntry[]>;
  now(): number;
}

export interface HubLimits {
  /** A subscriber with more than this many bytes unsent gets conflated updates. */
  subscriberHighWater: number;
  /** A subscriber that stays over the high-water mark this long is disconnected (0 = never). */
  slowSubscriberMs: number;
}

/** History is read in pages of this many entries. */
const HISTORY_PAGE = 1000;

interface Update {
  seq: number;
  amount: number;
  leader: number;
  endsAt: number;
}

interface Closing {
  seq: number;
  winner: number;
  amount: number;
}

class Subscription {
  /** Highest seq sent (or covered by the snapshot). */
  lastSeq = 0;
  /** While the snapshot and replay are on their way, live updates wait here. */
  held: Update[] | null = [];
  closedSent = false;
  constructor(readonly connection: Connection) {}
}

class AuctionFeed {
  readonly subscriptions = new Map<Connection, Subscription>();
  /** Highest seq this node has delivered for the auction; -1 until known. */
  lastSeq = -1;
  /** A history read is filling a gap; live updates (and the CLOSED) queue behind it. */
  healing = false;
  /** Asked to heal while healing (the feed was cut again): read the history once more. */
  healAgain = false;
  queued: Update[] = [];
  closing: Closing | null = null;
}

export class SubscriptionHub {
  private readonly feeds = new Map<number, AuctionFeed>();
  private readonly byConnection = new Map<Connection, Set<number>>();
  /** Connections holding conflated updates, flushed by `sweep`. */
  private readonly conflatedConnections = new Set<Connection>();
  private readonly frame = new Uint8Array(UPDATE_FRAME_SIZE);

  constructor(
    private readonly source: HubSource,
    private readonly limits: HubLimits,
    private readonly markDirty: (connection: Connection) => void,
  ) {}

  /** Number of (connection, auction) subscriptions on this node. */
  get subscriptionCount(): number {
    let count = 0;
    for (const feed of this.feeds.values()) count += feed.subscriptions.size;
    return count;
  }

  /** Auctions with at least one local subscriber (what a node's feed must cover). */
  get auctionIds(): IterableIterator<number> {
    return this.feeds.keys();
  }

  /** SUBSCRIBE: the STATE snapshot, then the replay of seq > since, then live updates. */
  subscribe(connection: Connection, req: number, auctionId: number, since: number): void {
    const feed = this.feedOf(auctionId);
    const existing = feed.subscriptions.get(connection);
    const subscription = new Subscription(connection);
    feed.subscriptions.set(connection, subscription);
    let auctions = this.byConnection.get(connection);
    if (auctions === undefined) this.byConnection.set(connection, (auctions = new Set()));
    auctions.add(auctionId);
    if (existing !== undefined) existing.held = null;

    connection.pending++;
    void this.startSubscription(feed, subscription, req, auctionId, since).finally(() => {
      connection.pending--;
    });
  }

  private async startSubscription(feed: AuctionFeed, sub: Subscription, req: number, auctionId: number, since: number) {
    const connection = sub.connection;
    let auction: AuctionState | null;
    try {
      auction = await this.source.getAuction(auctionId);
    } catch {
      this.removeSubscription(auctionId, connection, sub);
      connection.queueError(req, ErrorCode.INTERNAL, "store unavailable");
      this.markDirty(connection);
      return;
    }
    if (connection.closed || feed.subscriptions.get(connection) !== sub) return;

    if (auction === null) {
      connection.queueState(req, auctionId, Phase.UNKNOWN, 0, 0, 0, 0);
    } else {
      connection.queueState(req, auctionId, phaseAt(auction, this.source.now()), auction.seq, auction.amount, auction.leader, auction.endsAt);
      // The first subscriber tells the node where the auction stands, for gap detection.
      if (feed.lastSeq < 0) feed.lastSeq = auction.seq;
    }
    this.markDirty(connection);

    const snapshotSeq = auction?.seq ?? 0;
    sub.lastSeq = snapshotSeq;
    if (auction !== null && since !== NO_REPLAY && since < snapshotSeq) {
      try {
        await this.replay(auctionId, sub, since, snapshotSeq);
      } catch {
        // The history could not be read: the client sees the seq jump and can ask again.
      }
    }
    if (feed.subscriptions.get(connection) !== sub) return;

    const held = sub.held ?? [];
    sub.held = null;
    for (const update of held) this.sendUpdate(auctionId, sub, update.seq, update.amount, update.leader, update.endsAt);
    if (auction !== null && auction.closed) this.sendClosed(auctionId, sub, auction.seq, auction.winner, auction.winner === 0 ? 0 : auction.amount);
    // While a heal runs, the CLOSED waits for the UPDATEs it brings (the heal sends it).
    else if (feed.closing !== null && !feed.healing) this.sendClosed(auctionId, sub, feed.closing.seq, feed.closing.winner, feed.closing.amount);
  }

  /** Sends history entries with afterSeq < seq <= untilSeq to one subscription. */
  private async replay(auctionId: number, sub: Subscription, afterSeq: number, untilSeq: number): Promise<void> {
    let from = afterSeq;
    sub.lastSeq = afterSeq;
    while (from < untilSeq) {
      const entries = await this.source.history(auctionId, from, HISTORY_PAGE);
      if (entries.length === 0) break;
      for (const entry of entries) {
        if (entry.seq > untilSeq) break;
        this.sendUpdate(auctionId, sub, entry.seq, entry.amount, entry.user, entry.endsAt);
      }
      from = entries[entries.length - 1]!.seq;
      if (entries.length < HISTORY_PAGE) break;
    }
    if (sub.lastSeq < untilSeq) sub.lastSeq = untilSeq;
  }

  unsubscribe(connection: Connection, auctionId: number): void {
    const sub = this.feeds.get(auctionId)?.subscriptions.get(connection);
    if (sub !== undefined) this.removeSubscription(auctionId, connection, sub);
  }

  /** Forgets a closed connection's subscriptions. */
  dropConnection(connection: Connection): void {
    const auctions = this.byConnection.get(connection);
    this.conflatedConnections.delete(connection);
    if (auctions === undefined) return;
    for (const auctionId of [...auctions]) {
      const sub = this.feeds.get(auctionId)?.subscriptions.get(connection);
      if (sub !== undefined) this.removeSubscription(auctionId, connection, sub);
    }
    this.byConnection.delete(connection);
  }

  private removeSubscription(auctionId: number, connection: Connection, sub: Subscription): void {
    const feed = this.feeds.get(auctionId);
    if (feed === undefined || feed.subscriptions.get(connection) !== sub) return;
    feed.subscriptions.delete(connection);
    this.byConnection.get(connection)?.delete(auctionId);
    if (feed.subscriptions.size === 0) this.feeds.delete(auctionId);
  }

  // ---- Live updates ---------------------------------------------------------------------------

  /**
   * One accepted bid, from this node's drain or from the shared feed. With `healGaps`, a seq
   * beyond the next expected one first fills the gap from the history (the feed lost some).
   */
  deliverUpdate(auctionId: number, seq: number, amount: number, leader: number, endsAt: number, healGaps = false): void {
    const feed = this.feeds.get(auctionId);
    if (feed === undefined) return;
    if (feed.healing) {
      feed.queued.push({ seq, amount, leader, endsAt });
      return;
    }
    if (healGaps && feed.lastSeq >= 0 && seq > feed.lastSeq + 1) {
      feed.queued.push({ seq, amount, leader, endsAt });
      void this.heal(auctionId, feed);
      return;
    }
    this.fanOut(auctionId, feed, seq, amount, leader, endsAt);
  }

  private fanOut(auctionId: number, feed: AuctionFeed, seq: number, amount: number, leader: number, endsAt: number): void {
    if (seq <= feed.lastSeq) return;
    feed.lastSeq = seq;
    let encoded = false;
    for (const sub of feed.subscriptions.values()) {
      if (sub.held !== null) {
        sub.held.push({ seq, amount, leader, endsAt });
        continue;
      }
      if (seq <= sub.lastSeq) continue;
      const connection = sub.connection;
      if (connection.queuedBytes > this.limits.subscriberHighWater) {
        this.conflate(connection, auctionId, seq, amount, leader, endsAt);
        continue;
      }
      if (!encoded) {
        encodeUpdate(this.frame, 0, auctionId, seq, amount, leader, endsAt);
        encoded = true;
      }
      sub.lastSeq = seq;
      connection.queueBytes(this.frame, 0, UPDATE_FRAME_SIZE);
      this.markDirty(connection);
    }
  }

  private sendUpdate(auctionId: number, sub: Subscription, seq: number, amount: number, leader: number, endsAt: number): void {
    if (seq <= sub.lastSeq) return;
    sub.lastSeq = seq;
    encodeUpdate(this.frame, 0, auctionId, seq, amount, leader, endsAt);
    sub.connection.queueBytes(this.frame, 0, UPDATE_FRAME_SIZE);
    this.markDirty(sub.connection);
  }

  /**
   * Fills the gap before the queued updates from the history, then sends them in order, then
   * the CLOSED if one came meanwhile. A heal asked for while one runs (the feed was cut again
   * mid-read) makes the running one read again: its read may predate the updates lost in the
   * new cut. A gap still left in the queue also reads again, until a read brings nothing new.
   */
  private async heal(auctionId: number, feed: AuctionFeed): Promise<void> {
    if (feed.healing) {
      feed.healAgain = true;
      return;
    }
    feed.healing = true;
    try {
      for (;;) {
        feed.healAgain = false;
        const before = feed.lastSeq;
        for (;;) {
          const entries = await this.source.history(auctionId, feed.lastSeq, HISTORY_PAGE);
          for (const e of entries) this.fanOut(auctionId, feed, e.seq, e.amount, e.user, e.endsAt);
          if (entries.length < HISTORY_PAGE) break;
        }
        const gapLeft = this.sendQueuedInOrder(auctionId, feed);
        if (feed.healAgain) continue;
        // The history had nothing past the gap: do not spin on it, let the seq jump show it.
        if (!gapLeft || feed.lastSeq === before) break;
      }
    } catch {
      // The store is unreachable: deliver what is queued; the seq jump tells clients to replay.
    } finally {
      const queued = feed.queued.sort((a, b) => a.seq - b.seq);
      feed.queued = [];
      for (const u of queued) this.fanOut(auctionId, feed, u.seq, u.amount, u.leader, u.endsAt);
      feed.healing = false;
      feed.healAgain = false;
      if (feed.closing !== null) this.closeSubscriptions(auctionId, feed);
    }
  }

  /**
   * Sends the queued live updates that follow on from the last seq sent, oldest first; returns
   * true when one lies past a gap (it and those after it stay queued).
   */
  private sendQueuedInOrder(auctionId: number, feed: AuctionFeed): boolean {
    const queued = feed.queued.sort((a, b) => a.seq - b.seq);
    let i = 0;
    for (; i < queued.length; i++) {
      const u = queued[i]!;
      if (u.seq > feed.lastSeq + 1) break;
      this.fanOut(auctionId, feed, u.seq, u.amount, u.leader, u.endsAt);
    }
    feed.queued = queued.slice(i);
    return feed.queued.length > 0;
  }

  /** Frames from the shared feed (Redis Pub/Sub): UPDATEs and CLOSEDs back to back. */
  deliverFrames(frames: Uint8Array): void {
    let offset = 0;
    while (offset + HEADER_SIZE <= frames.length) {
      const type = frames[offset]!;
      const p = offset + HEADER_SIZE;
      offset = p + frames[offset + 1]!;
      if (offset > frames.length) break;
      if (type === FrameType.UPDATE) {
        this.deliverUpdate(readU32(frames, p), readU32(frames, p + 4), readU64(frames, p + 8), readU32(frames, p + 16), readU64(frames, p + 20), true);
      } else if (type === FrameType.CLOSED) {
        this.deliverClosed(readU32(frames, p), readU32(frames, p + 4), readU32(frames, p + 8), readU64(frames, p + 12), true);
      }
    }
  }

  /** After the feed was cut (Redis subscriber reconnect): catch every followed auction up. */
  resync(): void {
    for (const [auctionId, feed] of this.feeds) {
      if (feed.lastSeq >= 0) void this.heal(auctionId, feed);
      void this.source.getAuction(auctionId).then(
        (auction) => {
          if (auction !== null && auction.closed) this.deliverClosed(auctionId, auction.seq, auction.winner, auction.winner === 0 ? 0 : auction.amount, true);
        },
        () => {},
      );
    }
  }

  /**
   * The auction closed: every subscriber gets CLOSED once, after every UPDATE before it. From
   * the shared feed (`healGaps`), a CLOSED whose seq is past the last one sent means UPDATEs
   * were lost (the feed was cut): they are read from the history first.
   */
  deliverClosed(auctionId: number, seq: number, winner: number, amount: number, healGaps = false): void {
    const feed = this.feeds.get(auctionId);
    if (feed === undefined) return;
    feed.closing = { seq, winner, amount };
    // A heal in progress sends the CLOSED when it is done, after the UPDATEs it brings.
    if (feed.healing) return;
    if (healGaps && feed.lastSeq >= 0 && seq > feed.lastSeq) {
      void this.heal(auctionId, feed);
      return;
    }
    this.closeSubscriptions(auctionId, feed);
  }

  private closeSubscriptions(auctionId: number, feed: AuctionFeed): void {
    const closing = feed.closing!;
    for (const sub of feed.subscriptions.values()) {
      if (sub.held !== null) continue; // sent when its subscription start completes
      this.flushConflatedFor(sub.connection);
      this.sendClosed(auctionId, sub, closing.seq, closing.winner, closing.amount);
    }
  }

  private sendClosed(auctionId: number, sub: Subscription, seq: number, winner: number, amount: number): void {
    if (sub.closedSent) return;
    sub.closedSent = true;
    sub.connection.queueClosed(auctionId, seq, winner, amount);
    this.markDirty(sub.connection);
  }

  // ---- Slow subscribers -----------------------------------------------------------------------

  private conflate(connection: Connection, auctionId: number, seq: number, amount: number, leader: number, endsAt: number) {
    let latest = connection.conflated;
    if (latest === null) connection.conflated = latest = new Map();
    const update = latest.get(auctionId);
    if (update === undefined) latest.set(auctionId, { seq, amount, leader, endsAt });
    else {
      update.seq = seq;
      update.amount = amount;
      update.leader = leader;
      update.endsAt = endsAt;
    }
    this.conflatedConnections.add(connection);
  }

  private flushConflatedFor(connection: Connection): void {
    const latest = connection.conflated;
    if (latest === null) return;
    connection.conflated = null;
    this.conflatedConnections.delete(connection);
    for (const [auctionId, u] of latest) {
      const sub = this.feeds.get(auctionId)?.subscriptions.get(connection);
      if (sub !== undefined) this.sendUpdate(auctionId, sub, u.seq, u.amount, u.leader, u.endsAt);
    }
  }

  /**
   * Runs every few ms: sends the latest state to conflated subscribers that caught up, and
   * disconnects those stuck over the high-water mark for longer than the limit.
   */
  sweep(now: number): void {
    for (const connection of this.conflatedConnections) {
      if (connection.closed) {
        this.conflatedConnections.delete(connection);
        continue;
      }
      if (connection.queuedBytes <= this.limits.subscriberHighWater) {
        connection.congestedSince = 0;
        this.flushConflatedFor(connection);
        continue;
      }
      if (connection.congestedSince === 0) connection.congestedSince = now;
      else if (this.limits.slowSubscriberMs > 0 && now - connection.congestedSince > this.limits.slowSubscriberMs) {
        this.conflatedConnections.delete(connection);
        connection.abort();
      }
    }
  }

  private feedOf(auctionId: number): AuctionFeed {
    let feed = this.feeds.get(auctionId);
    if (feed === undefined) this.feeds.set(auctionId, (feed = new AuctionFeed()));
    return feed;
  }

  // ---- Lost store data ------------------------------------------------------------------------

  /**
   * The store lost the data of these auctions (a Redis that restarted empty): every connection
   * subscribed to one of them gets ERROR RESET (req 0) and is closed once it is written, and
   * all its subscriptions are forgotten, so no frame of an auction created since under the
   * same id reaches it. Returns how many connections were reset.
   */
  resetAuctions(auctionIds: Iterable<number>, message: string): number {
    const connections = new Set<Connection>();
    for (const auctionId of auctionIds) {
      const feed = this.feeds.get(auctionId);
      if (feed === undefined) continue;
      for (const connection of feed.subscriptions.keys()) connections.add(connection);
    }
    for (const connection of connections) {
      this.dropConnection(connection);
      if (connection.closed) continue;
      connection.queueError(0, ErrorCode.RESET, message);
      connection.closeAfterFlush();
      this.markDirty(connection);
    }
    return connections.size;
  }
}
