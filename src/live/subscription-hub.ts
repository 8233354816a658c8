// Local subscribers of each auction: SUBSCRIBE's snapshot and replay, live fan-out of UPDATE
// and CLOSED, gap healing from the bid history, and conflation for slow subscribers.
// See docs/architecture.md ("Live auctions").
//
// Every subscription remembers the last seq it was sent, so an UPDATE that arrives twice (the
// feed and a heal from history overlap) is sent once, and one that arrives early waits until
// the gap before it is filled from the history.
//
// One connection's SUBSCRIBEs and UNSUBSCRIBEs of one auction are answered one at a time, in the
// order they were read: each waits in its Subscription's `requests` until those before it are
// answered. So every one is answered exactly once, a SUBSCRIBE's STATE (and replay) precedes the
// OK of an UNSUBSCRIBE sent after it, and after that OK nothing of the auction is pushed. What a
// connection can make the hub hold is bounded (GAVEL_MAX_SUBSCRIPTIONS): the auctions it follows
// plus the SUBSCRIBEs still being answered, and the UNSUBSCRIBEs waiting behind them.

import { phaseAt, type AuctionState, type HistoryEntry } from "../auction/auction.ts";
import { Defaults } from "../config.ts";
import { decodeClosed, decodeUpdate, encodeUpdate, type ClosedFields, type UpdateFields } from "../protocol/codec.ts";
import { ErrorCode, FrameType, HEADER_SIZE, NO_REPLAY, Phase, UPDATE_FRAME_SIZE } from "../protocol/constants.ts";
import type { ServerCounters } from "../metrics/counters.ts";
import type { MarkDirty, Subscriber } from "./subscriber.ts";
import { AuctionFeed, Congestion, RequestKind, SubscriberSubscriptions, Subscription, type Update } from "./subscription.ts";

/** What the hub needs of the store. */
export interface HubSource {
  getAuction(id: number): Promise<AuctionState | null>;
  /** Accepted bids with seq > afterSeq, oldest first, at most `limit`. */
  history(auction: number, afterSeq: number, limit: number): Promise<HistoryEntry[]>;
  now(): number;
}

/**
 * The shared feed's side of what this node follows (GAVEL_REDIS_FEED=subscribed): told of each
 * auction's first and last local subscriber, and asked before a SUBSCRIBE reads the store
 * whether the auction's frames reach this node yet (UpdateFeed in src/store/store.ts).
 */
export interface FeedInterest {
  follow?(auction: number): void;
  unfollow?(auction: number): void;
  listening?(auction: number): Promise<void> | null;
}

export interface HubLimits {
  /** A subscriber with more than this many bytes unsent gets conflated updates. */
  subscriberHighWater: number;
  /** A subscriber that stays over the high-water mark this long is disconnected (0 = never). */
  slowSubscriberMs: number;
  /**
   * Auctions one connection may follow, counting the SUBSCRIBEs still being answered; past it a
   * SUBSCRIBE gets ERROR LIMIT. Also how many UNSUBSCRIBEs may wait behind them. Default:
   * GAVEL_MAX_SUBSCRIPTIONS's.
   */
  maxSubscriptions?: number;
}

/** History is read in pages of this many entries. */
const HISTORY_PAGE = 1000;
/**
 * A subscriber with this many SUBSCRIBEs and UNSUBSCRIBEs waiting for their answers is read no
 * further until only RESUME_WAITING_REQUESTS wait: a pipelined burst is answered in full, at the
 * store's pace, with bounded work in hand, instead of being refused.
 */
const MAX_WAITING_REQUESTS = 64;
const RESUME_WAITING_REQUESTS = 16;

/** The ERROR UNAVAILABLE message: the contract's "the store could not answer; retry". */
export const STORE_UNAVAILABLE = "the store could not answer; retry";

/**
 * The fan-out of one node, generic over its subscribers (`S`: the net room's Connection), whom it
 * reaches only through the Subscriber interface.
 */
export class SubscriptionHub<S extends Subscriber = Subscriber> {
  private readonly feeds = new Map<number, AuctionFeed<S>>();
  private readonly byConnection = new Map<S, SubscriberSubscriptions<S>>();
  /** Subscribers that fell behind at some point (conflation, how long they lag); dropped with them. */
  private readonly congestion = new Map<S, Congestion>();
  /** Subscribers holding conflated updates, flushed by `sweep`. */
  private readonly conflatedConnections = new Set<S>();
  /**
   * Sweeps run on a timer only while some subscriber holds conflated updates: an idle server
   * does not wake for them (0: not started, or stopped; sweeps are then the caller's).
   */
  private sweepIntervalMs = 0;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private readonly frame = new Uint8Array(UPDATE_FRAME_SIZE);
  /** The feed's frames are decoded into these (reused: nothing allocated per frame). */
  private readonly update: UpdateFields = { auction: 0, seq: 0, amount: 0, leader: 0, endsAt: 0 };
  private readonly closed: ClosedFields = { auction: 0, seq: 0, winner: 0, amount: 0 };
  private readonly maxSubscriptions: number;

  constructor(
    private readonly source: HubSource,
    private readonly limits: HubLimits,
    private readonly markDirty: MarkDirty<S>,
    /** Counts updates sent and conflated and slow-subscriber disconnects; null counts nothing. */
    private readonly counters: ServerCounters | null = null,
    /** The shared feed, told what this node follows; null without one. */
    private readonly interest: FeedInterest | null = null,
  ) {
    this.maxSubscriptions = limits.maxSubscriptions ?? Defaults.maxSubscriptions;
  }

  /** Number of (connection, auction) subscriptions on this node. */
  get subscriptionCount(): number {
    let count = 0;
    for (const feed of this.feeds.values()) count += feed.subscriptions.size;
    return count;
  }

  /** Connections that follow an auction or have a SUBSCRIBE or UNSUBSCRIBE being answered. */
  get connectionCount(): number {
    return this.byConnection.size;
  }

  /** Auctions with at least one local subscriber (what a node's feed must cover). */
  get auctionIds(): IterableIterator<number> {
    return this.feeds.keys();
  }

  /**
   * SUBSCRIBE: the STATE snapshot, then the replay of seq > since, then live updates; once the
   * requests before it on this auction are answered. Past the connection's bound, ERROR LIMIT.
   */
  subscribe(connection: S, req: number, auctionId: number, since: number): void {
    let owner = this.byConnection.get(connection);
    let sub = owner?.byAuction.get(auctionId);
    // The bound counts auctions: those followed and those being subscribed to, each once (a
    // SUBSCRIBE of an auction it already has takes no new place). The count moves only when an
    // auction is added or forgotten, so it is exact even while answers are on their way.
    const newPlace = sub === undefined;
    const full = owner !== undefined && ((newPlace && owner.byAuction.size >= this.maxSubscriptions) || owner.waiting >= this.maxSubscriptions);
    if (full) {
      connection.queueError(req, ErrorCode.LIMIT, `subscription limit ${this.maxSubscriptions} reached`);
      this.markDirty(connection);
      return;
    }
    if (owner === undefined) this.byConnection.set(connection, (owner = new SubscriberSubscriptions<S>()));
    if (sub === undefined) owner.byAuction.set(auctionId, (sub = new Subscription<S>(connection, auctionId, owner)));
    owner.waitingSubscribes++;
    this.enqueue(sub, RequestKind.SUBSCRIBE, req, since);
  }

  /** UNSUBSCRIBE: OK, after the requests before it on this auction; nothing of it is pushed after. */
  unsubscribe(connection: S, req: number, auctionId: number): void {
    const owner = this.byConnection.get(connection);
    const sub = owner?.byAuction.get(auctionId);
    if (owner === undefined || sub === undefined || sub.requests.length === 0) {
      if (sub !== undefined) {
        this.stopFollowing(sub);
        this.forget(sub);
      }
      connection.queueOk(req);
      this.markDirty(connection);
      return;
    }
    if (owner.waitingUnsubscribes >= this.maxSubscriptions) {
      connection.queueError(req, ErrorCode.LIMIT, `${this.maxSubscriptions} UNSUBSCRIBEs already wait for their SUBSCRIBEs`);
      this.markDirty(connection);
      return;
    }
    owner.waitingUnsubscribes++;
    this.enqueue(sub, RequestKind.UNSUBSCRIBE, req, NO_REPLAY);
  }

  private enqueue(sub: Subscription<S>, kind: RequestKind, req: number, since: number): void {
    sub.requests.push({ kind, req, since });
    sub.connection.pending++;
    const owner = sub.owner;
    if (!owner.held && owner.waiting >= MAX_WAITING_REQUESTS && sub.connection.holdRequests !== undefined) {
      owner.held = true;
      sub.connection.holdRequests();
    }
    if (sub.requests.length === 1) void this.answerInOrder(sub);
  }

  /** Answers the subscription's requests one after another, until none waits. */
  private async answerInOrder(sub: Subscription<S>): Promise<void> {
    while (sub.requests.length > 0) {
      const request = sub.requests[0]!;
      if (request.kind === RequestKind.SUBSCRIBE) await this.answerSubscribe(sub, request.req, request.since);
      else this.answerUnsubscribe(sub, request.req);
      // Dropped with its connection meanwhile: dropConnection has settled the counts.
      if (sub.ended) return;
      sub.requests.shift();
      sub.connection.pending--;
      if (request.kind === RequestKind.SUBSCRIBE) sub.owner.waitingSubscribes--;
      else sub.owner.waitingUnsubscribes--;
      if (sub.owner.held && sub.owner.waiting <= RESUME_WAITING_REQUESTS) {
        sub.owner.held = false;
        sub.connection.releaseRequests?.();
      }
    }
    this.forget(sub);
  }

  private async answerSubscribe(sub: Subscription<S>, req: number, since: number): Promise<void> {
    const { connection, auctionId } = sub;
    // In the feed before the store is read, so no UPDATE after the snapshot is missed; live
    // updates wait in `held` until the STATE and replay are out.
    const feed = this.enterFeed(sub);
    sub.held ??= [];
    let auction: AuctionState | null;
    try {
      // A feed listening only to followed groups first subscribes this one's, confirmed.
      const listening = this.interest?.listening?.(auctionId) ?? null;
      if (listening !== null) {
        await listening;
        if (sub.ended) return;
      }
      auction = await this.source.getAuction(auctionId);
    } catch {
      if (sub.ended) return;
      connection.queueError(req, ErrorCode.UNAVAILABLE, STORE_UNAVAILABLE);
      this.markDirty(connection);
      // A refused SUBSCRIBE changes nothing: a connection that followed the auction still does.
      if (sub.following) this.releaseHeld(sub);
      else this.stopFollowing(sub);
      return;
    }
    if (sub.ended) return;

    if (auction === null) {
      // Answered, and subscribed to nothing: nothing of it is kept.
      connection.queueState(req, auctionId, Phase.UNKNOWN, 0, 0, 0, 0);
      this.markDirty(connection);
      this.stopFollowing(sub);
      return;
    }
    connection.queueState(req, auctionId, phaseAt(auction, this.source.now()), auction.seq, auction.amount, auction.leader, auction.endsAt);
    this.markDirty(connection);
    // The first subscriber tells the node where the auction stands, for gap detection.
    if (feed.lastSeq < 0) feed.lastSeq = auction.seq;
    if (!sub.following) {
      sub.following = true;
      sub.owner.following++;
    }
    // Every STATE of a closed auction is followed by its CLOSED, a renewed subscription's too.
    sub.closedSent = false;

    const snapshotSeq = auction.seq;
    const sentBefore = sub.lastSeq;
    if (since !== NO_REPLAY && since < snapshotSeq) {
      try {
        await this.replay(auctionId, sub, since, snapshotSeq);
      } catch {
        // The history could not be read: the client sees the seq jump and can ask again.
      }
      if (sub.ended) return;
    }
    // A renewal sends no live UPDATE twice: those sent before it stay sent.
    sub.lastSeq = Math.max(sub.lastSeq, sentBefore, snapshotSeq);
    this.releaseHeld(sub);
    if (auction.closed) this.sendClosed(auctionId, sub, auction.seq, auction.winner, auction.winner === 0 ? 0 : auction.amount);
    // While a heal runs, the CLOSED waits for the UPDATEs it brings (the heal sends it).
    else if (feed.closing !== null && !feed.healing) this.sendClosed(auctionId, sub, feed.closing.seq, feed.closing.winner, feed.closing.amount);
  }

  private answerUnsubscribe(sub: Subscription<S>, req: number): void {
    this.stopFollowing(sub);
    sub.connection.queueOk(req);
    this.markDirty(sub.connection);
  }

  /** Sends the live updates held during a snapshot and replay, and lets the next ones through. */
  private releaseHeld(sub: Subscription<S>): void {
    const held = sub.held;
    sub.held = null;
    if (held === null) return;
    for (const update of held) this.sendUpdate(sub.auctionId, sub, update.seq, update.amount, update.leader, update.endsAt);
  }

  /** Sends history entries with afterSeq < seq <= untilSeq to one subscription. */
  private async replay(auctionId: number, sub: Subscription<S>, afterSeq: number, untilSeq: number): Promise<void> {
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

  /** Forgets a closed connection's subscriptions; its requests still waiting go unanswered. */
  dropConnection(connection: S): void {
    this.conflatedConnections.delete(connection);
    this.congestion.delete(connection);
    const owner = this.byConnection.get(connection);
    if (owner === undefined) return;
    this.byConnection.delete(connection);
    for (const sub of owner.byAuction.values()) {
      sub.ended = true;
      this.leaveFeed(sub);
      connection.pending -= sub.requests.length;
      sub.requests.length = 0;
    }
  }

  /** The subscription no longer follows the auction: nothing of it is pushed from now on. */
  private stopFollowing(sub: Subscription<S>): void {
    this.leaveFeed(sub);
    if (sub.following) {
      sub.following = false;
      sub.owner.following--;
    }
    sub.held = null;
    sub.lastSeq = 0;
    sub.closedSent = false;
    this.congestion.get(sub.connection)?.conflated?.delete(sub.auctionId);
  }

  /** Drops a subscription that follows nothing and has nothing to answer. */
  private forget(sub: Subscription<S>): void {
    if (sub.following || sub.requests.length > 0 || sub.ended) return;
    const { owner } = sub;
    if (owner.byAuction.get(sub.auctionId) === sub) owner.byAuction.delete(sub.auctionId);
    if (owner.byAuction.size === 0 && this.byConnection.get(sub.connection) === owner) this.byConnection.delete(sub.connection);
  }

  private enterFeed(sub: Subscription<S>): AuctionFeed<S> {
    const feed = this.feedOf(sub.auctionId);
    if (!sub.inFeed) {
      feed.subscriptions.set(sub.connection, sub);
      sub.inFeed = true;
    }
    return feed;
  }

  private leaveFeed(sub: Subscription<S>): void {
    if (!sub.inFeed) return;
    sub.inFeed = false;
    const feed = this.feeds.get(sub.auctionId);
    if (feed === undefined || feed.subscriptions.get(sub.connection) !== sub) return;
    feed.subscriptions.delete(sub.connection);
    if (feed.subscriptions.size === 0) {
      this.feeds.delete(sub.auctionId);
      this.interest?.unfollow?.(sub.auctionId);
    }
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

  private fanOut(auctionId: number, feed: AuctionFeed<S>, seq: number, amount: number, leader: number, endsAt: number): void {
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
      this.counters?.updateSent();
      this.markDirty(connection);
    }
  }

  private sendUpdate(auctionId: number, sub: Subscription<S>, seq: number, amount: number, leader: number, endsAt: number): void {
    if (seq <= sub.lastSeq) return;
    sub.lastSeq = seq;
    encodeUpdate(this.frame, 0, auctionId, seq, amount, leader, endsAt);
    sub.connection.queueBytes(this.frame, 0, UPDATE_FRAME_SIZE);
    this.counters?.updateSent();
    this.markDirty(sub.connection);
  }

  /**
   * Fills the gap before the queued updates from the history, then sends them in order, then
   * the CLOSED if one came meanwhile. A heal asked for while one runs (the feed was cut again
   * mid-read) makes the running one read again: its read may predate the updates lost in the
   * new cut. A gap still left in the queue also reads again, until a read brings nothing new.
   */
  private async heal(auctionId: number, feed: AuctionFeed<S>): Promise<void> {
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
  private sendQueuedInOrder(auctionId: number, feed: AuctionFeed<S>): boolean {
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
      const payload = offset + HEADER_SIZE;
      offset = payload + frames[offset + 1]!;
      if (offset > frames.length) break;
      if (type === FrameType.UPDATE) {
        const u = decodeUpdate(frames, payload, this.update);
        this.deliverUpdate(u.auction, u.seq, u.amount, u.leader, u.endsAt, true);
      } else if (type === FrameType.CLOSED) {
        const c = decodeClosed(frames, payload, this.closed);
        this.deliverClosed(c.auction, c.seq, c.winner, c.amount, true);
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

  private closeSubscriptions(auctionId: number, feed: AuctionFeed<S>): void {
    const closing = feed.closing!;
    for (const sub of feed.subscriptions.values()) {
      if (sub.held !== null) continue; // sent when its subscription start completes
      this.flushConflatedFor(sub.connection);
      this.sendClosed(auctionId, sub, closing.seq, closing.winner, closing.amount);
    }
  }

  private sendClosed(auctionId: number, sub: Subscription<S>, seq: number, winner: number, amount: number): void {
    if (sub.closedSent) return;
    sub.closedSent = true;
    sub.connection.queueClosed(auctionId, seq, winner, amount);
    this.markDirty(sub.connection);
  }

  // ---- Slow subscribers -----------------------------------------------------------------------

  private conflate(connection: S, auctionId: number, seq: number, amount: number, leader: number, endsAt: number) {
    this.counters?.conflatedUpdate();
    const congestion = this.congestionOf(connection);
    let latest = congestion.conflated;
    if (latest === null) congestion.conflated = latest = new Map();
    const update = latest.get(auctionId);
    if (update === undefined) latest.set(auctionId, { seq, amount, leader, endsAt });
    else {
      update.seq = seq;
      update.amount = amount;
      update.leader = leader;
      update.endsAt = endsAt;
    }
    this.conflatedConnections.add(connection);
    this.armSweeps();
  }

  /** Sweeps every `intervalMs` from now on, whenever a subscriber holds conflated updates. */
  startSweeps(intervalMs: number): void {
    this.sweepIntervalMs = intervalMs;
    if (this.conflatedConnections.size > 0) this.armSweeps();
  }

  stopSweeps(): void {
    this.sweepIntervalMs = 0;
    this.disarmSweeps();
  }

  private armSweeps(): void {
    if (this.sweepTimer === null && this.sweepIntervalMs > 0) this.sweepTimer = setInterval(() => this.sweep(Date.now()), this.sweepIntervalMs);
  }

  private disarmSweeps(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  private congestionOf(connection: S): Congestion {
    let congestion = this.congestion.get(connection);
    if (congestion === undefined) this.congestion.set(connection, (congestion = new Congestion()));
    return congestion;
  }

  private flushConflatedFor(connection: S): void {
    const congestion = this.congestion.get(connection);
    const latest = congestion?.conflated ?? null;
    if (latest === null) return;
    congestion!.conflated = null;
    this.conflatedConnections.delete(connection);
    for (const [auctionId, u] of latest) {
      const sub = this.feeds.get(auctionId)?.subscriptions.get(connection);
      if (sub === undefined) continue;
      // A SUBSCRIBE being answered: after its STATE and replay, like every live update.
      if (sub.held !== null) sub.held.push(u);
      else this.sendUpdate(auctionId, sub, u.seq, u.amount, u.leader, u.endsAt);
    }
  }

  /**
   * Runs every few ms while needed: sends the latest state to conflated subscribers that caught
   * up, and disconnects those stuck over the high-water mark for longer than the limit.
   */
  sweep(now: number): void {
    for (const connection of this.conflatedConnections) {
      if (connection.closed) {
        this.conflatedConnections.delete(connection);
        continue;
      }
      const congestion = this.congestionOf(connection);
      if (connection.queuedBytes <= this.limits.subscriberHighWater) {
        congestion.congestedSince = 0;
        this.flushConflatedFor(connection);
        continue;
      }
      if (congestion.congestedSince === 0) congestion.congestedSince = now;
      else if (this.limits.slowSubscriberMs > 0 && now - congestion.congestedSince > this.limits.slowSubscriberMs) {
        this.conflatedConnections.delete(connection);
        this.counters?.slowSubscriberDisconnected();
        connection.abort();
      }
    }
    if (this.conflatedConnections.size === 0) this.disarmSweeps();
  }

  private feedOf(auctionId: number): AuctionFeed<S> {
    let feed = this.feeds.get(auctionId);
    if (feed === undefined) {
      this.feeds.set(auctionId, (feed = new AuctionFeed<S>()));
      this.interest?.follow?.(auctionId);
    }
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
    const connections = new Set<S>();
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
