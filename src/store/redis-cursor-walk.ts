// A walk over a shard group's sorted set of ids (score = id), a step at a time, whose cursor is
// kept in Redis: it survives a restart, and every node continues the same walk. The backfills
// of sets added by a release (the retire set, the scheduled sets) walk the ids stored before.

import type { Redis } from "ioredis";

/** The cursor's value once the walk has ended (a loader writing this layout sets it too). */
export const WALK_DONE = "done";

/** The cursor `cursor` (a GET of its key) says the walk has ended. */
export function walkEnded(cursor: string | null): boolean {
  return cursor === WALK_DONE;
}

/**
 * One step of the walk over `set` whose cursor is `cursorKey`: `visit` gets the next ids after
 * the cursor (at most `step`, ascending), then the cursor moves past them, or to "done" after
 * the last. Resolves true once the walk has ended (in this step or before). Two nodes stepping
 * at once only repeat each other's ids.
 */
export async function walkStep(client: Redis, cursorKey: string, set: string, step: number, visit: (ids: string[]) => Promise<void>): Promise<boolean> {
  const cursor = await client.get(cursorKey);
  if (walkEnded(cursor)) return true;
  const after = cursor === null ? 0 : Number(cursor);
  const ids = await client.zrangebyscore(set, `(${after}`, "+inf", "LIMIT", 0, step);
  if (ids.length > 0) await visit(ids);
  const ended = ids.length < step;
  await client.set(cursorKey, ended ? WALK_DONE : ids[ids.length - 1]!);
  return ended;
}
