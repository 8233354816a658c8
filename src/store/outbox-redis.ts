// The Redis store's outbox: one stream per shard group, gavel:{g<n>}:outbox, appended to by
// bid.lua, close.lua and cancel.lua in the same call as the change (so an event exists exactly
// when its change does), and read through the consumer group gavel-webhooks.
//
// Several nodes: each group's stream is delivered by ONE node at a time, the holder of the
// group's lease (gavel:{g<n>}:outbox-lease, lua/outbox-lease.lua), so an auction's events go
// out in order (two consumers of one stream could deliver an auction's later event before its
// earlier one). The holder renews the lease every third of its life; a node that dies stops
// renewing, and once the lease expires another node takes it and first claims (XAUTOCLAIM) the
// events the dead node had read and not acknowledged, then reads on (XREADGROUP). Delivered
// events are acknowledged and deleted (XACK, XDEL). Every key carries the group's hash tag.

import type { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { CloseOutcome, Notification, NotificationType } from "../auction/notification.ts";
import type { OutboxEntry, OutboxReader } from "./outbox.ts";
import { outboxKey, outboxLeaseKey } from "./redis-keys.ts";

/** The consumer group every node reads the outbox streams through. */
export const OUTBOX_GROUP = "gavel-webhooks";
/** The lease is renewed when a third of its life has passed (two renewals may fail in a row). */
const RENEW_FRACTION = 3;
/** How often the backlog gauge's figure (XLEN of every group's stream) is read again. */
const BACKLOG_REFRESH_MS = 1_000;
/** XAUTOCLAIM from the start of the stream with no idle minimum: every pending entry. */
const CLAIM_START = "0-0";
const CLAIM_ANY_IDLE = 0;

/** What the lease script is called as (defined on the store's client). */
export interface LeaseClient extends Redis {
  gavelOutboxLease(lease: string, consumer: string, ttlMs: number): Promise<number>;
}

type StreamEntry = [id: string, fields: string[]];

function toEvent(fields: string[]): Notification {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
  const n = (name: string) => Number(f.get(name) ?? 0);
  return {
    type: f.get("t") as NotificationType,
    auction: n("a"),
    seq: n("s"),
    at: n("at"),
    user: n("u"),
    amount: n("m"),
    leader: n("l"),
    endsAt: n("e"),
    outcome: (f.get("o") ?? "") as CloseOutcome,
  };
}

export class RedisOutbox implements OutboxReader {
  /** This process's name in the consumer group and in the leases it holds. */
  readonly consumer = `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  private readonly held: boolean[];
  /** Per group: where the claim of a dead holder's pending events goes on, or null when done. */
  private readonly claimFrom: (string | null)[];
  private readonly groupCreated: boolean[];
  /** Entries handed out and not acknowledged: a re-claim must not hand them out twice. */
  private readonly handedOut = new Set<string>();
  private renewedAt = -Infinity;
  private backlogAt = -Infinity;
  private knownBacklog = 0;

  constructor(
    private readonly client: LeaseClient,
    private readonly shards: number,
    private readonly leaseMs: number,
  ) {
    this.held = Array.from({ length: shards }, () => false);
    this.claimFrom = Array.from({ length: shards }, () => null);
    this.groupCreated = Array.from({ length: shards }, () => false);
  }

  /** The shard groups this node delivers now. */
  get heldGroups(): number[] {
    return this.held.flatMap((held, group) => (held ? [group] : []));
  }

  async take(limit: number): Promise<OutboxEntry[]> {
    const now = performance.now();
    if (now - this.renewedAt >= this.leaseMs / RENEW_FRACTION) {
      await this.renewLeases();
      this.renewedAt = now;
    }
    if (now - this.backlogAt >= BACKLOG_REFRESH_MS) {
      this.backlogAt = now;
      await this.refreshBacklog();
    }
    const out: OutboxEntry[] = [];
    for (let group = 0; group < this.shards && out.length < limit; group++) {
      if (!this.held[group]) continue;
      await this.ensureGroup(group);
      const key = outboxKey(group);
      const count = limit - out.length;
      let entries: StreamEntry[];
      const from = this.claimFrom[group];
      try {
        if (from !== null && from !== undefined) {
          // Taking over: what the last holder read and never acknowledged goes first, in order.
          const [next, claimed] = (await this.client.xautoclaim(key, OUTBOX_GROUP, this.consumer, CLAIM_ANY_IDLE, from, "COUNT", count)) as [string, StreamEntry[]];
          this.claimFrom[group] = next === CLAIM_START ? null : next;
          entries = claimed.filter((entry) => entry !== null && !this.handedOut.has(`${group} ${entry[0]}`));
        } else {
          const reply = (await this.client.xreadgroup("GROUP", OUTBOX_GROUP, this.consumer, "COUNT", count, "STREAMS", key, ">")) as [string, StreamEntry[]][] | null;
          entries = reply?.[0]?.[1] ?? [];
        }
      } catch (error) {
        // The stream and its group are gone (Redis lost the data): created again next time.
        if (!String((error as Error).message).startsWith("NOGROUP")) throw error;
        this.groupCreated[group] = false;
        continue;
      }
      for (const [id, fields] of entries) {
        const ref = `${group} ${id}`;
        this.handedOut.add(ref);
        out.push({ id: `evt_g${group}_${id}`, ref, event: toEvent(fields) });
      }
    }
    return out;
  }

  async ack(entry: OutboxEntry): Promise<void> {
    const ref = entry.ref as string;
    const space = ref.indexOf(" ");
    const key = outboxKey(Number(ref.slice(0, space)));
    const id = ref.slice(space + 1);
    this.handedOut.delete(ref);
    await this.client.pipeline().xack(key, OUTBOX_GROUP, id).xdel(key, id).exec();
  }

  backlog(): number {
    return this.knownBacklog;
  }

  /** Gives the leases up, so another node takes the groups over at once rather than at expiry. */
  async close(): Promise<void> {
    const held = this.heldGroups;
    this.held.fill(false);
    await Promise.allSettled(held.map((group) => this.client.gavelOutboxLease(outboxLeaseKey(group), this.consumer, 0)));
  }

  /** Takes every free lease and renews those held; a lease newly taken starts with a claim. */
  private async renewLeases(): Promise<void> {
    const replies = await Promise.all(Array.from({ length: this.shards }, (_, group) => this.client.gavelOutboxLease(outboxLeaseKey(group), this.consumer, this.leaseMs)));
    replies.forEach((reply, group) => {
      const holds = reply === 1;
      if (holds && !this.held[group]) this.claimFrom[group] = CLAIM_START;
      if (!holds) this.claimFrom[group] = null;
      this.held[group] = holds;
    });
  }

  private async ensureGroup(group: number): Promise<void> {
    if (this.groupCreated[group]) return;
    try {
      await this.client.xgroup("CREATE", outboxKey(group), OUTBOX_GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!String((error as Error).message).startsWith("BUSYGROUP")) throw error;
    }
    this.groupCreated[group] = true;
  }

  /** One XLEN per group (not one pipeline: on a Cluster the groups' keys sit on different slots). */
  private async refreshBacklog(): Promise<void> {
    const lengths = await Promise.allSettled(Array.from({ length: this.shards }, (_, group) => this.client.xlen(outboxKey(group))));
    let total = 0;
    for (const length of lengths) if (length.status === "fulfilled") total += length.value;
    this.knownBacklog = total;
  }
}
