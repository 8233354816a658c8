// The shared store: auctions in Redis, bids applied by lua/bid.lua, one call per shard group of
// a drain batch. Any number of Gavel nodes may share one Redis (or one Cluster).
//
// Key layout (the hash fields are documented at the top of lua/bid.lua):
//   gavel:{g<n>}:a:<id>      auction hash; n = id % shards, the auction's shard group
//   gavel:{g<n>}:a:<id>:h    its bid history stream, entry id 0-<seq>
//   gavel:{g<n>}:ends        sorted set of the group's auctions by ends_at (for the closer)
//   gavel:{g<n>}:updates     pub/sub channel of the group's UPDATE frames
//   gavel:auction-ids        counter for generated auction ids
// All keys of a group share the hash tag {g<n>}, so a batch's call for one group runs on one
// Cluster slot.

import { Redis, type RedisOptions } from "ioredis";
import { join } from "node:path";
import { freshAuction, type AuctionState } from "../auction/auction.ts";
import { Status } from "../protocol/constants.ts";
import { StoreError } from "./errors.ts";
import type { CreateResult, NewAuction, Store, StoreBatch } from "./store.ts";

export const DEFAULT_SHARDS = 16;
/** A command without a reply after this long is failed: a hung Redis never hangs a bid. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/** The TCP connect (and each reconnect attempt) gives up after this long. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/** How often now() re-measures its offset to Redis TIME. */
export const DEFAULT_CLOCK_REFRESH_MS = 10_000;
/** Reconnect delays grow from the base, doubling per failed attempt, up to the cap. */
const RECONNECT_BASE_MS = 50;
const RECONNECT_MAX_MS = 1_000;
/** Generated ids are u32 like every auction id on the wire. */
const MAX_AUCTION_ID = 0xffffffff;
/** Tries before createAuction gives up finding a free generated id (each try takes a new one). */
const MAX_ID_ATTEMPTS = 1_000;
/**
 * bid.lua's reply per bid: status, amount high part, amount low 32 bits, leader, seq, ends_at.
 * The split dodges an ioredis 6.0.0 decoder rounding of integers near 2^53 (see bid.lua).
 */
const REPLY_STRIDE = 6;
const TWO_32 = 2 ** 32;
/** A script call's arguments: numkeys, then one key per bid, then user and amount per bid. */
const ARGS_PER_BID = 3;

const KEY_PREFIX = "gavel";
export const AUCTION_IDS_KEY = `${KEY_PREFIX}:auction-ids`;

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

export function historyKey(auction: number, shards: number): string {
  return `${auctionKey(auction, shards)}:h`;
}

export function endsKey(group: number): string {
  return `${groupPrefix(group)}:ends`;
}

/** The channel bid.lua publishes group `n`'s UPDATE frames on, back to back in one message. */
export function updatesChannel(group: number): string {
  return `${groupPrefix(group)}:updates`;
}

/** One accepted bid as the history stream holds it. */
export interface HistoryEntry {
  seq: number;
  amount: number;
  user: number;
  /** When it was accepted, by the Redis clock (ms). */
  at: number;
  /** The auction's ends_at after this bid. */
  endsAt: number;
}

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`. */
  url: string;
  /** Shard groups; fixed for the life of the data (it is in every key). Default 16. */
  shards?: number;
  /** Default {@link DEFAULT_COMMAND_TIMEOUT_MS}. */
  commandTimeoutMs?: number;
  /** Default {@link DEFAULT_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /** Default {@link DEFAULT_CLOCK_REFRESH_MS}. */
  clockRefreshMs?: number;
  /** Told when the connection is lost and when it is back. Default console.warn. */
  log?: (message: string) => void;
}

/** The client with the scripts of lua/ defined on it (ioredis adds the methods at run time). */
interface ScriptedRedis extends Redis {
  gavelBid(...args: (string | number)[]): Promise<number[]>;
  gavelCreate(...args: (string | number)[]): Promise<number>;
}

/** One shard group's part of a batch: the script's arguments and where each reply goes. */
interface GroupCall {
  args: (string | number)[];
  /** Batch index of the group's j-th bid. */
  indices: number[];
}

/**
 * Auctions in Redis, shared by every node that uses the same Redis. Bids are applied by one
 * Lua call per shard group present in a batch, all pipelined on one connection.
 *
 * Bids are as durable as the Redis configuration makes them: for "stored before the reply"
 * across a Redis crash, run it with `appendonly yes` and `appendfsync always`.
 *
 * @example
 * const store = await RedisStore.connect({ url: "redis://127.0.0.1:6379", shards: 16 });
 * const { created } = await store.createAuction(spec);
 * await store.applyBids(batch); // rejects with StoreError when Redis cannot be reached
 * await store.close();
 */
export class RedisStore implements Store {
  readonly kind = "redis";
  private clockOffset = 0;
  private clockTimer: ReturnType<typeof setInterval> | null = null;
  /** Per group, `gavel:{g<n>}:a:`, so a bid's key is one concatenation. */
  private readonly keyPrefixes: string[];
  /** Scratch for splitting a batch: group -> index into that call's list, -1 when absent. */
  private readonly groupSlot: Int32Array;
  private lastError: Error | null = null;
  /** Connected and ready; false from a lost connection until it is back. */
  private up = false;
  /** The factory's first connect succeeded: later "ready"s are reconnections. */
  private started = false;
  private closing = false;

  private constructor(
    private readonly client: ScriptedRedis,
    readonly shards: number,
    private readonly log: (message: string) => void,
  ) {
    this.keyPrefixes = Array.from({ length: shards }, (_, g) => `${groupPrefix(g)}:a:`);
    this.groupSlot = new Int32Array(shards).fill(-1);
    client.on("error", (err: Error) => {
      this.lastError = err;
    });
    client.on("close", () => this.connectionLost());
    client.on("ready", () => {
      this.up = true;
      if (!this.started) return;
      this.log("redis: connection restored");
      // After a failover the server, and so the clock, may be another one.
      void this.refreshClock();
    });
  }

  /** Connects, loads the scripts and measures the clock; rejects with StoreError if unreachable. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const shards = options.shards ?? DEFAULT_SHARDS;
    if (!Number.isInteger(shards) || shards < 1) throw new StoreError(`shards must be a positive integer, got ${shards}`);
    const [bidLua, createLua] = await Promise.all([readScript("bid.lua"), readScript("create.lua")]);

    const ioredisOptions: RedisOptions = {
      lazyConnect: true,
      enableAutoPipelining: true,
      // Fail fast instead of queueing while disconnected: a bid queued for an unknown time is
      // worse than an UNAVAILABLE the client can retry, and the queue would be unbounded.
      enableOfflineQueue: false,
      // A command sent but unanswered when the connection drops may or may not have been
      // applied; resending it could apply a bid twice. maxRetriesPerRequest 0 fails such
      // commands at the moment the connection closes (ioredis flushes its queues then), so a
      // dead Redis fails a batch at once; commandTimeout covers a Redis that hangs.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // Keep trying for ever, at most a second apart, so the store heals when Redis returns.
      retryStrategy: (times) => Math.min(RECONNECT_BASE_MS * 2 ** (times - 1), RECONNECT_MAX_MS),
    };
    const client = new Redis(options.url, ioredisOptions) as ScriptedRedis;
    // defineCommand: EVALSHA, and EVAL when the server answers NOSCRIPT (e.g. after a restart).
    client.defineCommand("gavelBid", { lua: bidLua });
    client.defineCommand("gavelCreate", { lua: createLua, numberOfKeys: 3 });

    const store = new RedisStore(client, shards, options.log ?? ((message) => console.warn(message)));
    try {
      await client.connect();
      await store.measureClock();
    } catch (err) {
      client.disconnect();
      throw new StoreError(`cannot reach Redis at ${redactUrl(options.url)}`, { cause: store.lastError ?? err });
    }
    store.started = true;
    store.clockTimer = setInterval(() => void store.refreshClock(), options.clockRefreshMs ?? DEFAULT_CLOCK_REFRESH_MS);
    store.clockTimer.unref();
    return store;
  }

  /**
   * Applies the batch with one script call per shard group in it, pipelined. Rejects with
   * StoreError when no call got through (the caller answers UNAVAILABLE); when only some did,
   * the others' bids get UNAVAILABLE here and the promise resolves.
   */
  async applyBids(batch: StoreBatch): Promise<void> {
    if (batch.count === 0) return;
    const calls = this.split(batch);
    const replies = await Promise.allSettled(calls.map((call) => this.client.gavelBid(...call.args)));

    let failure: unknown = null;
    let anySucceeded = false;
    for (const reply of replies) {
      if (reply.status === "fulfilled") anySucceeded = true;
      else failure = reply.reason;
    }
    if (!anySucceeded) throw new StoreError("Redis did not apply the batch", { cause: failure });

    for (let c = 0; c < calls.length; c++) {
      const { indices } = calls[c]!;
      const reply = replies[c]!;
      if (reply.status === "rejected") {
        for (const i of indices) {
          batch.status[i] = Status.UNAVAILABLE;
          batch.resultAmount[i] = 0;
          batch.resultLeader[i] = 0;
        }
        continue;
      }
      const values = reply.value;
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j]!;
        const r = j * REPLY_STRIDE;
        batch.status[i] = values[r]!;
        batch.resultAmount[i] = values[r + 1]! * TWO_32 + values[r + 2]!;
        batch.resultLeader[i] = values[r + 3]!;
        if (values[r] !== Status.UNKNOWN) {
          batch.seq[i] = values[r + 4]!;
          batch.endsAt[i] = values[r + 5]!;
        }
      }
    }
  }

  async createAuction(spec: NewAuction): Promise<CreateResult> {
    if (spec.id !== 0) {
      return (await this.tryCreate(spec.id, spec))
        ? { created: true, auction: freshAuction(spec) }
        : { created: false, reason: "exists" };
    }
    // Ids come from a counter shared by every node; one taken by an explicit id is skipped.
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const id = await this.client.incr(AUCTION_IDS_KEY);
      if (id > MAX_AUCTION_ID) throw new StoreError(`auction ids exhausted (${AUCTION_IDS_KEY} = ${id})`);
      if (await this.tryCreate(id, spec)) return { created: true, auction: freshAuction({ ...spec, id }) };
    }
    throw new StoreError(`no free auction id after ${MAX_ID_ATTEMPTS} tries`);
  }

  async getAuction(id: number): Promise<AuctionState | null> {
    const h = await this.client.hgetall(auctionKey(id, this.shards));
    if (h.sp === undefined) return null;
    return {
      id,
      title: h.ti ?? "",
      startingPrice: Number(h.sp),
      minIncrement: Number(h.mi),
      reserve: Number(h.rs),
      buyNowPrice: Number(h.bn),
      startsAt: Number(h.st),
      endsAt: Number(h.en),
      antiSnipeMs: Number(h.as),
      maxEndsAt: Number(h.mx),
      seq: Number(h.sq),
      amount: Number(h.am),
      leader: Number(h.ld),
      closed: h.cl === "1",
      winner: Number(h.wn),
    };
  }

  /** The accepted bids of an auction with seq > `since`, oldest first (at most `limit`). */
  async history(auction: number, since: number, limit?: number): Promise<HistoryEntry[]> {
    const key = historyKey(auction, this.shards);
    const start = `(0-${since}`;
    const entries =
      limit === undefined
        ? await this.client.xrange(key, start, "+")
        : await this.client.xrange(key, start, "+", "COUNT", limit);
    return entries.map(([entryId, fields]) => {
      const f: Record<string, string> = {};
      for (let k = 0; k + 1 < fields.length; k += 2) f[fields[k]!] = fields[k + 1]!;
      return {
        seq: Number(entryId.slice(entryId.indexOf("-") + 1)),
        amount: Number(f.a),
        user: Number(f.u),
        at: Number(f.t),
        endsAt: Number(f.e),
      };
    });
  }

  /** Redis's clock (ms), from an offset re-measured every few seconds: no round trip. */
  now(): number {
    return Date.now() + this.clockOffset;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.clockTimer !== null) clearInterval(this.clockTimer);
    this.clockTimer = null;
    try {
      await this.client.quit();
    } catch {
      // Not connected: nothing to say goodbye to.
      this.client.disconnect();
    }
  }

  /** Splits the batch into one script call per shard group, each keeping batch order. */
  private split(batch: StoreBatch): GroupCall[] {
    const calls: GroupCall[] = [];
    const slot = this.groupSlot;
    for (let i = 0; i < batch.count; i++) {
      const group = shardGroup(batch.auction[i]!, this.shards);
      let s = slot[group]!;
      if (s === -1) {
        s = calls.length;
        slot[group] = s;
        calls.push({ args: [], indices: [] });
      }
      calls[s]!.indices.push(i);
    }
    for (const call of calls) {
      const n = call.indices.length;
      const args: (string | number)[] = new Array(1 + n * ARGS_PER_BID);
      args[0] = n;
      for (let j = 0; j < n; j++) {
        const i = call.indices[j]!;
        const auction = batch.auction[i]!;
        const group = shardGroup(auction, this.shards);
        slot[group] = -1; // leave the scratch clean for the next batch
        args[1 + j] = this.keyPrefixes[group]! + auction;
        // Numbers go over the wire as String(n): exact decimal for every safe integer.
        args[1 + n + 2 * j] = batch.user[i]!;
        args[2 + n + 2 * j] = batch.amount[i]!;
      }
      call.args = args;
    }
    return calls;
  }

  private connectionLost(): void {
    if (this.up && !this.closing) this.log("redis: connection lost, reconnecting");
    this.up = false;
  }

  private async tryCreate(id: number, spec: NewAuction): Promise<boolean> {
    const created = await this.client.gavelCreate(
      auctionKey(id, this.shards),
      historyKey(id, this.shards),
      endsKey(shardGroup(id, this.shards)),
      id,
      spec.title,
      spec.startingPrice,
      spec.minIncrement,
      spec.reserve,
      spec.buyNowPrice,
      spec.startsAt,
      spec.endsAt,
      spec.antiSnipeMs,
      spec.maxEndsAt,
    );
    return created === 1;
  }

  /** Measures the offset to Redis TIME, taking the middle of the round trip as its moment. */
  private async measureClock(): Promise<void> {
    const before = Date.now();
    const [seconds, micros] = await this.client.time();
    const after = Date.now();
    const redisMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    this.clockOffset = Math.round(redisMs - (before + after) / 2);
  }

  /** measureClock, keeping the last offset while Redis is away. */
  private async refreshClock(): Promise<void> {
    try {
      await this.measureClock();
    } catch {
      // The connection's own handlers report the outage.
    }
  }
}

function readScript(name: string): Promise<string> {
  return Bun.file(join(import.meta.dir, "..", "..", "lua", name)).text();
}

/** The URL without its password, for error messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
