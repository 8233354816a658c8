// What the growth benchmark needs of a store: write the plan where a server will find it, say
// how the server reaches it, and move some auctions' ends_at while no server runs.

import type { SpawnStore } from "../load/spawn.ts";
import type { GrowthPlan } from "./plan.ts";

export interface Loaded {
  /** The ids of the open (not scheduled) auctions, ascending. */
  open: number[];
}

/** A process beside the server whose own idle CPU is reported too (a redis-server). */
export interface Sidecar {
  label: string;
  pid: number;
}

export interface GrowthStore {
  readonly kind: Extract<SpawnStore, "sqlite" | "redis">;
  /** Where the data lives, for the summary line (a file, a Redis URL). */
  readonly where: string;
  readonly sidecars: readonly Sidecar[];
  load(plan: GrowthPlan): Promise<Loaded>;
  /** The environment a server needs to use the loaded data (besides GAVEL_STORE). */
  serverEnv(): Record<string, string>;
  /** Sets the ends_at of `ids[i]` to `endsAt(i)`, as the closer will find it; no server runs. */
  moveEnds(ids: readonly number[], endsAt: (i: number) => number): Promise<void>;
  /** Removes what the benchmark made (unless kept). */
  close(): Promise<void>;
}
