// The Redis key layout: every key of an auction's shard group n (n = id % shards) carries the
// group's hash tag {<tag>}, so a batch's call for one group runs on one Cluster slot.
//
// Key layout (the hash fields are documented at the top of lua/bid.lua):
//   gavel:{<tag>}:a:<id>      auction hash; n = id % shards, the auction's shard group
//   gavel:{<tag>}:a:<id>:h    its bid history stream, entry id 0-<seq>
//   gavel:{<tag>}:ends        sorted set of the group's auctions by ends_at (for the closer)
//   gavel:{<tag>}:live        sorted set of the group's auctions not closed, score = id; and
//   gavel:{<tag>}:closed      of those closed (lua/create.lua, close.lua, cancel.lua): the
//                            pages of listAuctions by phase
//   gavel:{<tag>}:starts      sorted set of the group's auctions created to start later, score =
//                            starts_at (create.lua adds, cancel.lua and retire.lua remove, and
//                            each create.lua drops the group's entries already started)
//   gavel:{<tag>}:scheduled   the same auctions, score = id: what a scheduled page reads, by id
//                            (kept with :starts; a scheduled page and each create.lua drop the
//                            started ones from both, a bounded step at a time)
//   gavel:{<tag>}:scheduled-backfill  how far the group's :live ids written before the
//                            scheduled set existed have been looked at ("done" at the end)
//   gavel:{<tag>}:retire      sorted set of the group's closed auctions by ends_at (close.lua,
//                            cancel.lua): what GAVEL_RETENTION deletes first (lua/retire.lua)
//   gavel:{<tag>}:retire-backfill  how far the group's :closed ids written before the retire
//                            set existed have been copied into it ("done" at the end)
//   gavel:{<tag>}:updates     pub/sub channel of the group's UPDATE and CLOSED frames (a shard
//                            channel on Redis Cluster)
//   gavel:{<tag>}:epoch       the group's epoch: a random id written once (lua/epoch.lua); a
//                            node that finds it missing or changed knows Redis lost the group's
//                            data (src/store/redis-epoch.ts)
//   gavel:{<tag>}:outbox      stream of the group's webhook events (GAVEL_WEBHOOK_URL set),
//                            written by bid.lua, close.lua and cancel.lua; read by the
//                            consumer group gavel-webhooks (src/store/outbox-redis.ts)
//   gavel:{<tag>}:outbox-lease  which node delivers the group's events now (expires;
//                            lua/outbox-lease.lua)
//   gavel:auction-ids        counter for generated auction ids
//   gavel:auctions           sorted set of every auction id (score = id), for listAuctions
// All keys of a group share the group's hash tag, so a batch's call for one group runs on one
// Cluster slot, and every script names each key it touches in its KEYS. The two global keys
// are only ever touched by single-key commands of their own, which Redis Cluster routes to
// whichever master holds them: never in one command or script with a group's keys.
//
// The group's tag is `g<n>` or `g<n>-<k>`: see RedisKeys and src/store/redis-slots.ts.

import { epochKeyOf } from "./redis-epoch.ts";
import { balancedTags, legacyTags } from "./redis-slots.ts";

const KEY_PREFIX = "gavel";
export const AUCTION_IDS_KEY = `${KEY_PREFIX}:auction-ids`;
export const AUCTION_INDEX_KEY = `${KEY_PREFIX}:auctions`;

/**
 * How the groups' hash tags are chosen. `balanced` (a new deployment): each group's tag lands in
 * its own equal slice of Redis Cluster's slots, so M masters own close to G/M groups each.
 * `legacy`: the plain `g<n>` of deployments that stored data before, kept so their keys stay
 * where they are (16 plain tags land 6/5/5 on 3 masters anyway).
 */
export const KeyLayout = { BALANCED: "balanced", LEGACY: "legacy" } as const;
export type KeyLayout = (typeof KeyLayout)[keyof typeof KeyLayout];

/** The shard group of an auction: the `n` of group `g<n>`. */
export function shardGroup(auction: number, shards: number): number {
  return auction % shards;
}

/** An auction's history key is its hash key and this. */
export const HISTORY_SUFFIX = ":h";

/**
 * The keys and channels of one deployment: its number of groups and their tags.
 *
 * @example
 * const keys = new RedisKeys(16, KeyLayout.BALANCED);
 * keys.auction(7); // "gavel:{g7-...}:a:7"
 */
export class RedisKeys {
  readonly tags: readonly string[];
  /** Per group, `gavel:{<tag>}`. */
  private readonly prefixes: string[];

  constructor(
    readonly shards: number,
    readonly layout: KeyLayout,
  ) {
    this.tags = layout === KeyLayout.BALANCED ? balancedTags(shards) : legacyTags(shards);
    this.prefixes = this.tags.map((tag) => `${KEY_PREFIX}:{${tag}}`);
  }

  /** `gavel:{<tag>}`: the prefix every key of the group starts with. */
  prefix(group: number): string {
    return this.prefixes[group]!;
  }

  auction(id: number): string {
    return `${this.prefix(shardGroup(id, this.shards))}:a:${id}`;
  }

  history(id: number): string {
    return this.auction(id) + HISTORY_SUFFIX;
  }

  ends(group: number): string {
    return `${this.prefix(group)}:ends`;
  }

  /** The group's ids not closed, score = id (lua/create.lua). */
  live(group: number): string {
    return `${this.prefix(group)}:live`;
  }

  closed(group: number): string {
    return `${this.prefix(group)}:closed`;
  }

  /** The group's auctions created to start later, score = starts_at (lua/create.lua). */
  starts(group: number): string {
    return `${this.prefix(group)}:starts`;
  }

  /** The group's auctions created to start later, score = id (lua/create.lua): a scheduled page's ids. */
  scheduled(group: number): string {
    return `${this.prefix(group)}:scheduled`;
  }

  /** How far the group's older live ids were looked at for scheduled ones: see src/store/redis-scheduled-backfill.ts. */
  scheduledBackfill(group: number): string {
    return `${this.prefix(group)}:scheduled-backfill`;
  }

  /** See src/store/redis-epoch.ts. */
  epoch(group: number): string {
    return epochKeyOf(this.prefix(group));
  }

  /** The group's closed auctions, score = ends_at (lua/retire.lua). */
  retire(group: number): string {
    return `${this.prefix(group)}:retire`;
  }

  /** How far the group's older closed ids were copied into retire: see src/store/redis-retention.ts. */
  retireBackfill(group: number): string {
    return `${this.prefix(group)}:retire-backfill`;
  }

  /** The group's webhook events (src/store/outbox-redis.ts). */
  outbox(group: number): string {
    return `${this.prefix(group)}:outbox`;
  }

  /** The node delivering the group's webhook events, while it lasts (lua/outbox-lease.lua). */
  outboxLease(group: number): string {
    return `${this.prefix(group)}:outbox-lease`;
  }

  /**
   * The channel group `n`'s frames are published on: bid.lua's UPDATEs, close.lua's and
   * cancel.lua's CLOSEDs, each call's frames back to back in one message. On Redis Cluster it is
   * a shard channel (SPUBLISH), hashed like the group's keys, so it lives on their master.
   */
  channel(group: number): string {
    return `${this.prefix(group)}:updates`;
  }
}
