// Whether Redis may evict Gavel's keys: its maxmemory-policy, read at start-up, on every
// reconnect and every few seconds; see docs/reliability.md ("Redis eviction policy").
//
// Under memory pressure Redis evicts keys by its maxmemory-policy. An `allkeys-*` policy may
// drop any key: an auction whose creation was acknowledged, its history, the id counter. That
// loses acknowledged data silently (a bid on it then reads UNKNOWN, and the counter hands out
// ids again), so Gavel refuses to run on it. The `volatile-*` policies evict only keys that
// carry a TTL, and Gavel never sets one: they cannot evict Gavel's keys (when nothing is
// evictable Redis refuses writes with OOM, which fails the call: UNAVAILABLE, nothing lost).
// `noeviction` never evicts. Any other value (a policy of a later Redis) is treated as unsafe
// until it is known.

import { ReplyError, type Redis } from "ioredis";

/** Policies under which Gavel's keys (which never carry a TTL) are never evicted. */
const SAFE_POLICIES: ReadonlySet<string> = new Set([
  "noeviction",
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
]);

export const EVICTION_SETTING = "maxmemory-policy";

/** What CONFIG GET maxmemory-policy said: the policy, or why it could not be read. */
export type EvictionPolicy = { policy: string } | { unreadable: string };

/**
 * Reads maxmemory-policy on `client`; never throws for a CONFIG that is disabled or renamed
 * (as on many managed Redis services): that is `unreadable`. A connection error does throw,
 * so a Redis that is away is not mistaken for one that hides its settings.
 */
export async function readEvictionPolicy(client: Redis): Promise<EvictionPolicy> {
  let reply: unknown;
  try {
    reply = await client.config("GET", EVICTION_SETTING);
  } catch (error) {
    const message = (error as Error).message;
    // A reply error (the command is unknown or not allowed) is a real answer; anything else is
    // the connection's trouble.
    if (!isReplyError(error)) throw error;
    return { unreadable: message };
  }
  const value = Array.isArray(reply) ? reply[1] : undefined;
  if (typeof value !== "string") return { unreadable: "CONFIG GET returned no value" };
  return { policy: value };
}

/**
 * Why Gavel must not run on this policy (it can evict Gavel's keys), or null when it is safe
 * or unreadable (see {@link evictionWarning} for the latter).
 */
export function evictionRefusal(policy: EvictionPolicy): string | null {
  if ("unreadable" in policy || SAFE_POLICIES.has(policy.policy)) return null;
  return (
    `Redis runs with ${EVICTION_SETTING} ${policy.policy}, which can evict Gavel's auctions, bids and id counter ` +
    "and so lose acknowledged data: set it to noeviction (or a volatile-* policy: Gavel's keys have no TTL)"
  );
}

/** The start-up warning when the policy cannot be read, else null. */
export function evictionWarning(policy: EvictionPolicy): string | null {
  if (!("unreadable" in policy)) return null;
  return (
    `cannot read Redis's ${EVICTION_SETTING} (CONFIG GET: ${policy.unreadable}); ` +
    "an allkeys-* policy can evict acknowledged auctions and bids: make sure it is noeviction or volatile-*"
  );
}

/** Redis answered with an error (ioredis 6 raises a subclass of ReplyError for each kind). */
function isReplyError(error: unknown): boolean {
  return error instanceof (ReplyError as typeof Error);
}
