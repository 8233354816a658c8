// The scheduled sets' backfill: auctions stored before the groups' scheduled sets existed (by an
// earlier release: scheduled auctions in neither set, or only in :starts) are found once per
// deployment by walking each group's `:live` ids (what is open or scheduled: the working set,
// never the closed ones), a step at a time in the background, and added to `:scheduled` and
// `:starts`. Its cursor is gavel:{<tag>}:scheduled-backfill, "done" once the walk has ended.
//
// Until a group's walk has ended, a scheduled page reads that group's `:live` ids instead of
// its `:scheduled` ones (slower, never wrong: a page keeps only the auctions not started), so a
// scheduled auction is listed from the first page on.
//
// Every node walks the groups it finds not done; two walking at once only repeat each other.
// An auction that starts, is cancelled or is retired while a step looks at it may leave an
// entry behind: a scheduled page drops started entries (lua/read-scheduled-ids.lua), and pages
// keep only auctions still scheduled.

import type { Redis } from "ioredis";
import type { LogSink } from "../log/log-sink.ts";
import { walkEnded, walkStep } from "./redis-cursor-walk.ts";
import type { RedisKeys } from "./redis-keys.ts";

/** Live ids one step looks at, per group. */
const SCHEDULED_BACKFILL_STEP = 256;
/** The pause between two steps of one group: the walk yields to the bids. */
const STEP_PAUSE_MS = 10;
/** After a failed step (Redis away), the next try waits this long. */
const RETRY_PAUSE_MS = 1_000;

export interface ScheduledBackfillOptions {
  keys: RedisKeys;
  /** Redis's clock as the store estimates it: an auction with starts_at after it is scheduled. */
  now: () => number;
  log: LogSink;
}

/**
 * Which groups' scheduled sets can be read, and the walk that fills the others.
 * @example
 * const backfill = await ScheduledBackfill.start(client, { keys, now, log });
 * backfill.done(3); // true once group 3's scheduled set holds every scheduled auction
 * backfill.stop();
 */
export class ScheduledBackfill {
  private readonly walked: boolean[];
  private stopped = false;
  private failing = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  private constructor(
    private readonly client: Redis,
    private readonly options: ScheduledBackfillOptions,
    cursors: (string | null)[],
  ) {
    this.walked = cursors.map(walkEnded);
  }

  /** Reads every group's cursor (one round trip), then walks the groups not done in the background. */
  static async start(client: Redis, options: ScheduledBackfillOptions): Promise<ScheduledBackfill> {
    const groups = Array.from({ length: options.keys.shards }, (_, g) => g);
    const cursors = await Promise.all(groups.map((g) => client.get(options.keys.scheduledBackfill(g))));
    const backfill = new ScheduledBackfill(client, options, cursors);
    if (!backfill.walked.every(Boolean)) backfill.schedule(0);
    return backfill;
  }

  /** Group `group`'s scheduled set holds every scheduled auction (its walk has ended). */
  done(group: number): boolean {
    return this.walked[group]!;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.next(), delayMs);
    this.timer.unref();
  }

  private async next(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    try {
      await this.round();
      if (this.failing) this.options.log("redis: the scheduled auctions' backfill works again", { level: "info" });
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.log(`redis: warning: the scheduled auctions' backfill failed (${(error as Error).message}); retried in a moment`);
      this.failing = true;
      if (!this.stopped) this.schedule(RETRY_PAUSE_MS);
      return;
    }
    if (this.walked.every(Boolean)) this.options.log("redis: every scheduled auction stored before this release is in the scheduled sets", { level: "info" });
    else if (!this.stopped) this.schedule(STEP_PAUSE_MS);
  }

  /** One step of every group not done yet. */
  private async round(): Promise<void> {
    const groups = Array.from({ length: this.options.keys.shards }, (_, g) => g).filter((g) => !this.walked[g]);
    await Promise.all(groups.map((g) => this.step(g)));
  }

  /**
   * One group's step: the next live ids after the cursor; those whose starts_at is after now
   * and that are not closed go into the scheduled and starts sets (ZADD NX: create.lua's own
   * entries stay as they are).
   */
  private async step(group: number): Promise<void> {
    const keys = this.options.keys;
    this.walked[group] = await walkStep(this.client, keys.scheduledBackfill(group), keys.live(group), SCHEDULED_BACKFILL_STEP, async (ids) => {
      const fields = await Promise.all(ids.map((id) => this.client.hmget(keys.auction(Number(id)), "st", "cl")));
      const now = this.options.now();
      const byId: (string | number)[] = [];
      const byStart: (string | number)[] = [];
      ids.forEach((id, i) => {
        const [st, cl] = fields[i]!;
        if (st === null || cl === "1" || Number(st) <= now) return;
        byId.push(Number(id), id);
        byStart.push(Number(st), id);
      });
      // Each a command of its own key (on a cluster, both of the group's slot).
      if (byId.length > 0) await Promise.all([this.client.zadd(keys.scheduled(group), "NX", ...byId), this.client.zadd(keys.starts(group), "NX", ...byStart)]);
    });
  }
}
