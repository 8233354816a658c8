// The growth benchmark's Redis store: a throwaway redis-server, and a loader that writes the
// plan in the layout the Redis store itself leaves (src/store/redis-keys.ts names every key;
// the values are what lua/create.lua writes, then lua/bid.lua for each bid and lua/close.lua
// for a closed auction), streamed through `redis-cli --pipe`.
//
// Per auction: its hash (create.lua's fields, fx packed as create.lua packs it; sq/am/ld/tp after
// its bids; cl=1 and wn=leader once closed, as close.lua leaves it with no reserve), its
// history stream (one entry 0-<seq> per bid, field d packed as bid.lua packs it), and its id in
// the every-id index (gavel:auctions, as createAuction adds it). Per shard group: the open and
// scheduled ids in :live (score id) and :ends (score ends_at), the scheduled ones also in
// :starts (score starts_at) and :scheduled (score id); the closed ids in :closed (score id) and
// :retire (score ends_at), as close.lua moves them. Then each group's epoch (as epoch.lua writes
// it: a balanced layout's group 0 epoch is also how a server tells the balanced layout from the
// legacy one), its scheduled backfill marked done, and the id counter at the highest id, as if
// every id had been generated.

import { DEFAULT_SHARDS } from "../../src/store/redis.ts";
import { WALK_DONE } from "../../src/store/redis-cursor-walk.ts";
import { newEpoch } from "../../src/store/redis-epoch.ts";
import { AUCTION_IDS_KEY, AUCTION_INDEX_KEY, KeyLayout, RedisKeys, shardGroup } from "../../src/store/redis-keys.ts";
import { spawnRedis, type SpawnedRedis } from "../load/spawn.ts";
import type { GrowthStore, Loaded, Sidecar } from "./growth-store.ts";
import { plannedAuction, plannedBid, type GrowthPlan } from "./plan.ts";
import { BinaryPacker, RedisPipe } from "./redis-pipe.ts";

/** Auctions per round of sorted-set writes (one ZADD per set and group per round). */
const LOAD_CHUNK = 10_000;
/** bid.lua's `by` of a step placed by the user's own BID. */
const BY_BID = 0;

/** Members of one sorted set gathered for one ZADD: score, member, score, member... */
class ZaddBatch {
  private readonly args = new Map<string, (string | number)[]>();

  add(key: string, score: number, member: number): void {
    let args = this.args.get(key);
    if (args === undefined) this.args.set(key, (args = []));
    args.push(score, member);
  }

  /** One ZADD per set gathered; then empty. */
  flushTo(pipe: RedisPipe): void {
    for (const [key, args] of this.args) pipe.command("ZADD", key, ...args);
    this.args.clear();
  }
}

export class RedisGrowthStore implements GrowthStore {
  readonly kind = "redis";
  readonly keys = new RedisKeys(DEFAULT_SHARDS, KeyLayout.BALANCED);

  private constructor(private readonly redis: SpawnedRedis) {}

  /** Starts the redis-server the data will live in. */
  static async start(): Promise<RedisGrowthStore> {
    return new RedisGrowthStore(await spawnRedis());
  }

  get where(): string {
    return this.redis.url;
  }

  get sidecars(): Sidecar[] {
    return [{ label: "redis-server", pid: this.redis.pid }];
  }

  async load(plan: GrowthPlan): Promise<Loaded> {
    const { keys } = this;
    const pipe = RedisPipe.open(this.redis.url);
    const sets = new ZaddBatch();
    const packer = new BinaryPacker();
    const open: number[] = [];
    for (let id = 1; id <= plan.auctions; id++) {
      const a = plannedAuction(plan, id);
      const group = shardGroup(id, keys.shards);
      // sp mi rs bn st as mx, as create.lua packs them (FIXED_LAYOUT); no increment table.
      const fixed = packer.u64(a.startingPrice).u64(a.minIncrement).u64(0).u64(0).u64(a.startsAt).u64(0).u64(0).take();
      pipe.command(
        "HSET", keys.auction(id),
        "ti", a.title, "sp", a.startingPrice, "mi", a.minIncrement, "rs", 0, "bn", 0,
        "st", a.startsAt, "en", a.endsAt, "as", 0, "mx", 0,
        // The leader's maximum (tp) is the amount: every bid here is a plain BID.
        "sq", a.seq, "am", a.amount, "ld", a.leader, "tp", a.amount,
        "cl", a.closed ? 1 : 0, "wn", a.winner, "ic", "", "fx", fixed,
      );
      for (let s = 1; s <= a.seq; s++) {
        const bid = plannedBid(a, s);
        // amount u64, user u32, accepted at u64, ends_at after u64, by u8 (bid.lua's HISTORY_LAYOUT).
        pipe.command("XADD", keys.history(id), `0-${s}`, "d", packer.u64(bid.amount).u32(bid.user).u64(bid.at).u64(a.endsAt).u8(BY_BID).take());
      }
      sets.add(AUCTION_INDEX_KEY, id, id);
      if (a.closed) {
        sets.add(keys.closed(group), id, id);
        sets.add(keys.retire(group), a.endsAt, id);
      } else {
        sets.add(keys.live(group), id, id);
        sets.add(keys.ends(group), a.endsAt, id);
        if (a.scheduled) {
          sets.add(keys.starts(group), a.startsAt, id);
          sets.add(keys.scheduled(group), id, id);
        } else {
          open.push(id);
        }
      }
      if (id % LOAD_CHUNK === 0) {
        sets.flushTo(pipe);
        await pipe.flush();
      }
    }
    sets.flushTo(pipe);
    for (let group = 0; group < keys.shards; group++) {
      pipe.command("SET", keys.epoch(group), newEpoch());
      // Written in this release's layout: nothing stored before the scheduled sets to look for.
      pipe.command("SET", keys.scheduledBackfill(group), WALK_DONE);
    }
    pipe.command("SET", AUCTION_IDS_KEY, plan.auctions);
    await pipe.finish();
    return { open };
  }

  serverEnv(): Record<string, string> {
    return { REDIS_URL: this.redis.url, GAVEL_REDIS_SHARDS: String(this.keys.shards) };
  }

  /** The hash's en and the group's :ends score, as bid.lua moves them on an anti-snipe extension. */
  async moveEnds(ids: readonly number[], endsAt: (i: number) => number): Promise<void> {
    const pipe = RedisPipe.open(this.redis.url);
    const sets = new ZaddBatch();
    for (const [i, id] of ids.entries()) {
      pipe.command("HSET", this.keys.auction(id), "en", endsAt(i));
      sets.add(this.keys.ends(shardGroup(id, this.keys.shards)), endsAt(i), id);
    }
    sets.flushTo(pipe);
    await pipe.finish();
  }

  async close(): Promise<void> {
    await this.redis.stop();
  }
}
