// The binary ABI shared with the Lua scripts (the mirror of lua/bid.lua's and close.lua's
// headers), and how a pipeline's replies are read: which failed call may have run.

import { readU32, readU64 } from "../protocol/bytes.ts";
import { Status } from "../protocol/constants.ts";
import { StepBy, type HistoryEntry } from "../auction/auction.ts";
import { StoreUnconfirmedError } from "./errors.ts";
import { isEpochMismatch } from "./redis-epoch.ts";

/** bid.lua's packed bid: key index u32, user u32, amount u64, kind u8 (BidKind). */
export const PACKED_BID_SIZE = 17;
/** bid.lua's packed result: status u32, amount u64, leader u32, seq u32, ends_at u64, stepped u8. */
export const PACKED_RESULT_SIZE = 29;
/** Where a packed result's stepped flag sits. */
export const RESULT_STEPPED_OFFSET = 28;
/** bid.lua's packed history entry: amount u64, user u32, accepted at u64, ends_at u64, by u8. */
const HISTORY_ENTRY_SIZE = 29;
/** The same, as written before proxy bidding: no `by` (every step was the user's own BID). */
const HISTORY_ENTRY_SIZE_V1 = 28;
/** Splits close.lua's amounts (ioredis 6.0.0 rounds integer replies near 2^53). */
export const TWO_32 = 2 ** 32;
/** close.lua's reply per closed auction: id, seq, winner, amount high part, amount low 32 bits. */
export const CLOSE_STRIDE = 5;
/** cancel.lua's first reply value. */
export const CancelReply = { CANCELLED: 0, UNKNOWN: 1, CLOSED: 2 } as const;

/** A history stream entry: id 0-<seq>, field d = amount u64, user u32, at u64, ends_at u64, by u8. */
export function toHistoryEntry([entryId, fields]: [id: Buffer, fields: Buffer[]]): HistoryEntry {
  const id = entryId.toString();
  const seq = Number(id.slice(id.indexOf("-") + 1));
  let d: Buffer | undefined;
  for (let k = 0; k + 1 < fields.length; k += 2) if (fields[k]!.toString() === "d") d = fields[k + 1];
  if (d === undefined || (d.length !== HISTORY_ENTRY_SIZE && d.length !== HISTORY_ENTRY_SIZE_V1)) throw new Error(`history entry ${id} has no packed d field`);
  const by = d.length === HISTORY_ENTRY_SIZE && d[HISTORY_ENTRY_SIZE_V1] === StepBy.MAX ? StepBy.MAX : StepBy.BID;
  return { seq, amount: readU64(d, 0), user: readU32(d, 8), at: readU64(d, 12), endsAt: readU64(d, 20), by };
}

/** A pipeline's per-command [error, value] pairs as Promise.allSettled-style results. */
export async function settleExec(exec: Promise<[Error | null, unknown][] | null>): Promise<PromiseSettledResult<Buffer>[]> {
  const results = await exec;
  if (results === null) throw new StoreUnconfirmedError("the pipeline was discarded");
  return results.map(([error, value]) =>
    error === null ? { status: "fulfilled", value: value as Buffer } : { status: "rejected", reason: error },
  );
}

/**
 * ioredis 6 rejects a command with exactly this message inside `Redis.sendCommand`, before it
 * writes a byte, when the connection's stream is not writable and the offline queue is off
 * (`enableOfflineQueue: false`, as on the bid connection). It is a plain Error: the message is
 * all there is to recognise it by.
 */
const NOT_WRITABLE_MESSAGE = "Stream isn't writeable and enableOfflineQueue options is false";

/** ioredis's Cluster refuses a command with this before sending it while the cluster is not ready. */
const CLUSTER_NOT_READY_MESSAGE = "Cluster isn't ready and enableOfflineQueue options is false";
/** Redis Cluster's refusals of a command it did not run, and ioredis's "gave up following them". */
const REDIRECTION = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) |^Too many Cluster redirections\./;

/**
 * Redis Cluster refused the command before running any of it: the slot lives elsewhere
 * (MOVED), is moving (ASK; TRYAGAIN when the call's keys are split between the two nodes), or
 * no master serves it (CLUSTERDOWN). ioredis follows these by itself up to its limit, after
 * which it fails with "Too many Cluster redirections", every earlier try also refused.
 */
export function isRedirection(error: unknown): boolean {
  return error instanceof Error && REDIRECTION.test(error.message);
}

/**
 * The status of a shard group's bids when its call in the pipeline failed. UNAVAILABLE only
 * when the call certainly never reached Redis: ioredis refused to write it (for a script that
 * answered NOSCRIPT, the retry it sends on its own was refused, and NOSCRIPT means nothing ran).
 * Everything else may have run, so it is UNCONFIRMED: "Command timed out" (written, no reply
 * in time), MaxRetriesPerRequestError and "Command aborted due to connection close" (written,
 * then the connection closed: Redis may have run it before the close), "Connection is closed."
 * (after a quit/disconnect, written or not: ioredis uses the same words for both), and any
 * error reply from Redis (a Lua error after some of bid.lua's writes stays written: Redis does
 * not roll scripts back).
 */
export function groupFailureStatus(error: unknown): Status {
  if (error instanceof Error && (error.message === NOT_WRITABLE_MESSAGE || error.message === CLUSTER_NOT_READY_MESSAGE)) return Status.UNAVAILABLE;
  if (isRedirection(error)) return Status.UNAVAILABLE;
  // bid.lua checks the group's epoch before it reads or writes anything: refused whole.
  if (isEpochMismatch(error)) return Status.UNAVAILABLE;
  return Status.UNCONFIRMED;
}

