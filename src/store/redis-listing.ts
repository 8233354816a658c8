// The Redis store's reads of auctions: one auction, or a listing page by phase. A page reads
// ids from the sets of its phase, by id (lua/read-ids.lua; lua/read-scheduled-ids.lua for the
// scheduled phase), then the auctions it still lacks (lua/read-auctions.lua): two round trips
// whatever the number of auctions stored.
//
// Each round trip is one script call per shard group on a cluster (a group's keys share a
// slot) and one call in all on a single Redis (every key in one server): the client's cost per
// command and per string of a reply was most of a page's time, so replies are one text each.

import { phaseAt, type AuctionState } from "../auction/auction.ts";
import { Phase } from "../protocol/constants.ts";
import { AUCTION_FIELDS, auctionFromFields, type FieldValue } from "./redis-auction-records.ts";
import { AUCTION_INDEX_KEY, shardGroup, type RedisKeys } from "./redis-keys.ts";

/** listAuctions reads the one index of every id (no phase) in pages of at least this many. */
const LIST_PAGE = 100;
/**
 * A phase's ids are spread over every group's set (id % groups), so a page of n needs about
 * n / groups from each: each set is read this many times its share (at least
 * LIST_GROUP_READ_MIN), and the rare page that falls short reads on. Reading a full page from
 * every set decoded 16 times the ids a page shows, most of a listing's time.
 */
const LIST_GROUP_READ_FACTOR = 2;
const LIST_GROUP_READ_MIN = 16;
/**
 * An open page reads this share more auctions than it still lacks: the `:live` sets hold the
 * scheduled auctions too, and reading exactly what was lacking cost most open pages a round
 * trip more for the one or two it then still lacked. (The other phases' sets hold only their
 * phase.)
 */
export const OPEN_READ_EXTRA = 0.1;
/**
 * A closed listing reads at most this many ended-but-not-closed ids per group: the closer's
 * backlog, a few ids between two ticks. Past it (a mass close in progress) the rest are listed
 * once the closer has closed them, a moment later.
 */
const LIST_ENDED_PER_GROUP = 1_000;

/** What the listing sends: HMGET, and the two read scripts (ioredis's defineCommand). */
export interface ListingClient {
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  gavelReadAuctions(keyCount: number, ...keysThenFields: string[]): Promise<string>;
  gavelReadIds(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<string>;
  gavelReadScheduledIds(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<string>;
}

export interface ListingOptions {
  client: ListingClient;
  keys: RedisKeys;
  /** One call per shard group (a cluster), or one call in all (a single Redis). */
  callPerGroup: boolean;
  /** Redis's time, as the store estimates it. */
  now: () => number;
  /** Told of every auction read (the store keeps the highest id it has seen). */
  sawAuction: (id: number) => void;
  /**
   * Group `group`'s scheduled set holds all its scheduled auctions (src/store/redis-scheduled-backfill.ts);
   * until then a scheduled page reads the group's live ids.
   */
  scheduledSetFilled: (group: number) => boolean;
}

/** Per sorted set read, the ids above `after` (at most `count`), in id order. */
type IdReader = (after: number, count: number) => Promise<number[][]>;

/** One set's part of an id script's reply: its ids separated by commas ("" for none). */
function idsOfText(text: string): number[] {
  return text === "" ? [] : text.split(",").map(Number);
}

export class RedisListing {
  private readonly keys: RedisKeys;

  constructor(private readonly options: ListingOptions) {
    this.keys = options.keys;
  }

  /** One auction: one HMGET, no script (a subscription reads one, and 50,000 subscribe at once). */
  async getAuction(id: number): Promise<AuctionState | null> {
    const auction = auctionFromFields(id, await this.options.client.hmget(this.keys.auction(id), ...AUCTION_FIELDS));
    if (auction !== null) this.options.sawAuction(id);
    return auction;
  }

  /**
   * Auctions in `phase` (null: any) by now(), ascending id after `afterId`, at most `limit`.
   * A page reads ids by id from the sets of that phase only (every group's `:live` set for
   * open, `:closed` for closed, `:scheduled` for scheduled), never every id; null reads the one
   * index of every id. Closed also takes in the auctions past their end the closer has not
   * reached yet: the due part of each group's `:ends` (the closer's backlog), not every live id.
   */
  async listAuctions(phase: Phase | null, afterId: number, limit: number): Promise<AuctionState[]> {
    const found: AuctionState[] = [];
    if (limit <= 0) return found;
    const now = this.options.now();
    const setCount = phase === null ? 1 : this.keys.shards;
    const firstCount = setCount === 1 ? Math.max(limit, LIST_PAGE) : Math.max(LIST_GROUP_READ_MIN, Math.ceil((LIST_GROUP_READ_FACTOR * limit) / setCount));
    // A round after the first reads a page from each set: the phase's ids are not spread evenly
    // over the groups (the scheduled ones of a catalogue can sit in two), and a page that
    // kept reading twice its share took four rounds there.
    const laterCount = Math.max(firstCount, limit);
    const readAfter = this.idReader(phase, now);
    // The closer's backlog is read beside the first ids: one round trip, not two.
    const [ended, first] = await Promise.all([phase === Phase.CLOSED ? this.endedNotClosed(now) : [], this.nextIds(readAfter, afterId, firstCount)]);
    let next = first;
    let after = afterId;
    for (;;) {
      let ids = this.withEnded(next, ended, after);
      // Ids too few to fill the page: read on before reading any auction, so the auctions are
      // read in one round trip, not one per id round (ids skewed to a few groups took two).
      while (!next.complete && ids.length < limit - found.length) {
        const more = await this.nextIds(readAfter, next.ids[next.ids.length - 1]!, laterCount);
        next = { ids: next.ids.concat(more.ids), complete: more.complete };
        ids = this.withEnded(next, ended, after);
      }
      if (await this.readPage(ids, phase, now, limit, found)) return found;
      if (next.complete || ids.length === 0) return found;
      after = ids[ids.length - 1]!;
      next = await this.nextIds(readAfter, after, laterCount);
    }
  }

  /**
   * The ids of `next` and the closer's backlog `ended` between `after` and the last id `next`
   * vouches for (every id, once it is complete), ascending and once each.
   */
  private withEnded(next: { ids: number[]; complete: boolean }, ended: number[], after: number): number[] {
    if (ended.length === 0) return next.ids;
    const upTo = next.complete ? Infinity : next.ids[next.ids.length - 1]!;
    return [...new Set([...next.ids, ...ended.filter((id) => id > after && id <= upTo)])].sort((a, b) => a - b);
  }

  /**
   * How a page of `phase` reads its ids: per set, at most `count` above `after` (see
   * {@link nextIds}). Scheduled through lua/read-scheduled-ids.lua, the rest through
   * lua/read-ids.lua on the phase's sets (the one index of every id for null).
   */
  private idReader(phase: Phase | null, now: number): IdReader {
    if (phase === Phase.SCHEDULED) return (after, count) => this.readScheduledIds(now, after, count);
    const sets = phase === null ? [AUCTION_INDEX_KEY] : Array.from({ length: this.keys.shards }, (_, g) => (phase === Phase.CLOSED ? this.keys.closed(g) : this.keys.live(g)));
    return (after, count) => this.readIds(sets, `(${after}`, "+inf", count);
  }

  /**
   * Reads the auctions of `ids` (ascending) into `found` while it holds fewer than `limit`,
   * keeping those in `phase` (null: any); true once `found` is full. The ids may be many (the
   * union of the groups' reads holds up to shards x page ids): the auctions are read only as
   * many at a time as the page still lacks (an open page {@link OPEN_READ_EXTRA} more), so a
   * page costs about the page.
   */
  private async readPage(ids: number[], phase: Phase | null, now: number, limit: number, found: AuctionState[]): Promise<boolean> {
    const extra = phase === Phase.OPEN ? OPEN_READ_EXTRA : 0;
    for (let start = 0; start < ids.length; ) {
      const lacking = limit - found.length;
      const chunk = ids.slice(start, start + lacking + Math.ceil(lacking * extra));
      start += chunk.length;
      for (const auction of await this.getAuctions(chunk)) {
        if (auction === null) continue; // an index entry whose create never ran, or deleted
        this.options.sawAuction(auction.id);
        if (phase !== null && phaseAt(auction, now) !== phase) continue;
        found.push(auction);
        if (found.length === limit) return true;
      }
    }
    return false;
  }

  /** The ids in every group's `:ends` due at `now` (at most {@link LIST_ENDED_PER_GROUP} each), ascending. */
  private async endedNotClosed(now: number): Promise<number[]> {
    const sets = Array.from({ length: this.keys.shards }, (_, g) => this.keys.ends(g));
    const reads = await this.readIds(sets, "-inf", String(now), LIST_ENDED_PER_GROUP);
    return reads.flat().sort((a, b) => a - b);
  }

  /**
   * The ids above `after` in the union of the sorted sets `readAfter` reads (score = id, at most
   * `count` from each, in one round trip), ascending, up to the first id any set may still hold
   * more beyond: a set that returned a full read bounds what is known. `complete` when no set
   * has more. The sets never share an id (each holds its own group's, or there is the one index).
   */
  private async nextIds(readAfter: IdReader, after: number, count: number): Promise<{ ids: number[]; complete: boolean }> {
    const reads = await readAfter(after, count);
    let bound = Infinity;
    for (const read of reads) if (read.length === count) bound = Math.min(bound, read[read.length - 1]!);
    const ids = reads.flat().filter((id) => id <= bound).sort((a, b) => a - b);
    return { ids, complete: bound === Infinity };
  }

  /**
   * Per sorted set of `sets`, its ids scored from `min` to `max` (ZRANGEBYSCORE's syntax), at
   * most `count`, in score order.
   */
  private async readIds(sets: readonly string[], min: string, max: string, count: number): Promise<number[][]> {
    const reads: number[][] = [];
    await Promise.all(
      // Each set is of another group (or the global index): on a cluster, a call each.
      this.calls(sets.length, (set) => set).map(async (positions) => {
        const keys = positions.map((p) => sets[p]!);
        const texts = (await this.options.client.gavelReadIds(keys.length, ...keys, min, max, count)).split(";");
        positions.forEach((p, i) => (reads[p] = idsOfText(texts[i]!)));
      }),
    );
    return reads;
  }

  /**
   * Per group, its scheduled ids above `after`, at most `count`, ascending
   * (lua/read-scheduled-ids.lua, which first drops a step of the auctions started by `now`);
   * a group whose scheduled set is not filled yet gives its live ids instead.
   */
  private async readScheduledIds(now: number, after: number, count: number): Promise<number[][]> {
    const reads: number[][] = [];
    await Promise.all(
      this.calls(this.keys.shards, (group) => group).map(async (groups) => {
        const keys = groups.flatMap((g) => [this.keys.starts(g), this.keys.scheduled(g), this.options.scheduledSetFilled(g) ? this.keys.scheduled(g) : this.keys.live(g)]);
        const texts = (await this.options.client.gavelReadScheduledIds(keys.length, ...keys, now, `(${after}`, count)).split(";");
        groups.forEach((g, i) => (reads[g] = idsOfText(texts[i]!)));
      }),
    );
    return reads;
  }

  /**
   * The auctions of `ids`, in that order (null where none), through lua/read-auctions.lua.
   */
  private async getAuctions(ids: readonly number[]): Promise<(AuctionState | null)[]> {
    const auctions: (AuctionState | null)[] = ids.map(() => null);
    await Promise.all(
      this.calls(ids.length, (p) => shardGroup(ids[p]!, this.keys.shards)).map(async (positions) => {
        const keys = positions.map((p) => this.keys.auction(ids[p]!));
        const replies = JSON.parse(await this.options.client.gavelReadAuctions(keys.length, ...keys, ...AUCTION_FIELDS)) as FieldValue[][];
        positions.forEach((p, i) => (auctions[p] = auctionFromFields(ids[p]!, replies[i]!)));
      }),
    );
    return auctions;
  }

  /**
   * The positions 0..count-1 split into script calls: on a cluster, one call per shard group
   * (`groupOf`: a position's group); on a single Redis, one call.
   */
  private calls(count: number, groupOf: (position: number) => number): number[][] {
    if (count === 0) return [];
    const all = Array.from({ length: count }, (_, p) => p);
    if (!this.options.callPerGroup) return [all];
    const byGroup = new Map<number, number[]>();
    for (const p of all) {
      const group = groupOf(p);
      const positions = byGroup.get(group);
      if (positions === undefined) byGroup.set(group, [p]);
      else positions.push(p);
    }
    return [...byGroup.values()];
  }
}
