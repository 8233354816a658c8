// The node's one Pub/Sub subscriber connection: every shard group's updates channel (or, with
// GAVEL_REDIS_FEED=subscribed, those of the groups its subscribers follow), resubscribed after a
// cut, with the store's epoch check before each subscribe.

import type { Cluster, Redis } from "ioredis";
import type { LogSink } from "../log/log-sink.ts";
import type { UpdateFeed } from "./store.ts";
import { isEpochNotice } from "./redis-epoch.ts";

/** The feed connection's CLIENT SETNAME: how an operator (or a test) finds it in CLIENT LIST. */
export const FEED_CONNECTION_NAME = "gavel-feed";

/** GAVEL_REDIS_FEED: every group's channel, or only those of the groups followed on this node. */
export const FeedMode = { ALL: "all", SUBSCRIBED: "subscribed" } as const;
export type FeedMode = (typeof FeedMode)[keyof typeof FeedMode];

/** GAVEL_REDIS_FEED_LINGER_MS's default: a group left by its last subscriber keeps its channel this long. */
export const DEFAULT_FEED_LINGER_MS = 30_000;
/**
 * A SUBSCRIBE waiting for its group's channel gets UNAVAILABLE past this: the feed connection is
 * down or Redis does not answer, and the client retries rather than waiting unbounded.
 */
export const GROUP_SUBSCRIBE_TIMEOUT_MS = 5_000;

/** Which channels a feed listens to (RedisStore's options). */
export interface FeedGroups {
  mode: FeedMode;
  /** The group of an auction (shardGroup with the deployment's shards). */
  groupOf: (auction: number) => number;
  /** With SUBSCRIBED: how long a group without local subscribers keeps its channel, ms. */
  lingerMs: number;
}

/** What the feed asks of its store about lost data (src/store/redis-epoch.ts). */
export interface FeedEpochHooks {
  /** Reads the epochs (resetting lost groups) before each subscribe, so no frame of an auction
   * created after a loss reaches a subscriber of the lost one. */
  verify(): Promise<void>;
  /** An epoch notice published on a group's channel (handled synchronously). */
  notice(message: Uint8Array): void;
}

/**
 * The node's one subscriber connection: every shard group's updates channel, whose messages
 * (whole UPDATE and CLOSED frames back to back) go to the onFrames listeners as they are.
 * When the connection is cut and comes back, it subscribes again and then tells the onResync
 * listeners, who heal the gap from the bid history: what was published while it was away is
 * lost (Pub/Sub keeps nothing). Before each subscribe the store reads its epochs: when Redis
 * lost data, the onReset listeners end the lost auctions' subscriptions first.
 *
 * With FeedMode.SUBSCRIBED the feed listens only to the groups of the auctions the hub follows
 * (follow/unfollow): a group's channel is subscribed when its first auction is followed, and a
 * SUBSCRIBE waits (listening) until Redis confirmed it before the store is read, so no UPDATE
 * after the snapshot is missed; a group followed no more keeps its channel for `lingerMs`, then
 * it is unsubscribed. At most one channel per group.
 *
 * On a Redis Cluster, ClusterFeed (src/store/redis-cluster-feed.ts) does the same with
 * sharded subscriptions.
 */
export class RedisFeed implements UpdateFeed {
  private readonly frameListeners: ((frames: Uint8Array) => void)[] = [];
  protected readonly resyncListeners: (() => void)[] = [];
  private readonly resetListeners: ((affects: (auction: number) => boolean, reason: string) => void)[] = [];
  private subscriber: Redis | null = null;
  /** Every channel is subscribed on the current connection. */
  protected subscribed = false;
  /** The connection was lost after it had subscribed: a resync is owed once it is back. */
  protected cut = false;
  /** Counts "ready"s, so a late subscribe reply from an earlier connection is ignored. */
  protected generation = 0;
  protected closed = false;
  /** SUBSCRIBED: per group, how many followed auctions it holds. */
  private readonly followed: Int32Array;
  /** Per group, 1 when its channel is confirmed subscribed on the current connection. */
  protected readonly listeningOn: Uint8Array;
  /** SUBSCRIBED: per group, 1 while its own SUBSCRIBE is in flight on the current connection. */
  private readonly inFlight: Uint8Array;
  /** SUBSCRIBED: groups followed whose channel is not confirmed yet (live is false while > 0). */
  private unconfirmed = 0;
  /** SUBSCRIBED: per group, the SUBSCRIBEs waiting for its channel (bounded by the hub's SUBSCRIBEs being answered). */
  private readonly waiters: ((() => void)[] | null)[];
  /** SUBSCRIBED: per group, the timer that unsubscribes it once it has been left for lingerMs. */
  private readonly lingers: (ReturnType<typeof setTimeout> | null)[];

  constructor(
    protected readonly client: Redis | Cluster,
    protected readonly channels: readonly string[],
    protected readonly log: (message: string) => void,
    protected readonly epochHooks: FeedEpochHooks,
    protected readonly groups: FeedGroups = { mode: FeedMode.ALL, groupOf: () => 0, lingerMs: DEFAULT_FEED_LINGER_MS },
  ) {
    const count = groups.mode === FeedMode.SUBSCRIBED ? channels.length : 0;
    this.followed = new Int32Array(count);
    this.listeningOn = new Uint8Array(channels.length);
    this.inFlight = new Uint8Array(count);
    this.waiters = Array.from({ length: count }, () => null);
    this.lingers = Array.from({ length: count }, () => null);
  }

  /** The first listener opens the subscriber connection. */
  onFrames(listener: (frames: Uint8Array) => void): void {
    this.frameListeners.push(listener);
    this.start();
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  onReset(listener: (affects: (auction: number) => boolean, reason: string) => void): void {
    this.resetListeners.push(listener);
  }

  /** The store found data lost: the listeners end the subscriptions of the auctions `affects` names. */
  reset(affects: (auction: number) => boolean, reason: string): void {
    for (const listener of this.resetListeners) {
      try {
        listener(affects, reason);
      } catch (err) {
        this.log(`redis: update feed reset listener failed: ${String(err)}`);
      }
    }
  }

  /**
   * Every wanted channel subscribed (false before the first connect, while reconnecting and,
   * with SUBSCRIBED, while a followed group's channel is not confirmed yet).
   */
  get live(): boolean {
    return this.subscribed && this.unconfirmed === 0;
  }

  /** The hub follows `auction` (its first local subscriber): with SUBSCRIBED, its group's channel is wanted. */
  follow(auction: number): void {
    if (this.groups.mode !== FeedMode.SUBSCRIBED) return;
    const group = this.groups.groupOf(auction);
    const linger = this.lingers[group];
    if (linger !== null && linger !== undefined) {
      clearTimeout(linger);
      this.lingers[group] = null;
    }
    if (this.followed[group]!++ > 0) return;
    if (this.listeningOn[group] === 1) return;
    this.unconfirmed++;
    this.subscribeGroup(group);
  }

  /** The hub follows `auction` no more: a group left by all its auctions loses its channel after the linger. */
  unfollow(auction: number): void {
    if (this.groups.mode !== FeedMode.SUBSCRIBED) return;
    const group = this.groups.groupOf(auction);
    if (this.followed[group]! <= 0 || --this.followed[group]! > 0) return;
    if (this.listeningOn[group] === 0) {
      this.unconfirmed--;
      return;
    }
    this.linger(group);
  }

  /** A listened group nobody follows: its channel goes after the linger, unless followed again. */
  private linger(group: number): void {
    if (this.lingers[group] !== null || this.closed) return;
    const timer = setTimeout(() => this.leaveGroup(group), this.groups.lingerMs);
    timer.unref?.();
    this.lingers[group] = timer;
  }

  /**
   * Null when `auction`'s frames reach this node already; else a promise that resolves once its
   * group's channel is confirmed subscribed, and rejects past GROUP_SUBSCRIBE_TIMEOUT_MS (or when
   * the feed closes). The hub reads the store only after it.
   */
  listening(auction: number): Promise<void> | null {
    if (this.groups.mode !== FeedMode.SUBSCRIBED) return null;
    const group = this.groups.groupOf(auction);
    if (this.listeningOn[group] === 1) return null;
    if (this.closed) return Promise.reject(new Error("the update feed is closed"));
    return new Promise<void>((resolve, reject) => {
      const waiting = (this.waiters[group] ??= []);
      const timer = setTimeout(() => {
        const at = waiting.indexOf(done);
        if (at >= 0) waiting.splice(at, 1);
        reject(new Error(`the update feed did not subscribe to ${this.channels[group]} in time`));
      }, GROUP_SUBSCRIBE_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      waiting.push(done);
    });
  }

  close(): void {
    this.closed = true;
    for (let group = 0; group < this.lingers.length; group++) {
      const linger = this.lingers[group];
      if (linger !== null && linger !== undefined) clearTimeout(linger);
      this.lingers[group] = null;
    }
    this.stop();
  }

  /** The channels a (re)subscription round subscribes: every one, or the followed groups'. */
  protected wantedGroups(): number[] {
    const groups: number[] = [];
    for (let group = 0; group < this.channels.length; group++) {
      if (this.groups.mode === FeedMode.ALL || this.followed[group]! > 0) groups.push(group);
    }
    return groups;
  }

  /** A subscription round is over (the connection came back): these groups are listened to, no others. */
  protected roundDone(groups: readonly number[]): void {
    this.listeningOn.fill(0);
    this.inFlight.fill(0);
    for (const group of groups) this.listeningOn[group] = 1;
    this.subscribed = true;
    if (this.groups.mode !== FeedMode.SUBSCRIBED) return;
    this.unconfirmed = 0;
    for (let group = 0; group < this.channels.length; group++) {
      if (this.followed[group]! === 0) {
        // Left while the round was under way.
        if (this.listeningOn[group] === 1) this.linger(group);
        continue;
      }
      if (this.listeningOn[group] === 1) this.confirmed(group);
      else {
        // Followed while the round was under way: its own SUBSCRIBE now.
        this.unconfirmed++;
        this.subscribeGroup(group);
      }
    }
  }

  /** The connection is lost: nothing is listened to until the next round. */
  protected lost(): void {
    this.subscribed = false;
    if (this.groups.mode !== FeedMode.SUBSCRIBED) return;
    this.listeningOn.fill(0);
    this.inFlight.fill(0);
    this.unconfirmed = 0;
    for (let group = 0; group < this.channels.length; group++) if (this.followed[group]! > 0) this.unconfirmed++;
  }

  /** The group's channel is confirmed: the SUBSCRIBEs waiting for it go on. */
  private confirmed(group: number): void {
    const waiting = this.waiters[group];
    this.waiters[group] = null;
    if (waiting === null || waiting === undefined) return;
    for (const done of waiting) done();
  }

  /**
   * Subscribes one followed group's channel on the current connection, after the epoch check.
   * While the connection is down, or a round is under way, the round subscribes it.
   */
  private subscribeGroup(group: number): void {
    if (!this.subscribed || this.closed || this.inFlight[group] === 1) return;
    this.inFlight[group] = 1;
    const generation = this.generation;
    void (async () => {
      try {
        await this.epochHooks.verify();
        if (generation !== this.generation || this.closed) return;
        await this.sendSubscribe([this.channels[group]!]);
      } catch {
        if (generation !== this.generation || this.closed) return;
        this.inFlight[group] = 0;
        this.groupSubscribeFailed(group);
        return;
      }
      if (generation !== this.generation || this.closed || !this.subscribed) return;
      this.inFlight[group] = 0;
      if (this.listeningOn[group] === 1) return;
      this.listeningOn[group] = 1;
      if (this.followed[group]! > 0) {
        this.unconfirmed--;
        this.confirmed(group);
      } else this.linger(group);
    })();
  }

  /** The linger of a group nobody follows ran out: its channel goes. */
  private leaveGroup(group: number): void {
    this.lingers[group] = null;
    if (this.followed[group]! > 0 || this.listeningOn[group] === 0 || this.closed) return;
    this.listeningOn[group] = 0;
    // Lost with the connection, or refused: either way nothing of it is listened to now.
    this.sendUnsubscribe([this.channels[group]!]).catch(() => {});
  }

  /** SUBSCRIBE on the current connection; resolves once Redis confirmed it. */
  protected sendSubscribe(channels: string[]): Promise<unknown> {
    return this.subscriber!.subscribe(...channels);
  }

  protected sendUnsubscribe(channels: string[]): Promise<unknown> {
    if (this.subscriber === null) return Promise.resolve();
    return this.subscriber.unsubscribe(...channels);
  }

  /** A group's own SUBSCRIBE failed on a live connection: start over, the round subscribes it again. */
  protected groupSubscribeFailed(_group: number): void {
    if (this.subscriber?.status === "ready") this.subscriber.disconnect(true);
  }

  protected stop(): void {
    this.lost();
    for (let group = 0; group < this.waiters.length; group++) this.waiters[group] = null;
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  /** A published message: an epoch notice, or frames for the listeners. */
  protected dispatch(message: Buffer): void {
    if (isEpochNotice(message)) {
      this.epochHooks.notice(message);
      return;
    }
    for (const listener of this.frameListeners) {
      // A throwing listener must not break ioredis's reply parsing for the next message.
      try {
        listener(message);
      } catch (err) {
        this.log(`redis: update feed listener failed: ${String(err)}`);
      }
    }
  }

  protected start(): void {
    if (this.subscriber !== null || this.closed) return;
    const subscriber = (this.client as Redis).duplicate({
      lazyConnect: false,
      enableAutoPipelining: false,
      connectionName: FEED_CONNECTION_NAME,
      // Unlike the bid connection, this one waits: a SUBSCRIBE sent while disconnected is sent
      // on reconnect, and one cut in flight is resent (SUBSCRIBE is idempotent). Without the
      // resend, maxRetriesPerRequest null would leave a cut command's promise pending for ever.
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResendUnfulfilledCommands: true,
      // We subscribe ourselves on every "ready", to know when the subscription is back.
      autoResubscribe: false,
    });
    this.subscriber = subscriber;
    subscriber.on("error", () => {
      // Reported by "close"; the retry strategy reconnects.
    });
    subscriber.on("messageBuffer", (_channel: Buffer, message: Buffer) => this.dispatch(message));
    subscriber.on("close", () => {
      if (this.closed) return;
      if (this.subscribed) {
        this.cut = true;
        this.log("redis: update feed lost, resubscribing");
      }
      this.lost();
    });
    subscriber.on("ready", () => void this.subscribeAll(subscriber));
  }

  private async subscribeAll(subscriber: Redis): Promise<void> {
    const generation = ++this.generation;
    let groups: number[];
    try {
      await this.epochHooks.verify();
      if (generation !== this.generation || this.closed) return;
      groups = this.wantedGroups();
      // SUBSCRIBE with no channel is an error: a node following nothing listens to nothing.
      if (groups.length > 0) await subscriber.subscribe(...groups.map((group) => this.channels[group]!));
    } catch {
      // A SUBSCRIBE that timed out on a live connection would leave it deaf: start over.
      if (generation === this.generation && !this.closed && subscriber.status === "ready") subscriber.disconnect(true);
      return;
    }
    if (generation !== this.generation || this.closed || subscriber.status !== "ready") return;
    this.roundDone(groups);
    if (!this.cut) return;
    this.cut = false;
    this.log("redis: update feed restored");
    for (const listener of this.resyncListeners) listener();
  }
}
