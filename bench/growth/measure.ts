// The growth benchmark's measurements on a running server, whatever its store: restart to
// ready, RSS, idle CPU, a mass close (auctions ending in one second: how late their CLOSED
// comes, and PING round trips meanwhile), and a page of 100 per phase.

import { readFileSync } from "node:fs";
import { encodeSubscribe } from "../../src/protocol/codec.ts";
import { FrameType, HEADER_SIZE, NO_REPLAY, PayloadLength } from "../../src/protocol/constants.ts";
import { treeCpuSeconds } from "../load/cpu.ts";
import { spawnServer, type SpawnedServer } from "../load/spawn.ts";
import { connectFrames } from "./frame-socket.ts";
import { Pinger } from "./pinger-process.ts";
import type { GrowthStore } from "./growth-store.ts";

/** The targets this benchmark checks against (docs/performance.md, "Growth"). */
export const Target = { RESTART_MS: 2_000, RSS_MB: 300, IDLE_CPU_PERCENT: 1, CLOSED_LATE_MS: 1_000, PING_MS: 50, PAGE_P99_MS: 5 } as const;
/** The ending auctions end this long after the second start is ready, spread over one second. */
export const CLOSE_AFTER_READY_MS = 5_000;
export const SPREAD_MS = 1_000;
/** How long the mass close may run past the last planned end before the figures are taken. */
const CLOSE_GRACE_MS = 30_000;
/** CLOSED frames still in flight when the last expected one arrived are waited for this long. */
const SETTLE_MS = 200;
const POLL_MS = 50;
export const PAGE = 100;
const PAGE_SAMPLES = 200;
const PAGE_WARMUP = 20;
export const MB = 1024 * 1024;
const KB_PER_MB = 1024;
const PERCENT = 100;

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/** The resident set of a process, MB. */
export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? NaN) / KB_PER_MB;
}

/** Starts `bun run src/main.ts` on the store's data; how long until it listened. */
export async function startServer(store: GrowthStore, subscriptions: number): Promise<{ server: SpawnedServer; readyMs: number }> {
  const t0 = performance.now();
  const server = await spawnServer(store.kind, undefined, { ...store.serverEnv(), GAVEL_MAX_SUBSCRIPTIONS: String(Math.max(subscriptions, 1)) });
  return { server, readyMs: performance.now() - t0 };
}

/** CPU % of each process (with its descendants) over the next `seconds`. */
export async function cpuPercent(pids: readonly number[], seconds: number): Promise<number[]> {
  const { spent } = await cpuSecondsDuring(pids, () => Bun.sleep(seconds * 1000));
  return spent.map((cpuSeconds) => (cpuSeconds / seconds) * PERCENT);
}

/** What `work` returns, and the CPU seconds each process (with its descendants) spent meanwhile. */
export async function cpuSecondsDuring<T>(pids: readonly number[], work: () => Promise<T>): Promise<{ result: T; spent: number[] }> {
  const before = pids.map((pid) => treeCpuSeconds(pid)!);
  const result = await work();
  return { result, spent: pids.map((pid, i) => treeCpuSeconds(pid)! - before[i]!) };
}

/**
 * Subscribes to the `ending` auctions (auction i ends at endsAt + i % SPREAD_MS), pings on
 * another connection from another process (pinger.ts), and waits for their CLOSED frames.
 */
export async function massClose(server: SpawnedServer, ending: readonly number[], endsAt: number) {
  const closedAt = new Map<number, number>();
  let states = 0;
  const subscriber = await connectFrames(server.port, (frame) => {
    if (frame.type === FrameType.STATE) states++;
    if (frame.type === FrameType.CLOSED) closedAt.set(frame.auction, Date.now());
  });
  const frameSize = HEADER_SIZE + PayloadLength.SUBSCRIBE;
  const bytes = new Uint8Array(ending.length * frameSize);
  ending.forEach((id, i) => encodeSubscribe(bytes, i * frameSize, i + 1, id, NO_REPLAY));
  subscriber.write(bytes);
  while (states < ending.length) await Bun.sleep(POLL_MS);

  const pinger = await Pinger.start(server.port);
  const deadline = endsAt + SPREAD_MS + CLOSE_GRACE_MS;
  while (closedAt.size < ending.length && Date.now() < deadline) await Bun.sleep(POLL_MS);
  await Bun.sleep(SETTLE_MS);
  const roundTrips = await pinger.stop();
  subscriber.end();
  const lateness = ending.map((id, i) => (closedAt.get(id) ?? Infinity) - (endsAt + (i % SPREAD_MS)));
  return { received: closedAt.size, maxLateMs: Math.max(...lateness), maxPingMs: Math.max(...roundTrips), p99PingMs: percentile(roundTrips, 0.99) };
}

/**
 * p50 and p99 of PAGE_SAMPLES pages of PAGE auctions in `phase`, each after a random id, once
 * PAGE_WARMUP pages were read untimed (the first pages of a fresh process include compiling
 * the listing code: a one-off, not what a page costs).
 */
export function pageTimes(server: SpawnedServer, phase: string, auctions: number): Promise<Timed> {
  return requestTimes(server, () => `/v1/auctions?phase=${phase}&after=${Math.floor(Math.random() * auctions)}&limit=${PAGE}`);
}

/**
 * The same for one auction (`GET /v1/auctions/<id>`, a random id): on Redis one HMGET, one
 * round trip; what a request to the store costs on this machine, beside which a page's two or
 * three round trips are read.
 */
export function oneAuctionTimes(server: SpawnedServer, auctions: number): Promise<Timed> {
  return requestTimes(server, () => `/v1/auctions/${1 + Math.floor(Math.random() * auctions)}`);
}

export interface Timed {
  p50: number;
  p99: number;
  /** Requests sent, the untimed ones included. */
  requests: number;
}

/** p50 and p99 of PAGE_SAMPLES GETs of `path()` (a new path each), after PAGE_WARMUP untimed. */
async function requestTimes(server: SpawnedServer, path: () => string): Promise<Timed> {
  const get = () => fetch(`http://127.0.0.1:${server.httpPort}${path()}`);
  for (let i = 0; i < PAGE_WARMUP; i++) await (await get()).arrayBuffer();
  const samples: number[] = [];
  for (let i = 0; i < PAGE_SAMPLES; i++) {
    const t0 = performance.now();
    const response = await get();
    await response.arrayBuffer();
    samples.push(performance.now() - t0);
  }
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), requests: PAGE_WARMUP + PAGE_SAMPLES };
}

/** One figure beside its target. */
export function row(name: string, measured: string, target: string, ok: boolean) {
  console.log(`${name.padEnd(34)} ${measured.padStart(14)}   target ${target.padEnd(10)} ${ok ? "ok" : "MISSED"}`);
}
