// The update feed on a Redis Cluster: sharded subscriptions (SSUBSCRIBE), one connection per
// master, each group's channel on the master of its slot (the scripts SPUBLISH there).

import type { Cluster } from "ioredis";
import { FEED_CONNECTION_NAME, RedisFeed } from "./redis-feed.ts";

/**
 * RedisFeed over ioredis's sharded subscribers. ioredis follows the topology (a failover, a
 * slot moved, the server's SUNSUBSCRIBE when a slot leaves a master) and resubscribes; each
 * time it has, this feed subscribes every wanted channel again (idempotent) and then tells the
 * onResync listeners, who heal from the bid history whatever was published meanwhile.
 */
export class ClusterFeed extends RedisFeed {
  private subscriberCluster: Cluster | null = null;

  protected override start(): void {
    if (this.subscriberCluster !== null || this.closed) return;
    const cluster = this.client as Cluster;
    const subscriber = cluster.duplicate(undefined, {
      shardedSubscribers: true,
      enableAutoPipelining: false,
      // Unlike the bid connections, this one waits: an SSUBSCRIBE sent before a subscriber is
      // connected goes out once it is (SSUBSCRIBE is idempotent).
      enableOfflineQueue: true,
      redisOptions: {
        ...cluster.options.redisOptions,
        connectionName: FEED_CONNECTION_NAME,
        maxRetriesPerRequest: null,
        autoResendUnfulfilledCommands: true,
      },
    });
    this.subscriberCluster = subscriber;
    subscriber.on("error", () => {
      // A node lost: ioredis re-reads the topology and starts another subscriber.
    });
    subscriber.on("smessageBuffer", (_channel: Buffer, message: Buffer) => this.dispatch(message));
    const lost = () => {
      if (this.closed) return;
      if (this.subscribed) {
        this.cut = true;
        this.log("redis: a sharded update feed connection was lost, resubscribing");
      }
      this.lost();
    };
    subscriber.on("-node", lost);
    // After every (re)subscription by ioredis: a topology change may have moved channels, and
    // what was published on them meanwhile is healed from the history.
    subscriber.on("subscribersReady", () => {
      if (this.subscribed) this.cut = true;
      void this.subscribeShards(subscriber);
    });
    subscriber.on("ready", () => void this.subscribeShards(subscriber));
    subscriber.connect().catch(() => {
      // The cluster retry strategy keeps trying; "ready" subscribes.
    });
  }

  protected override stop(): void {
    super.stop();
    this.subscriberCluster?.disconnect();
    this.subscriberCluster = null;
  }

  /** One SSUBSCRIBE per channel: each group's channel hashes to its own slot. */
  protected override sendSubscribe(channels: string[]): Promise<unknown> {
    const subscriber = this.subscriberCluster!;
    return Promise.all(channels.map((channel) => subscriber.ssubscribe(channel)));
  }

  protected override sendUnsubscribe(channels: string[]): Promise<unknown> {
    const subscriber = this.subscriberCluster;
    if (subscriber === null) return Promise.resolve();
    return Promise.all(channels.map((channel) => subscriber.sunsubscribe(channel)));
  }

  /** A group's SSUBSCRIBE failed (a slot moving, a master away): the next round, soon, takes it. */
  protected override groupSubscribeFailed(_group: number): void {
    const subscriber = this.subscriberCluster;
    if (subscriber === null) return;
    setTimeout(() => void this.subscribeShards(subscriber), RETRY_MS).unref();
  }

  private async subscribeShards(subscriber: Cluster): Promise<void> {
    const generation = ++this.generation;
    let groups: number[];
    try {
      await this.epochHooks.verify();
      if (generation !== this.generation || this.closed) return;
      groups = this.wantedGroups();
      await this.sendSubscribe(groups.map((group) => this.channels[group]!));
    } catch {
      // Retried on the next topology event, or the periodic check below.
      if (generation === this.generation && !this.closed) setTimeout(() => void this.subscribeShards(subscriber), RETRY_MS).unref();
      return;
    }
    if (generation !== this.generation || this.closed) return;
    this.roundDone(groups);
    if (!this.cut) return;
    this.cut = false;
    this.log("redis: update feed restored");
    for (const listener of this.resyncListeners) listener();
  }
}

/** A failed subscription round is tried again this much later. */
const RETRY_MS = 250;
