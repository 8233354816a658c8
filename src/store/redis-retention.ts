// GAVEL_RETENTION on Redis: closed auctions whose ends_at is older than the retention are
// deleted with their history, a small step at a time, off the bid path. Each shard group keeps
// its closed auctions in a sorted set by ends_at (gavel:{<tag>}:retire, written by close.lua and
// cancel.lua), so a pass costs what is due: a ZRANGEBYSCORE with LIMIT per group, then one
// lua/retire.lua call naming every key it deletes (Redis Cluster's rule).
//
// Every node runs it. Two nodes retiring the same auctions at once is harmless: retire.lua
// checks each candidate again inside its atomic call, and deleting what is gone is a no-op.
//
// Auctions closed by a release that did not write the retire set are copied into it once per
// deployment, a step per group per pass, by walking the group's `:closed` ids (the backfill;
// its cursor is gavel:{<tag>}:retire-backfill, "done" once the walk has ended).

import type { Redis } from "ioredis";
import type { LogSink } from "../log/log-sink.ts";
import { walkStep } from "./redis-cursor-walk.ts";
import { AUCTION_INDEX_KEY, type RedisKeys } from "./redis-keys.ts";

/** How often a pass runs. */
export const REDIS_RETENTION_INTERVAL_MS = 1_000;
/** Auctions one retire.lua call looks at: a short call, as Redis runs nothing else meanwhile. */
export const REDIS_RETENTION_STEP = 64;
/** Closed ids one backfill step copies into the retire set, per group and pass. */
export const REDIS_RETENTION_BACKFILL_STEP = 256;
/** A pass stops starting rounds after this long (its calls are async: the event loop is free). */
const PASS_BUDGET_MS = 250;

/** The client with lua/retire.lua defined on it (ioredis adds the method at run time). */
interface RetireClient extends Redis {
  gavelRetire(...args: (string | number)[]): Promise<[deleted: string[], kept: string[]]>;
}

export interface RedisRetentionOptions {
  /** The deployment's groups and their keys. */
  keys: RedisKeys;
  /** Closed auctions whose ends_at is older than this go; must be > 0. */
  retentionMs: number;
  /** Redis's clock as the store estimates it (retire.lua checks again with Redis TIME). */
  now: () => number;
  log: LogSink;
  /** The text of lua/retire.lua. */
  script: string;
}

/**
 * The timer and the steps of GAVEL_RETENTION on Redis.
 * @example
 * const retention = RedisRetention.start(client, { keys, retentionMs: 30 * DAY, now, log, script });
 * await retention?.pass(); // what the timer does every second
 * retention?.stop();
 */
export class RedisRetention {
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly client: RetireClient;
  private running: Promise<number> | null = null;
  /** A failing streak is logged once, at its start. */
  private failing = false;
  private stopped = false;
  private deletedSoFar = 0;
  /** Per group: its backfill has ended (known from the cursor key, or walked here). */
  private readonly backfilled: boolean[];

  private constructor(client: Redis, private readonly options: RedisRetentionOptions) {
    this.client = client as RetireClient;
    this.backfilled = Array.from({ length: options.keys.shards }, () => false);
    this.client.defineCommand("gavelRetire", { lua: options.script });
    this.timer = setInterval(() => void this.pass(), REDIS_RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  /** Null when `retentionMs` is 0 (keep everything). */
  static start(client: Redis, options: RedisRetentionOptions): RedisRetention | null {
    return options.retentionMs > 0 ? new RedisRetention(client, options) : null;
  }

  /**
   * One pass: rounds of one step per group that still had a full step, until none has or the
   * budget is spent. A pass still running when the timer fires again is joined, not doubled.
   * Resolves with how many auctions this pass deleted; never rejects (a failure is logged and
   * the next pass tries again).
   */
  pass(): Promise<number> {
    this.running ??= this.rounds().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Auctions this node's passes deleted since it started. */
  get deleted(): number {
    return this.deletedSoFar;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async rounds(): Promise<number> {
    const start = performance.now();
    let deleted = 0;
    try {
      let groups = Array.from({ length: this.options.keys.shards }, (_, g) => g);
      await Promise.all(groups.filter((g) => !this.backfilled[g]).map((g) => this.backfillStep(g)));
      while (groups.length > 0 && !this.stopped) {
        const steps = await Promise.all(groups.map((g) => this.step(g)));
        const deletedNow = steps.reduce((sum, s) => sum + s.deleted, 0);
        deleted += deletedNow;
        this.deletedSoFar += deletedNow;
        groups = groups.filter((_, i) => steps[i]!.full);
        if (performance.now() - start >= PASS_BUDGET_MS) break;
      }
      if (this.failing) this.options.log("redis: deleting closed auctions past GAVEL_RETENTION works again", { level: "info" });
      this.failing = false;
    } catch (error) {
      if (!this.failing && !this.stopped) {
        this.options.log(`redis: warning: deleting closed auctions past GAVEL_RETENTION failed (${(error as Error).message}); retried in a moment`);
      }
      this.failing = true;
    }
    return deleted;
  }

  /** One group's step: up to {@link REDIS_RETENTION_STEP} due auctions, deleted in one call. */
  private async step(group: number): Promise<{ deleted: number; full: boolean }> {
    const { retentionMs, now, keys: redisKeys } = this.options;
    const retire = redisKeys.retire(group);
    const ids = await this.client.zrangebyscore(retire, "-inf", now() - retentionMs, "LIMIT", 0, REDIS_RETENTION_STEP);
    if (ids.length === 0) return { deleted: 0, full: false };
    // Out of the every-id index first (another slot, so a command of its own): a node that dies
    // between the two leaves the auctions in the retire set, and the next pass finishes them,
    // rather than an index entry nothing would ever remove.
    await this.client.zrem(AUCTION_INDEX_KEY, ...ids);
    // Every key in KEYS, all of the group's tag: one Cluster slot (never the global index).
    const keys = [retire, redisKeys.closed(group), redisKeys.starts(group), redisKeys.scheduled(group)];
    for (const id of ids) keys.push(redisKeys.auction(Number(id)), redisKeys.history(Number(id)));
    const [deleted, kept] = await this.client.gavelRetire(keys.length, ...keys, retentionMs, ...ids);
    // An id a newer auction uses again (or one not old enough after all) goes back in the index.
    if (kept.length > 0) await this.client.zadd(AUCTION_INDEX_KEY, ...kept.flatMap((id) => [id, id]));
    return { deleted: deleted.length, full: ids.length === REDIS_RETENTION_STEP };
  }

  /**
   * One backfill step of a group: the next closed ids after the cursor go into the retire set
   * scored by their ends_at (ZADD NX: close.lua's own entries stay as they are). Two nodes
   * walking at once only repeat each other; an id retired meanwhile leaves an entry that
   * retire.lua drops when it comes up.
   */
  private async backfillStep(group: number): Promise<void> {
    const keys = this.options.keys;
    this.backfilled[group] = await walkStep(this.client, keys.retireBackfill(group), keys.closed(group), REDIS_RETENTION_BACKFILL_STEP, async (ids) => {
      const fields = await Promise.all(ids.map((id) => this.client.hmget(keys.auction(Number(id)), "en", "cl")));
      const entries: (string | number)[] = [];
      ids.forEach((id, i) => {
        const [en, cl] = fields[i]!;
        if (en !== null && cl === "1") entries.push(Number(en), id);
      });
      if (entries.length > 0) await this.client.zadd(keys.retire(group), "NX", ...entries);
    });
  }
}
