// The Redis key layout: every key of an auction's shard group carries the hash tag {g<n>}
// (n = id % shards), so a batch's call for one group runs on one Cluster slot.
//
// Key layout (the hash fields are documented at the top of lua/bid.lua):
//   gavel:{g<n>}:a:<id>      auction hash; n = id % shards, the auction's shard group
//   gavel:{g<n>}:a:<id>:h    its bid history stream, entry id 0-<seq>
//   gavel:{g<n>}:ends        sorted set of the group's auctions by ends_at (for the closer)
//   gavel:{g<n>}:live        sorted set of the group's auctions not closed, score = id; and
//   gavel:{g<n>}:closed      of those closed (lua/create.lua, close.lua, cancel.lua): the
//                            pages of listAuctions by phase
//   gavel:{g<n>}:retire      sorted set of the group's closed auctions by ends_at (close.lua,
//                            cancel.lua): what GAVEL_RETENTION deletes first (lua/retire.lua)
//   gavel:{g<n>}:retire-backfill  how far the group's :closed ids written before the retire
//                            set existed have been copied into it ("done" at the end)
//   gavel:{g<n>}:updates     pub/sub channel of the group's UPDATE and CLOSED frames
//   gavel:{g<n>}:epoch       the group's epoch: a random id written once (lua/epoch.lua); a
//                            node that finds it missing or changed knows Redis lost the group's
//                            data (src/store/redis-epoch.ts)
//   gavel:{g<n>}:outbox      stream of the group's webhook events (GAVEL_WEBHOOK_URL set),
//                            written by bid.lua, close.lua and cancel.lua; read by the
//                            consumer group gavel-webhooks (src/store/outbox-redis.ts)
//   gavel:{g<n>}:outbox-lease  which node delivers the group's events now (expires)
//   gavel:auction-ids        counter for generated auction ids
//   gavel:auctions           sorted set of every auction id (score = id), for listAuctions
// All keys of a group share the hash tag {g<n>}, so a batch's call for one group runs on one
// Cluster slot. The two global keys are only ever touched by commands of their own.
//
//
// Redis Cluster later: the scripts' PUBLISH becomes SPUBLISH and the feed's SUBSCRIBE becomes
// SSUBSCRIBE (with the "smessageBuffer" event), so each group's channel lives on its slot's
// shard; nothing else changes (see RedisFeed).

import { epochKeyOf } from "./redis-epoch.ts";

const KEY_PREFIX = "gavel";
export const AUCTION_IDS_KEY = `${KEY_PREFIX}:auction-ids`;
export const AUCTION_INDEX_KEY = `${KEY_PREFIX}:auctions`;

/** The shard group of an auction: the `n` of its hash tag `{g<n>}`. */
export function shardGroup(auction: number, shards: number): number {
  return auction % shards;
}

/** `gavel:{g<n>}`: the prefix every key of group `n` starts with. */
export function groupPrefix(group: number): string {
  return `${KEY_PREFIX}:{g${group}}`;
}

export function auctionKey(auction: number, shards: number): string {
  return `${groupPrefix(shardGroup(auction, shards))}:a:${auction}`;
}

/** An auction's history key is its hash key and this. */
export const HISTORY_SUFFIX = ":h";

export function historyKey(auction: number, shards: number): string {
  return auctionKey(auction, shards) + HISTORY_SUFFIX;
}

export function endsKey(group: number): string {
  return `${groupPrefix(group)}:ends`;
}

/** `gavel:{g<n>}:live` and `:closed`: the group's ids by phase, score = id (lua/create.lua). */
export function liveKey(group: number): string {
  return `${groupPrefix(group)}:live`;
}

export function closedKey(group: number): string {
  return `${groupPrefix(group)}:closed`;
}

/** `gavel:{g<n>}:retire`: the group's closed auctions, score = ends_at (lua/retire.lua). */
export function retireKey(group: number): string {
  return `${groupPrefix(group)}:retire`;
}

/** `gavel:{g<n>}:retire-backfill`: see src/store/redis-retention.ts. */
export function retireBackfillKey(group: number): string {
  return `${groupPrefix(group)}:retire-backfill`;
}

/** `gavel:{g<n>}:epoch`: see src/store/redis-epoch.ts. */
export function epochKey(group: number): string {
  return epochKeyOf(groupPrefix(group));
}

/**
 * The channel group `n`'s frames are published on: bid.lua's UPDATEs, close.lua's and
 * cancel.lua's CLOSEDs, each call's frames back to back in one message.
 */
export function updatesChannel(group: number): string {
  return `${groupPrefix(group)}:updates`;
}


/** `gavel:{g<n>}:outbox`: the group's webhook events (src/store/outbox-redis.ts). */
export function outboxKey(group: number): string {
  return `${groupPrefix(group)}:outbox`;
}

/** `gavel:{g<n>}:outbox-lease`: the node delivering the group's webhook events, while it lasts. */
export function outboxLeaseKey(group: number): string {
  return `${groupPrefix(group)}:outbox-lease`;
}
