// The shared store: auctions in Redis, bids applied by lua/bid.lua, one call per shard group of
// a drain batch. Any number of Gavel nodes may share one Redis (or one Cluster).
//
// The key layout is in redis-keys.ts, the packed Lua ABI in redis-packing.ts, the Pub/Sub
// feed in redis-feed.ts; importers of the store's names keep importing them from here.

export * from "./redis-keys.ts";
export { groupFailureStatus } from "./redis-packing.ts";
export { FEED_CONNECTION_NAME, FeedMode, RedisFeed, type FeedEpochHooks } from "./redis-feed.ts";
export { RedisTopology, type SentinelTarget } from "./redis-connection.ts";

import { Cluster, type Redis, type RedisOptions } from "ioredis";
import { join } from "node:path";
import type { AuctionState } from "../auction/auction.ts";
import { Phase, Status } from "../protocol/constants.ts";
import { readU32, readU64, writeU32, writeU64 } from "../protocol/bytes.ts";
import { redact } from "../log/redact.ts";
import { IdsExhaustedError, StoreError, StoreRefusedError, StoreUnavailableError, StoreUnconfirmedError } from "./errors.ts";
import type { LogSink } from "../log/log-sink.ts";
import { EpochMemory, isEpochMismatch, newEpoch, parseEpochNotice } from "./redis-epoch.ts";
import { evictionRefusal, evictionWarning, readEvictionPolicy, type EvictionPolicy } from "./redis-policy.ts";
import { AUCTION_IDS_KEY, AUCTION_INDEX_KEY, HISTORY_SUFFIX, KeyLayout, RedisKeys, shardGroup } from "./redis-keys.ts";
import { detectTopology, openCluster, openSingle, RedisTopology, type SentinelTarget } from "./redis-connection.ts";
import { waitFailure } from "./redis-replicas.ts";
import { CancelReply, CLOSE_STRIDE, groupFailureStatus, isRedirection, PACKED_BID_SIZE, PACKED_RESULT_SIZE, RESULT_STEPPED_OFFSET, settleExec, toHistoryEntry, TWO_32 } from "./redis-packing.ts";
import { DEFAULT_FEED_LINGER_MS, FeedMode, RedisFeed, type FeedGroups } from "./redis-feed.ts";
import { ClusterFeed } from "./redis-cluster-feed.ts";
import { RedisOutbox } from "./outbox-redis.ts";
import { RedisRetention } from "./redis-retention.ts";
import { ScheduledBackfill } from "./redis-scheduled-backfill.ts";
import { GroupDueHints } from "./group-due-hints.ts";
import { RedisListing, type ListingClient } from "./redis-listing.ts";
import type {
  CancelResult,
  ClosedAuction,
  CreateResult,
  HistoryEntry,
  NewAuction,
  Store,
  StoreBatch,
} from "./store.ts";

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
/** How long a node's lease on a group's webhook outbox lasts unrenewed: a dead node's groups wait this long. */
export const DEFAULT_WEBHOOK_LEASE_MS = 5_000;
/** A create refused for a changed epoch is tried again this often, after the epochs are read. */
const MAX_EPOCH_RETRIES = 1;
/** What subscribers of an auction whose data Redis lost get with ERROR RESET (then the close). */
export const RESET_MESSAGE = "the store lost acknowledged data: subscribe again with since = 0xFFFFFFFF";
/** Seqs are u32 (UPDATE's field); a bound at or above this means "from the newest". */
const MAX_SEQ = 0xffffffff;
export interface RedisStoreOptions {
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://...`; for a Redis Cluster, any node,
   * or several comma-separated as seeds (cluster mode is detected). With `sentinel`, only its
   * credentials and scheme are used (may be "").
   */
  url: string;
  /** Find the primary through these Sentinels instead of `url`'s host. */
  sentinel?: SentinelTarget | null;
  /**
   * Replicas that must hold a batch's writes (Redis `WAIT`) before its replies go out; 0 (the
   * default) does not wait. A WAIT that reaches fewer makes the batch's bids UNCONFIRMED.
   */
  waitReplicas?: number;
  /** WAIT's timeout, ms. Default {@link DEFAULT_WAIT_TIMEOUT_MS}. */
  waitTimeoutMs?: number;
  /** Shard groups; fixed for the life of the data (it is in every key). Default 16. */
  shards?: number;
  /** Default {@link DEFAULT_COMMAND_TIMEOUT_MS}. */
  commandTimeoutMs?: number;
  /** Default {@link DEFAULT_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /** Default {@link DEFAULT_CLOCK_REFRESH_MS}. */
  clockRefreshMs?: number;
  /** Told when the connection is lost and when it is back. Default console.warn. */
  log?: LogSink;
  /** GAVEL_RETENTION in ms: closed auctions older than this are deleted (redis-retention.ts); 0 keeps all. */
  retentionMs?: number;
  /** Write webhook events to each group's outbox stream (GAVEL_WEBHOOK_URL is set). */
  webhooks?: boolean;
  /** How long a node's lease on a group's outbox lasts unrenewed (GAVEL_WEBHOOK_LEASE_MS). */
  webhookLeaseMs?: number;
  /** GAVEL_REDIS_FEED: every group's channel (the default) or only the followed groups'. */
  feedMode?: FeedMode;
  /** GAVEL_REDIS_FEED_LINGER_MS. Default {@link DEFAULT_FEED_LINGER_MS}. */
  feedLingerMs?: number;
}

/** How long a batch's WAIT waits for its replicas by default: well inside the batch deadline. */
export const DEFAULT_WAIT_TIMEOUT_MS = 500;
/**
 * A group's call refused with a redirection (it did not run) is sent again every
 * GROUP_RESEND_DELAY_MS for at most this share of the batch deadline: a slot move or a
 * failover usually ends well within it, and the rest of the deadline is left for the call.
 */
const GROUP_RESEND_SHARE = 0.5;
const GROUP_RESEND_DELAY_MS = 25;
/** How far past its estimate of Redis TIME the closer reads due ids (see closeGroup). */
const DUE_READ_SLACK_MS = 50;
/** The longest the closer leaves a group unread (group-due-hints.ts). */
export const GROUP_RECHECK_MS = 1_000;

/**
 * The client (one server, or ioredis's Cluster) with the scripts of lua/ defined on it (ioredis
 * adds the methods at run time). Both classes share ioredis's command methods.
 */
type ScriptedRedis = Redis & ScriptCommands;
interface ScriptCommands extends ListingClient {
  gavelBid(...args: (string | number)[]): Promise<number[]>;
  gavelCreate(...args: (string | number)[]): Promise<number>;
  gavelEpoch(key: string, fresh: string, channel: string, group: number): Promise<string>;
  gavelNextId(counter: string, floor: number, max: number): Promise<number>;
  gavelRaiseIds(counter: string, floor: number): Promise<number>;
  gavelClose(...args: (string | number)[]): Promise<number[]>;
  gavelCancel(...args: (string | number)[]): Promise<[reply: number, seq: number]>;
  gavelOutboxLease(lease: string, consumer: string, ttlMs: number): Promise<number>;
}

/** One shard group's part of a batch: the script's arguments and where each reply goes. */
/** ioredis adds defined commands to pipelines too; its types only know the client's. */
interface ScriptedPipeline {
  gavelBidBuffer(...args: (string | number | Buffer)[]): unknown;
  wait(replicas: number, timeoutMs: number): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
}

interface GroupCall {
  group: number;
  args: (string | number | Buffer)[];
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
 * store.feed.onFrames((frames) => hub.deliver(frames)); // UPDATE/CLOSED from every node
 * const closed = await store.closeDue(100); // on every node; each auction closes once
 * await store.close();
 */
export class RedisStore implements Store {
  readonly kind = "redis";
  /** UPDATE and CLOSED frames published by every node; connects on the first onFrames. */
  readonly feed: RedisFeed;
  /** The deployment's keys and channels (its groups and their hash tags). */
  readonly keys: RedisKeys;
  readonly shards: number;
  private clockOffset = 0;
  /** The latest Redis TIME this node has seen (a created auction's starts_at): now() stays at or past it. */
  private latestSeenRedisMs = 0;
  private clockTimer: ReturnType<typeof setInterval> | null = null;
  /** GAVEL_RETENTION's passes; null when everything is kept. */
  private retention: RedisRetention | null = null;
  /** Fills the scheduled sets for auctions stored before they existed; null until connect() starts it. */
  private scheduledBackfill: ScheduledBackfill | null = null;
  /** Per group, `gavel:{<tag>}:a:`, so a bid's key is one concatenation. */
  private readonly keyPrefixes: string[];
  /** Scratch for splitting a batch: group -> index into that call's list, -1 when absent. */
  private readonly groupSlot: Int32Array;
  /** Connected and ready; false from a lost connection until it is back. */
  private up = false;
  /** The factory's first connect succeeded: later "ready"s are reconnections. */
  private started = false;
  private closing = false;
  /** Thrown for every batch while the connection is down: an outage under load allocates no errors. */
  private readonly notConnectedError = new StoreUnavailableError("the Redis connection is not ready: the batch was not sent");
  /** applyBids fails a batch not answered this long after it was handed over (see applyBids). */
  private batchDeadlineMs = DEFAULT_COMMAND_TIMEOUT_MS;
  /** Which groups the closer reads on a tick (group-due-hints.ts). */
  private readonly dueHints: GroupDueHints;
  /** Reads of auctions: one, or a listing page. */
  private readonly listing: RedisListing;
  /** Per group, its ends and epoch keys: bid.lua's first two KEYS. */
  private readonly endsKeys: string[];
  private readonly epochKeys: string[];
  /** The epoch last seen per group, passed to bid.lua and create.lua. */
  private readonly epochs: EpochMemory;
  /** The epoch read in progress; everything that looks joins it. */
  private verifying: Promise<void> | null = null;
  /** Groups found lost and not yet logged (a notice resets one group before the read logs all). */
  private readonly unlogged = new Set<number>();
  /** A loss was found and the id counter not yet raised past what this node knows. */
  private floorOwed = false;
  /** The highest auction id this node created or read: the counter never goes below it again. */
  private highestKnownId = 0;
  /** Set while maxmemory-policy can evict Gavel's keys: bids and writes are refused with it. */
  private refusal: StoreRefusedError | null = null;
  /** The policy as last read, so a change is logged once. */
  private lastPolicy: EvictionPolicy | null = null;
  /**
   * Set from a lost connection until the policy is read again: a Redis that comes back may be
   * another one, or restarted with another policy, and nothing is acknowledged before we know.
   */
  private unchecked: StoreError | null = null;
  private readonly uncheckedError = new StoreRefusedError("Redis reconnected and its maxmemory-policy is not checked yet");
  /** Replicas each batch's writes must reach before its replies go out (0: no WAIT). */
  private waitReplicas = 0;
  /** Per group, the calls sent (cluster): a redirected call is resent only if it is the last. */
  private readonly groupSends: Uint32Array;
  /** Per group, a redirected call being resent: the group's next calls wait for it. */
  private readonly groupHolds: (Promise<void> | null)[];
  private waitTimeoutMs = DEFAULT_WAIT_TIMEOUT_MS;

  /** Webhooks on: each group's outbox stream, read through a consumer group under a lease. */
  readonly outbox?: RedisOutbox;
  /** The scripts' webhook flag: "1" writes the outbox, "0" not. */
  private readonly webhookFlag: string;
  private readonly outboxKeys: string[];

  /** `webhookLeaseMs` 0: webhooks off. */
  private constructor(
    private readonly client: ScriptedRedis,
    keys: RedisKeys,
    readonly topology: RedisTopology,
    private readonly log: LogSink,
    webhookLeaseMs: number,
    feedMode: FeedMode = FeedMode.ALL,
    feedLingerMs = DEFAULT_FEED_LINGER_MS,
  ) {
    this.keys = keys;
    this.shards = keys.shards;
    const shards = keys.shards;
    this.outboxKeys = Array.from({ length: shards }, (_, g) => keys.outbox(g));
    this.webhookFlag = webhookLeaseMs > 0 ? "1" : "0";
    if (webhookLeaseMs > 0) this.outbox = new RedisOutbox(client, keys, webhookLeaseMs);
    this.keyPrefixes = Array.from({ length: shards }, (_, g) => `${keys.prefix(g)}:a:`);
    this.endsKeys = Array.from({ length: shards }, (_, g) => keys.ends(g));
    this.dueHints = new GroupDueHints(shards, GROUP_RECHECK_MS);
    this.listing = new RedisListing({
      client,
      keys,
      callPerGroup: topology === RedisTopology.CLUSTER,
      now: () => this.now(),
      sawAuction: (id) => this.noteId(id),
      scheduledSetFilled: (group) => this.scheduledBackfill?.done(group) ?? false,
    });
    this.epochKeys = Array.from({ length: shards }, (_, g) => keys.epoch(g));
    this.epochs = new EpochMemory(shards);
    this.groupSlot = new Int32Array(shards).fill(-1);
    this.groupSends = new Uint32Array(shards);
    this.groupHolds = Array.from({ length: shards }, () => null);
    const channels = Array.from({ length: shards }, (_, g) => keys.channel(g));
    const hooks = { verify: () => this.verifyEpochs(), notice: (message: Uint8Array) => this.epochNotice(message) };
    const groups: FeedGroups = { mode: feedMode, groupOf: (auction) => shardGroup(auction, shards), lingerMs: feedLingerMs };
    this.feed =
      topology === RedisTopology.CLUSTER
        ? new ClusterFeed(client as unknown as Cluster, channels, log, hooks, groups)
        : new RedisFeed(client, channels, log, hooks, groups);
    this.up = client.status === "ready";
    // ioredis emits "error" on each failed attempt; what it means is handled where it shows:
    // a lost connection on "close", a failed command by its caller. An emitter with no
    // listener would throw it.
    client.on("error", () => {});
    client.on("close", () => this.connectionLost());
    client.on("ready", () => {
      this.up = true;
      if (!this.started) return;
      this.log("redis: connection restored", { level: "info", event: "store_up", store: "redis" });
      // After a failover the server, and so the clock, may be another one; a restarted Redis
      // may have lost its data or come back with another eviction policy.
      void this.recheck();
    });
    if (topology === RedisTopology.CLUSTER) {
      // A node joined or left (a failover, a new master): its policy and epochs are read again.
      client.on("+node", () => {
        if (this.started) void this.recheck();
      });
    }
  }

  /** Connects, loads the scripts and measures the clock; rejects with StoreError if unreachable. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const shards = options.shards ?? DEFAULT_SHARDS;
    if (!Number.isInteger(shards) || shards < 1) throw new StoreError(`shards must be a positive integer, got ${shards}`);
    const [bidLua, createLua, closeLua, cancelLua, epochLua, nextIdLua, raiseIdsLua, leaseLua, retireLua, readAuctionsLua, readIdsLua, readScheduledIdsLua] = await Promise.all([
      readScript("bid.lua"),
      readScript("create.lua"),
      readScript("close.lua"),
      readScript("cancel.lua"),
      readScript("epoch.lua"),
      readScript("next-id.lua"),
      readScript("raise-ids.lua"),
      readScript("outbox-lease.lua"),
      readScript("retire.lua"),
      readScript("read-auctions.lua"),
      readScript("read-ids.lua"),
      readScript("read-scheduled-ids.lua"),
    ]);

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
    const sentinel = options.sentinel ?? null;
    const topology =
      sentinel !== null ? RedisTopology.SENTINEL : await detectTopology(options.url, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const cluster = topology === RedisTopology.CLUSTER;
    const client = (cluster ? openCluster(options.url, ioredisOptions) : openSingle(options.url, ioredisOptions, sentinel)) as unknown as ScriptedRedis;
    // On a cluster the scripts publish on shard channels (SPUBLISH): each group's messages stay
    // on its master instead of being broadcast over the cluster bus to every node. One Redis
    // keeps PUBLISH: it costs the same there and also runs on Redis 6 and proxies without
    // sharded Pub/Sub.
    const publish = (lua: string) => (cluster ? toShardedPublish(lua) : lua);
    // defineCommand: EVALSHA, and EVAL when the server answers NOSCRIPT (e.g. after a restart).
    client.defineCommand("gavelBid", { lua: publish(bidLua) });
    client.defineCommand("gavelCreate", { lua: createLua, numberOfKeys: 8 });
    client.defineCommand("gavelClose", { lua: publish(closeLua) });
    client.defineCommand("gavelCancel", { lua: publish(cancelLua), numberOfKeys: 8 });
    client.defineCommand("gavelOutboxLease", { lua: leaseLua, numberOfKeys: 1 });
    client.defineCommand("gavelEpoch", { lua: publish(epochLua), numberOfKeys: 1 });
    client.defineCommand("gavelNextId", { lua: nextIdLua, numberOfKeys: 1 });
    client.defineCommand("gavelRaiseIds", { lua: raiseIdsLua, numberOfKeys: 1 });
    client.defineCommand("gavelReadAuctions", { lua: readAuctionsLua });
    client.defineCommand("gavelReadIds", { lua: readIdsLua });
    client.defineCommand("gavelReadScheduledIds", { lua: readScheduledIdsLua });

    const log = options.log ?? ((message: string) => console.warn(message));
    let connectError: Error | null = null;
    const noteError = (err: Error) => {
      connectError = err;
    };
    client.on("error", noteError);
    let store: RedisStore;
    let policy: EvictionPolicy;
    try {
      await client.connect();
      const keys = new RedisKeys(shards, await readKeyLayout(client, shards));
      store = new RedisStore(
        client,
        keys,
        topology,
        log,
        options.webhooks === true ? (options.webhookLeaseMs ?? DEFAULT_WEBHOOK_LEASE_MS) : 0,
        options.feedMode,
        options.feedLingerMs,
      );
      await store.measureClock();
      policy = await store.readPolicy();
      if (evictionRefusal(policy) === null) {
        await store.verifyEpochs();
        const [highest] = await client.zrevrange(AUCTION_INDEX_KEY, 0, 0);
        if (highest !== undefined) store.noteId(Number(highest));
      }
    } catch (err) {
      client.disconnect();
      throw new StoreError(`cannot reach Redis at ${redact(options.url)}`, { cause: connectError ?? err });
    } finally {
      client.off("error", noteError);
    }
    const refusal = evictionRefusal(policy);
    if (refusal !== null) {
      client.disconnect();
      throw new StoreError(`cannot use Redis at ${redact(options.url)}: ${refusal}`);
    }
    const warning = evictionWarning(policy);
    if (warning !== null) log(`gavel: warning: ${warning}`);
    store.lastPolicy = policy;
    store.started = true;
    store.batchDeadlineMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    store.waitReplicas = options.waitReplicas ?? 0;
    store.waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    if (store.waitReplicas > 0) {
      const replicas = await store.fewestReplicas().catch(() => null);
      if (replicas !== null && replicas < store.waitReplicas) {
        log(
          `gavel: warning: GAVEL_REDIS_WAIT_REPLICAS is ${store.waitReplicas} but a Redis master has ${replicas} connected replica${replicas === 1 ? "" : "s"}: ` +
            "its bids are answered UNCONFIRMED (after the WAIT timeout) until enough replicas are connected",
        );
      }
    }
    store.clockTimer = setInterval(() => void store.recheck(), options.clockRefreshMs ?? DEFAULT_CLOCK_REFRESH_MS);
    store.clockTimer.unref();
    const retentionMs = options.retentionMs ?? 0;
    store.retention = RedisRetention.start(client, { keys: store.keys, retentionMs, now: () => store.now(), log, script: retireLua });
    store.scheduledBackfill = await ScheduledBackfill.start(client, { keys: store.keys, now: () => store.now(), log });
    return store;
  }

  /**
   * Applies the batch with one script call per shard group in it, pipelined. Each group's bids
   * get bid.lua's results, or, when its call failed, UNAVAILABLE (certainly not sent: see
   * {@link groupFailureStatus}) or UNCONFIRMED (sent, maybe applied). When no group got an
   * answer it rejects instead, so the circuit breaker counts the failure: with
   * StoreUnavailableError when nothing was sent (the drain answers UNAVAILABLE), else with
   * StoreUnconfirmedError (UNCONFIRMED), which includes the batch deadline passing.
   */
  async applyBids(batch: StoreBatch): Promise<void> {
    if (batch.count === 0) return;
    const refusal = this.refusal ?? this.unchecked;
    if (refusal !== null) throw refusal;
    // Certain "not sent": ioredis writes only on a ready connection, and we do not even build
    // the pipeline on another. (While reconnecting, ioredis would refuse each call itself; this
    // just says so without asking it.)
    if (this.client.status !== "ready") throw this.notConnectedError;
    const calls = this.split(batch);
    let replies: PromiseSettledResult<Buffer>[];
    try {
      replies = await this.withinDeadline(this.topology === RedisTopology.CLUSTER ? this.sendToCluster(calls) : this.sendPipeline(calls));
    } catch (error) {
      // The deadline passed, or the pipeline failed as a whole: it was written (the connection
      // was ready), so Redis may have run any of its calls.
      if (error instanceof StoreError) throw error;
      throw new StoreUnconfirmedError("the Redis pipeline failed after it was sent", { cause: error });
    }

    let answered = 0;
    let unconfirmed = 0;
    let failure: unknown = null;
    for (let c = 0; c < calls.length; c++) {
      const { indices, group } = calls[c]!;
      const reply = replies[c]!;
      const packed = reply.status === "fulfilled" ? reply.value : null;
      let failedStatus: Status | null = null;
      if (reply.status === "rejected") {
        failedStatus = groupFailureStatus(reply.reason);
        failure = reply.reason;
      } else if (packed!.length !== indices.length * PACKED_RESULT_SIZE) {
        // bid.lua ran (it answered), so its writes are in Redis, but its answer is unreadable.
        failedStatus = Status.UNCONFIRMED;
        failure = new StoreUnconfirmedError(`bid.lua answered ${packed!.length} bytes for ${indices.length} bids`);
      }
      if (failedStatus !== null) {
        // An UNCONFIRMED bid may have ended its auction (a buy-now): the closer looks.
        if (failedStatus === Status.UNCONFIRMED) {
          unconfirmed++;
          this.dueHints.forget(group);
        }
        for (const i of indices) {
          batch.status[i] = failedStatus;
          batch.resultAmount[i] = 0;
          batch.resultLeader[i] = 0;
          batch.stepped[i] = 0;
        }
        continue;
      }
      answered++;
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j]!;
        const r = j * PACKED_RESULT_SIZE;
        const status = readU32(packed!, r);
        batch.status[i] = status;
        batch.resultAmount[i] = readU64(packed!, r + 4);
        batch.resultLeader[i] = readU32(packed!, r + 12);
        batch.stepped[i] = packed![r + RESULT_STEPPED_OFFSET]!;
        if (status !== Status.UNKNOWN) {
          batch.seq[i] = readU32(packed!, r + 16);
          batch.endsAt[i] = readU64(packed!, r + 20);
          // A buy-now ends the auction now: the closer must not wait for its next look.
          this.dueHints.note(group, batch.endsAt[i]!);
        }
      }
    }
    if (answered > 0) return;
    // Nothing answered: a failure for the breaker. One group that may have run makes the whole
    // batch UNCONFIRMED (the drain answers a rejected batch with one status; never "nothing
    // stored" unless it is certain for every group).
    if (unconfirmed === 0) throw new StoreUnavailableError("Redis refused the batch before it was sent", { cause: failure });
    throw new StoreUnconfirmedError("Redis did not answer the batch", { cause: failure });
  }

  /**
   * Creates the auction and lists it in {@link AUCTION_INDEX_KEY}. The index is another slot
   * than the auction's keys, so it is a command of its own, sent first: a crash in between
   * leaves an index entry without an auction, which listAuctions skips, never an auction
   * missing from the list.
   */
  async createAuction(spec: NewAuction): Promise<CreateResult> {
    this.assertWritable();
    // A loss being handled raises the id counter first.
    if (this.verifying !== null) await this.verifying.catch(() => {});
    if (spec.id !== 0) {
      return (await this.tryCreate(spec.id, spec)) ? this.created(spec.id, spec.startsAt === 0) : { created: false, reason: "exists" };
    }
    // Ids come from a counter shared by every node (lua/next-id.lua: u32, wrapping to 1); one
    // taken by an explicit id, or by an auction still open from before a wrap, is skipped.
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const id = await this.client.gavelNextId(AUCTION_IDS_KEY, this.highestKnownId, MAX_AUCTION_ID);
      if (await this.tryCreate(id, spec)) return this.created(id, spec.startsAt === 0);
    }
    throw new IdsExhaustedError(
      `auction ids exhausted: the ${MAX_ID_ATTEMPTS} ids after the last one handed out are all taken (ids are u32: 1 to ${MAX_AUCTION_ID})`,
    );
  }

  /** The auction as create.lua stored it (with starts_at filled in when it was "now"). */
  /** `startedByRedis`: starts_at was left to create.lua, so it is a reading of Redis TIME. */
  private async created(id: number, startedByRedis: boolean): Promise<CreateResult> {
    this.noteId(id);
    const auction = await this.getAuction(id);
    if (auction === null) throw new StoreError(`auction ${id} vanished right after it was created`);
    this.dueHints.note(shardGroup(id, this.shards), auction.endsAt);
    if (startedByRedis && auction.startsAt > this.latestSeenRedisMs) {
      this.latestSeenRedisMs = auction.startsAt;
    }
    return { created: true, auction };
  }

  listAuctions(phase: Phase | null, afterId: number, limit: number): Promise<AuctionState[]> {
    return this.listing.listAuctions(phase, afterId, limit);
  }

  getAuction(id: number): Promise<AuctionState | null> {
    return this.listing.getAuction(id);
  }

  /** The accepted bids of an auction with seq > `afterSeq`, oldest first, at most `limit`. */
  async history(auction: number, afterSeq: number, limit: number): Promise<HistoryEntry[]> {
    if (limit <= 0 || afterSeq >= MAX_SEQ) return [];
    // Entry ids are 0-<seq>; "(" makes the start exclusive.
    const entries = await this.client.xrangeBuffer(this.keys.history(auction), `(0-${afterSeq}`, "+", "COUNT", limit);
    return entries.map(toHistoryEntry);
  }

  /**
   * The accepted bids with seq < `beforeSeq`, newest first, at most `limit`; a `beforeSeq`
   * above any seq (e.g. 0xFFFFFFFF or more) starts from the newest.
   */
  async historyNewestFirst(auction: number, beforeSeq: number, limit: number): Promise<HistoryEntry[]> {
    if (limit <= 0 || beforeSeq <= 1) return [];
    const end = beforeSeq > MAX_SEQ ? "+" : `(0-${beforeSeq}`;
    const entries = await this.client.xrevrangeBuffer(this.keys.history(auction), end, "-", "COUNT", limit);
    return entries.map(toHistoryEntry);
  }

  /**
   * The closing step, per shard group, all groups concurrently (pipelined): read at most
   * `limit` ids due in the group's ends set, then lua/close.lua on them (every key it touches
   * named in KEYS, as Redis Cluster needs to move a group's keys safely), which checks each
   * again and closes it; what is left closes on the next call. Atomic per group, so however
   * many nodes run it, each auction is returned, and its CLOSED published, by exactly one call.
   * With a WAIT configured, a group's closings count only once its replicas hold them.
   * Rejects only when no group's call got through; a group that failed is retried next call.
   */
  async closeDue(limit: number): Promise<ClosedAuction[]> {
    if (limit <= 0) return [];
    this.assertWritable();
    const upTo = this.now() + DUE_READ_SLACK_MS;
    const groups: number[] = [];
    for (let g = 0; g < this.shards; g++) if (this.dueHints.mayHoldDue(g, upTo)) groups.push(g);
    if (groups.length === 0) return [];
    const replies = await Promise.allSettled(groups.map((g) => this.closeGroup(g, limit)));
    const closed: ClosedAuction[] = [];
    let failure: unknown = null;
    let anySucceeded = false;
    for (const [i, reply] of replies.entries()) {
      if (reply.status === "rejected") {
        this.dueHints.forget(groups[i]!);
        failure = reply.reason;
        continue;
      }
      anySucceeded = true;
      // Those closed by the groups that did answer are returned: they are closed and published.
      const values = reply.value;
      for (let r = 0; r + CLOSE_STRIDE <= values.length; r += CLOSE_STRIDE) {
        closed.push({
          id: values[r]!,
          seq: values[r + 1]!,
          winner: values[r + 2]!,
          amount: values[r + 3]! * TWO_32 + values[r + 4]!,
        });
      }
    }
    if (!anySucceeded) throw new StoreError("Redis did not run the closing step", { cause: failure });
    return closed;
  }

  /** The closing step of one group: its due ids, then close.lua on them (and WAIT). */
  private async closeGroup(group: number, limit: number): Promise<number[]> {
    // Read a little past the node's estimate of Redis TIME, which may lag it by a few ms (an
    // auction a buy-now just ended must close on the next step); close.lua decides on Redis
    // TIME and leaves an auction that is not due yet where it is.
    const now = this.now();
    const upTo = now + DUE_READ_SLACK_MS;
    // One read also shows what ends in the next recheckMs: the earliest of those is when the
    // group needs reading again (group-due-hints.ts).
    const horizon = now + this.dueHints.recheckMs;
    this.dueHints.beginRead(group);
    const read = await this.client.zrangebyscore(this.endsKeys[group]!, "-inf", String(horizon), "WITHSCORES", "LIMIT", 0, limit);
    const due: string[] = [];
    let nextDue = read.length / 2 < limit ? horizon : 0;
    for (let r = 0; r + 1 < read.length; r += 2) {
      const endsAt = Number(read[r + 1]);
      if (endsAt <= upTo) due.push(read[r]!);
      else {
        nextDue = endsAt;
        break;
      }
    }
    this.dueHints.endRead(group, nextDue);
    if (due.length === 0) return [];
    // close.lua's KEYS: ends, live, closed, outbox, retire, then the due auctions' hashes;
    // ARGV: the webhook flag, then the ids.
    const keys = [
      this.endsKeys[group]!,
      this.keys.live(group),
      this.keys.closed(group),
      this.outboxKeys[group]!,
      this.keys.retire(group),
      ...due.map((id) => this.keyPrefixes[group]! + id),
    ];
    const args = [keys.length, ...keys, this.webhookFlag, ...due];
    // A close done in Redis but not yet on the replicas could be undone by a failover (the
    // auction would close again there): it is not reported as closed by this call.
    const closed = await this.withReplicas<number[]>("gavelClose", args, `closing in group ${group}: `);
    // Some left open (Redis TIME behind this node's estimate, or another node closed them): look again.
    if (closed.length / CLOSE_STRIDE < due.length) this.dueHints.forget(group);
    return closed;
  }

  /**
   * Closes an open or scheduled auction with no sale (lua/cancel.lua) and publishes its CLOSED.
   * One whose ends_at has passed is "closed" even before the closer ran: the closer decides it.
   */
  async cancel(id: number): Promise<CancelResult> {
    this.assertWritable();
    const group = shardGroup(id, this.shards);
    const [reply, seq] = await this.withReplicas<[reply: number, seq: number]>("gavelCancel", [
      this.keys.auction(id),
      this.endsKeys[group]!,
      this.keys.live(group),
      this.keys.closed(group),
      this.outboxKeys[group]!,
      this.keys.retire(group),
      this.keys.starts(group),
      this.keys.scheduled(group),
      id,
      this.webhookFlag,
    ]);
    switch (reply) {
      case CancelReply.CANCELLED:
        return { cancelled: true, closed: { id, seq, winner: 0, amount: 0 } };
      case CancelReply.UNKNOWN:
        return { cancelled: false, reason: "unknown" };
      default:
        return { cancelled: false, reason: "closed" };
    }
  }

  /** Redis's clock (ms), from an offset re-measured every few seconds: no round trip. */
  now(): number {
    const estimate = Date.now() + this.clockOffset;
    // Never behind a Redis time this node has already seen: an auction created "now" (starts_at
    // from Redis TIME) must not read as scheduled a moment later because the estimate lags.
    return estimate >= this.latestSeenRedisMs ? estimate : this.latestSeenRedisMs;
  }

  unavailableReason(): string | null {
    // Closed on purpose (the server stopped): not a fault.
    if (this.closing) return null;
    if (!this.up) return "Redis is unreachable";
    if (this.refusal !== null) return this.refusal.message;
    if (this.unchecked !== null) return this.unchecked.message;
    if (this.floorOwed) return "Redis lost acknowledged data; the auction id counter is not yet raised past the ids this node handed out";
    if (!this.feed.live) return "the Redis update feed is not subscribed";
    return null;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.retention?.stop();
    this.scheduledBackfill?.stop();
    if (this.clockTimer !== null) clearInterval(this.clockTimer);
    this.clockTimer = null;
    this.feed.close();
    try {
      await this.client.quit();
    } catch {
      // Not connected: nothing to say goodbye to.
      this.client.disconnect();
    }
  }

  /**
   * Rejects with StoreUnconfirmedError when `work` has not settled `batchDeadlineMs` after this
   * call. ioredis's commandTimeout starts only when a command is handed to it, and
   * auto-pipelining writes one pipeline at a time: behind a pipeline stuck on a hung Redis, the
   * next batches wait unsent, with no timer, for that whole timeout first. Rejecting here never
   * touches the batch later (the replies are read only after this settles). UNCONFIRMED, not
   * UNAVAILABLE: the pipeline was written before this timer started, and a Redis that was only
   * paused runs it when it resumes (docs/reliability.md).
   */
  private withinDeadline<T>(work: Promise<T>): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const timer = setTimeout(() => reject(new StoreUnconfirmedError(`no reply from Redis within ${this.batchDeadlineMs} ms`)), this.batchDeadlineMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
    return promise;
  }

  /**
   * One server: an explicit pipeline per batch goes out at once (auto-pipelining holds a batch
   * back until the previous one's replies are in, which doubled the latency), then one WAIT for
   * the whole batch when replicas are asked for: it waits for every write the connection made
   * before it.
   */
  private async sendPipeline(calls: GroupCall[]): Promise<PromiseSettledResult<Buffer>[]> {
    const pipeline = this.client.pipeline() as unknown as ScriptedPipeline;
    for (const call of calls) pipeline.gavelBidBuffer(...call.args);
    if (this.waitReplicas > 0) pipeline.wait(this.waitReplicas, this.waitTimeoutMs);
    const replies = await this.settleBids(pipeline.exec());
    if (this.waitReplicas > 0) this.applyWait(replies, replies.pop()!);
    return replies;
  }

  /**
   * A cluster: each group's call goes to its slot's master (with its WAIT on the same
   * connection, so it waits for that call's writes), all at once.
   */
  private async sendToCluster(calls: GroupCall[]): Promise<PromiseSettledResult<Buffer>[]> {
    const replies = await Promise.all(calls.map((call) => this.sendGroup(call.group, call)));
    if (replies.some((r) => r.status === "rejected" && isEpochMismatch(r.reason))) void this.verifyEpochs().catch(() => {});
    return replies;
  }

  /**
   * One group's call, and its WAIT on the same connection. Redis refuses a call it cannot run
   * where it was sent (MOVED, ASK, TRYAGAIN while its slot moves; CLUSTERDOWN during a failover)
   * before running any of it. Such a call is sent again, a little later, only if no later call
   * of its group was sent meanwhile, and the group's next calls wait for it: a later call
   * landing first would apply one connection's bids out of order. Otherwise it fails (its bids:
   * UNAVAILABLE, nothing stored). ioredis must not follow the redirection by itself for the same
   * reason: the WAIT after the call (WAIT 0 0 without replicas, answered at once) makes ioredis
   * hand the pipeline's replies back as they are instead of resending it.
   */
  private async sendGroup(group: number, call: GroupCall): Promise<PromiseSettledResult<Buffer>> {
    for (let hold = this.groupHolds[group]; hold !== null && hold !== undefined; hold = this.groupHolds[group]) await hold;
    const sent = ++this.groupSends[group]!;
    const resendUntil = performance.now() + this.batchDeadlineMs * GROUP_RESEND_SHARE;
    let release: (() => void) | null = null;
    try {
      for (;;) {
        const pipeline = this.client.pipeline() as unknown as ScriptedPipeline;
        pipeline.gavelBidBuffer(...call.args);
        pipeline.wait(this.waitReplicas, this.waitReplicas > 0 ? this.waitTimeoutMs : 0);
        let replies: PromiseSettledResult<Buffer>[];
        try {
          replies = await settleExec(pipeline.exec());
        } catch (error) {
          return { status: "rejected", reason: error };
        }
        const reply = replies[0]!;
        if (reply.status === "rejected" && isRedirection(reply.reason)) {
          if ((reply.reason as Error).message.startsWith("MOVED")) (this.client as unknown as Cluster).refreshSlotsCache();
          if (performance.now() >= resendUntil || this.groupSends[group] !== sent) return reply;
          if (release === null) {
            const { promise, resolve } = Promise.withResolvers<void>();
            this.groupHolds[group] = promise;
            release = resolve;
          }
          await Bun.sleep(GROUP_RESEND_DELAY_MS);
          continue;
        }
        if (this.waitReplicas > 0) this.applyWait(replies, replies[1]!);
        return replies[0]!;
      }
    } finally {
      if (release !== null) {
        this.groupHolds[group] = null;
        release();
      }
    }
  }

  /**
   * Turns the fulfilled replies into UNCONFIRMED failures when the WAIT after them reached fewer
   * replicas than asked: the bids are applied on the master, but a failover now could lose them.
   */
  private applyWait(replies: PromiseSettledResult<Buffer>[], wait: PromiseSettledResult<Buffer>): void {
    const short = waitFailure(wait.status === "rejected" ? wait.reason : null, wait.status === "fulfilled" ? wait.value : null, this.waitReplicas);
    if (short === null) return;
    const reason = new StoreUnconfirmedError(short);
    for (let r = 0; r < replies.length; r++) if (replies[r]!.status === "fulfilled") replies[r] = { status: "rejected", reason };
  }

  /** The fewest connected replicas of any master (INFO replication). */
  private async fewestReplicas(): Promise<number> {
    const masters = this.topology === RedisTopology.CLUSTER ? (this.client as unknown as Cluster).nodes("master") : [this.client];
    const counts = await Promise.all(
      masters.map(async (node) => Number(/^connected_slaves:(\d+)/m.exec(await node.info("replication"))?.[1] ?? 0)),
    );
    return Math.min(...counts);
  }

  /** A connection to a primary (a cluster's first master): where server settings are read. */
  primaryConnection(): Redis {
    if (this.topology !== RedisTopology.CLUSTER) return this.client;
    return (this.client as unknown as Cluster).nodes("master")[0] ?? this.client;
  }

  /** Reads maxmemory-policy: on a cluster, on every master, the least safe answer winning. */
  private async readPolicy(): Promise<EvictionPolicy> {
    if (this.topology !== RedisTopology.CLUSTER) return readEvictionPolicy(this.client);
    const masters = (this.client as unknown as Cluster).nodes("master");
    const policies = await Promise.all(masters.map((node) => readEvictionPolicy(node)));
    return policies.find((p) => evictionRefusal(p) !== null) ?? policies.find((p) => "unreadable" in p) ?? policies[0] ?? { unreadable: "no master is known" };
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
        calls.push({ group, args: [], indices: [] });
      }
      calls[s]!.indices.push(i);
    }
    for (const call of calls) {
      const n = call.indices.length;
      const group = shardGroup(batch.auction[call.indices[0]!]!, this.shards);
      slot[group] = -1; // leave the scratch clean for the next batch
      // Every key the script touches is in KEYS (Redis Cluster's rule): the group's ends and
      // epoch keys, then each auction's hash and history once; the bids are packed in one
      // argument naming their auction's hash key.
      const keyIndex = new Map<number, number>();
      const keys: string[] = [this.endsKeys[group]!, this.epochKeys[group]!];
      const bids = Buffer.allocUnsafe(n * PACKED_BID_SIZE);
      for (let j = 0; j < n; j++) {
        const i = call.indices[j]!;
        const auction = batch.auction[i]!;
        let k = keyIndex.get(auction);
        if (k === undefined) {
          const hash = this.keyPrefixes[group]! + auction;
          keys.push(hash, hash + HISTORY_SUFFIX);
          k = keys.length - 1; // the hash's 1-based index, as Lua's KEYS; the history follows it
          keyIndex.set(auction, k);
        }
        const o = j * PACKED_BID_SIZE;
        writeU32(bids, o, k);
        writeU32(bids, o + 4, batch.user[i]!);
        writeU64(bids, o + 8, batch.amount[i]!);
        bids[o + 16] = batch.kind[i]!;
      }
      // Webhooks: the group's outbox stream goes last, so the indices above stay put.
      if (this.outbox !== undefined) keys.push(this.outboxKeys[group]!);
      call.args = [keys.length, ...keys, bids, this.epochs.expected(group), this.webhookFlag];
    }
    return calls;
  }

  private connectionLost(): void {
    if (this.up && !this.closing) this.log("redis: connection lost, reconnecting", { level: "warn", event: "store_down", store: "redis" });
    this.up = false;
    if (this.started) this.unchecked = this.uncheckedError;
  }

  /**
   * create.lua for `id`. A create refused because the group's epoch changed (Redis lost data
   * since this node last looked) is tried again once the epochs are read and the loss handled.
   */
  private async tryCreate(id: number, spec: NewAuction): Promise<boolean> {
    for (let retry = 0; ; retry++) {
      try {
        return await this.createOnce(id, spec);
      } catch (error) {
        if (!isEpochMismatch(error) || retry === MAX_EPOCH_RETRIES) throw error;
        await this.verifyEpochs();
      }
    }
  }

  private async createOnce(id: number, spec: NewAuction): Promise<boolean> {
    const group = shardGroup(id, this.shards);
    await this.client.zadd(AUCTION_INDEX_KEY, id, id);
    const created = await this.withReplicas<number>("gavelCreate", [
      this.keys.auction(id),
      this.keys.history(id),
      this.endsKeys[group]!,
      this.epochKeys[group]!,
      this.keys.live(group),
      this.keys.closed(group),
      this.keys.starts(group),
      this.keys.scheduled(group),
      this.epochs.expected(group),
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
      spec.increments === undefined || spec.increments.length === 0 ? "" : JSON.stringify(spec.increments),
    ]);
    return created === 1;
  }

  /**
   * A script call whose effect is acknowledged (an admin create or cancel, a close), and with
   * GAVEL_REDIS_WAIT_REPLICAS its WAIT on the same connection, like a bid batch: a 201 or a
   * cancel must survive a failover as an ACCEPTED bid does. A WAIT that reaches fewer replicas
   * fails the call with StoreUnconfirmedError: the change is on the master, perhaps not beyond.
   */
  private async withReplicas<T>(script: "gavelCreate" | "gavelCancel" | "gavelClose", args: (string | number)[], what = ""): Promise<T> {
    if (this.waitReplicas === 0) return (this.client[script] as (...a: (string | number)[]) => Promise<T>).apply(this.client, args);
    const pipeline = this.client.pipeline() as unknown as ScriptedPipeline & Record<typeof script, (...a: (string | number)[]) => unknown>;
    pipeline[script](...args);
    pipeline.wait(this.waitReplicas, this.waitTimeoutMs);
    const [call, wait] = await settleExec(pipeline.exec());
    if (call!.status === "rejected") throw call!.reason;
    const short = waitFailure(wait!.status === "rejected" ? wait!.reason : null, wait!.status === "fulfilled" ? wait!.value : null, this.waitReplicas);
    if (short !== null) throw new StoreUnconfirmedError(what + short);
    return call!.value as unknown as T;
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

  /**
   * After a reconnect and every clock refresh: the clock, the eviction policy and the epochs.
   * Never rejects: a Redis that is away is reported by the connection's handlers.
   */
  private async recheck(): Promise<void> {
    await this.refreshClock();
    try {
      await this.checkPolicy();
      await this.verifyEpochs();
    } catch {
      // Away again: the next reconnect looks again.
    }
  }

  /** Reads maxmemory-policy; refuses bids and writes (and logs once) while it can evict. */
  private async checkPolicy(): Promise<void> {
    const policy = await this.readPolicy();
    const before = this.lastPolicy;
    this.lastPolicy = policy;
    this.unchecked = null;
    const refusal = evictionRefusal(policy);
    if (refusal !== null) {
      if (this.refusal?.message !== refusal) {
        this.log(`redis: ${refusal}; bids are answered UNAVAILABLE and writes refused until it is changed`);
        this.refusal = new StoreRefusedError(refusal);
      }
      return;
    }
    if (this.refusal !== null) {
      this.refusal = null;
      const now = "policy" in policy ? `is ${policy.policy}` : "cannot be read any more";
      this.log(`redis: maxmemory-policy ${now}: accepting bids and writes again`);
    }
    const warning = evictionWarning(policy);
    if (warning !== null && (before === null || !("unreadable" in before))) this.log(`redis: warning: ${warning}`);
  }

  private assertWritable(): void {
    const refusal = this.refusal ?? this.unchecked;
    if (refusal !== null) throw refusal;
  }

  private noteId(id: number): void {
    if (id > this.highestKnownId) this.highestKnownId = id;
  }

  /** The pipeline's replies; a call refused for a changed epoch makes the store look at once. */
  private async settleBids(exec: Promise<[Error | null, unknown][] | null>): Promise<PromiseSettledResult<Buffer>[]> {
    const replies = await settleExec(exec);
    for (const reply of replies) {
      if (reply.status === "rejected" && isEpochMismatch(reply.reason)) {
        void this.verifyEpochs().catch(() => {});
        break;
      }
    }
    return replies;
  }

  /**
   * Reads every group's epoch (writing a fresh one where it is missing). A group whose epoch
   * changed since the last look lost its data: its subscribers are reset, one line is logged,
   * and the id counter is raised past every id this node knows of. Concurrent callers share
   * one read.
   */
  private verifyEpochs(): Promise<void> {
    this.verifying ??= this.readEpochs().finally(() => {
      this.verifying = null;
    });
    return this.verifying;
  }

  private async readEpochs(): Promise<void> {
    const fresh = newEpoch();
    const found = await Promise.all(
      this.epochKeys.map((key, group) => this.client.gavelEpoch(key, fresh, this.keys.channel(group), group)),
    );
    const lost: number[] = [];
    for (let group = 0; group < found.length; group++) {
      if (this.epochs.observe(group, String(found[group]))) lost.push(group);
    }
    this.dataLost(lost);
    if (this.unlogged.size > 0) {
      const groups = [...this.unlogged].sort((a, b) => a - b);
      this.unlogged.clear();
      this.log(
        `redis: DATA LOST: Redis no longer holds the data of shard group${groups.length === 1 ? "" : "s"} ${groups.join(", ")} ` +
          `(restarted empty, flushed, or failed over to an empty replica): the auctions and bids stored there are gone; ` +
          `their subscribers got ERROR RESET, and no auction id up to ${this.highestKnownId} will be handed out again by this node`,
      );
    }
    if (this.floorOwed) {
      await this.client.gavelRaiseIds(AUCTION_IDS_KEY, this.highestKnownId);
      this.floorOwed = false;
    }
  }

  /** epoch.lua's notice on a group's channel: another node found that group lost. */
  private epochNotice(message: Uint8Array): void {
    const notice = parseEpochNotice(message);
    if (notice === null || notice.group >= this.shards) return;
    // Synchronous: the next message on this channel may already be a new auction's UPDATE.
    if (this.epochs.observe(notice.group, notice.epoch)) this.dataLost([notice.group]);
    if (this.unlogged.size > 0) void this.verifyEpochs().catch(() => {});
  }

  /** Ends the lost groups' subscriptions at once, and owes the log line and the counter raise. */
  private dataLost(groups: readonly number[]): void {
    if (groups.length === 0) return;
    const lost = new Set(groups);
    for (const group of groups) this.unlogged.add(group);
    this.floorOwed = true;
    this.feed.reset((auction) => lost.has(shardGroup(auction, this.shards)), RESET_MESSAGE);
  }
}


/** The script with its PUBLISH sent as SPUBLISH (same channel, a shard channel on a cluster). */
function toShardedPublish(lua: string): string {
  const sharded = lua.replaceAll("redis.call('PUBLISH',", "redis.call('SPUBLISH',");
  if (sharded === lua) throw new StoreError("a script that publishes has no redis.call('PUBLISH', ...) to shard");
  return sharded;
}

/**
 * The layout of the keys already in Redis: legacy `g<n>` tags when a deployment stored data
 * with them (its group 0 epoch, or any auction id, exists without a balanced epoch), else
 * balanced tags.
 */
async function readKeyLayout(client: Redis, shards: number): Promise<KeyLayout> {
  const balanced = new RedisKeys(shards, KeyLayout.BALANCED);
  const legacy = new RedisKeys(shards, KeyLayout.LEGACY);
  if ((await client.exists(balanced.epoch(0))) === 1) return KeyLayout.BALANCED;
  if ((await client.exists(legacy.epoch(0))) === 1 || (await client.zcard(AUCTION_INDEX_KEY)) > 0) return KeyLayout.LEGACY;
  return KeyLayout.BALANCED;
}

/** An auction from its hash's fields (none without a starting price: no such auction). */
function readScript(name: string): Promise<string> {
  return Bun.file(join(import.meta.dir, "..", "..", "lua", name)).text();
}
