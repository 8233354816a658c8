// The settings of a load run: one typed object with named defaults, validated once.

import type { AmountMode } from "./connection.ts";
import { MAX_SPAN } from "./outstanding.ts";
import type { SpawnStore } from "./spawn.ts";

export interface LoadOptions {
  /** Target server (ignored with `spawnServer`). */
  host?: string;
  port?: number;
  httpPort?: number;
  /** Connections over all processes. */
  connections?: number;
  /** Closed loop: bids in flight per connection. */
  window?: number;
  /** Auctions created for the run and bid on at random. */
  auctions?: number;
  /** First auction id tried; ids taken by earlier runs are skipped. */
  auctionBase?: number;
  /** Seconds measured after the warm-up (ignored when `bids` is set). */
  durationS?: number;
  /** Total bids instead of a duration (0: use the duration). */
  bids?: number;
  /** Open loop: bids per second offered over all connections (0: closed loop). */
  rate?: number;
  amounts?: AmountMode;
  /** The share of bids sent as MAX_BID (proxy bidding, the amount as the hidden maximum), 0..1. */
  maxShare?: number;
  /** Every bid on one auction (maximum contention); implies one auction. */
  hot?: boolean;
  /** Seconds at the start whose requests are left out of the figures (still checked). */
  warmupS?: number;
  /** Seconds to wait for the last replies once sending stops. */
  graceS?: number;
  /** Load processes (this one coordinates when > 1). */
  procs?: number;
  /** Open loop: bids are offered in bursts on a grid of this many milliseconds. */
  tickMs?: number;
  /** Other processes whose CPU is reported (labelled "pid N"). */
  pids?: number[];
  /** The server's pid, when it was started elsewhere. */
  serverPid?: number;
  /** Start a server with this store for the run (and a Redis for "redis" without `redisUrl`). */
  spawnServer?: SpawnStore;
  redisUrl?: string;
  /** Extra environment for the spawned server (e.g. GAVEL_BATCH). */
  serverEnv?: Record<string, string>;
  /** A live progress line on stderr once a second (default: when stderr is a TTY). */
  progress?: boolean;
}

export const LoadDefaults = {
  host: "127.0.0.1",
  port: 7400,
  httpPort: 7401,
  connections: 100,
  window: 16,
  auctions: 1000,
  auctionBase: 1_000_000,
  durationS: 10,
  bids: 0,
  rate: 0,
  amounts: "rising" as AmountMode,
  maxShare: 0,
  hot: false,
  warmupS: 1,
  graceS: 5,
  procs: 1,
  tickMs: 1,
} as const;

const MAX_CONNECTIONS = 100_000;
const MAX_AUCTIONS = 1_000_000;
const MAX_PROCS = 64;
const MAX_PORT = 65_535;
/** A closed-loop window must leave the request ring room for late replies. */
const MAX_WINDOW = MAX_SPAN / 4;
const MIN_TICK_MS = 0.1;

export type ResolvedLoadOptions = Required<Omit<LoadOptions, "serverPid" | "spawnServer" | "redisUrl">> &
  Pick<LoadOptions, "serverPid" | "spawnServer" | "redisUrl">;

/** A bad setting; the message names it. */
export class LoadOptionsError extends Error {
  override name = "LoadOptionsError";
}

function check(name: string, value: number, min: number, max: number, integer = true): void {
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new LoadOptionsError(`${name} must be ${integer ? "a whole number " : ""}between ${min} and ${max}, got ${value}`);
  }
}

export function resolveOptions(options: LoadOptions): ResolvedLoadOptions {
  const o: ResolvedLoadOptions = {
    ...LoadDefaults,
    pids: [],
    serverEnv: {},
    progress: Boolean(process.stderr.isTTY),
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  check("port", o.port, 1, MAX_PORT);
  check("http port", o.httpPort, 1, MAX_PORT);
  check("connections", o.connections, 1, MAX_CONNECTIONS);
  check("window", o.window, 1, MAX_WINDOW);
  check("auctions", o.auctions, 1, MAX_AUCTIONS);
  check("auction base", o.auctionBase, 1, 0xffff_ffff);
  check("duration", o.durationS, 0, Number.MAX_SAFE_INTEGER, false);
  check("bids", o.bids, 0, Number.MAX_SAFE_INTEGER);
  check("rate", o.rate, 0, Number.MAX_SAFE_INTEGER, false);
  check("warmup", o.warmupS, 0, Number.MAX_SAFE_INTEGER, false);
  check("grace", o.graceS, 0, Number.MAX_SAFE_INTEGER, false);
  check("procs", o.procs, 1, MAX_PROCS);
  check("tick", o.tickMs, MIN_TICK_MS, Number.MAX_SAFE_INTEGER, false);
  check("max share", o.maxShare, 0, 1, false);
  if (o.bids === 0 && o.durationS <= 0) throw new LoadOptionsError("give a duration above 0 or a number of bids");
  if (o.amounts !== "rising" && o.amounts !== "random") throw new LoadOptionsError(`amounts must be rising or random, got ${o.amounts}`);
  if (o.spawnServer !== undefined && !["memory", "sqlite", "redis", "trivial"].includes(o.spawnServer)) {
    throw new LoadOptionsError(`spawn-server must be memory, sqlite or redis, got ${o.spawnServer}`);
  }
  for (const pid of [...o.pids, ...(o.serverPid !== undefined ? [o.serverPid] : [])]) check("pid", pid, 1, Number.MAX_SAFE_INTEGER);
  if (o.hot) o.auctions = 1;
  if (o.procs > o.connections) o.procs = o.connections;
  return o;
}
