// The node's one Pub/Sub subscriber connection: every shard group's updates channel, resubscribed
// after a cut, with the store's epoch check before each subscribe.

import type { Cluster, Redis } from "ioredis";
import type { LogSink } from "../log/log-sink.ts";
import type { UpdateFeed } from "./store.ts";
import { isEpochNotice } from "./redis-epoch.ts";

/** The feed connection's CLIENT SETNAME: how an operator (or a test) finds it in CLIENT LIST. */
export const FEED_CONNECTION_NAME = "gavel-feed";

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

  constructor(
    protected readonly client: Redis | Cluster,
    protected readonly channels: readonly string[],
    protected readonly log: (message: string) => void,
    protected readonly epochHooks: FeedEpochHooks,
  ) {}

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

  /** All channels subscribed (false before the first connect and while reconnecting). */
  get live(): boolean {
    return this.subscribed;
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  protected stop(): void {
    this.subscribed = false;
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
      this.subscribed = false;
    });
    subscriber.on("ready", () => void this.subscribeAll(subscriber));
  }

  private async subscribeAll(subscriber: Redis): Promise<void> {
    const generation = ++this.generation;
    try {
      await this.epochHooks.verify();
      if (generation !== this.generation || this.closed) return;
      await subscriber.subscribe(...this.channels);
    } catch {
      // A SUBSCRIBE that timed out on a live connection would leave it deaf: start over.
      if (generation === this.generation && !this.closed && subscriber.status === "ready") subscriber.disconnect(true);
      return;
    }
    if (generation !== this.generation || this.closed || subscriber.status !== "ready") return;
    this.subscribed = true;
    if (!this.cut) return;
    this.cut = false;
    this.log("redis: update feed restored");
    for (const listener of this.resyncListeners) listener();
  }
}
