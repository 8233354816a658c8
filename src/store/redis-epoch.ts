// How a node finds that Redis lost data it had acknowledged: each shard group holds an epoch,
// a random id written once (lua/epoch.lua), and every node remembers the epoch it saw. A Redis
// that restarted empty (no persistence) or was flushed has no epoch, or, once another node
// noticed first, a new one. See docs/reliability.md ("Redis that lost its data").
//
// Checked where it costs nothing extra: at start-up, on every reconnect (a restart always cuts
// the connections), every clock refresh, by bid.lua and create.lua on every call (one GET of a
// key of the call's own group, passed in KEYS), and through the "gavel-epoch" notice that
// epoch.lua publishes on the group's channel when it writes a fresh epoch.

/** `gavel:{g<n>}:epoch`, given the group's prefix `gavel:{g<n>}`. */
export function epochKeyOf(groupPrefix: string): string {
  return `${groupPrefix}:epoch`;
}

/** The reply error bid.lua and create.lua raise when the group's epoch is not the one passed. */
export const EPOCH_MISMATCH = "GAVELEPOCH";

/** What epoch.lua publishes before a fresh epoch's group carries any new frame. */
const NOTICE_PREFIX = "gavel-epoch ";
const NOTICE_PREFIX_BYTES = new TextEncoder().encode(NOTICE_PREFIX);

/** True when a reply error is bid.lua's or create.lua's epoch mismatch. */
export function isEpochMismatch(error: unknown): boolean {
  return error instanceof Error && error.message.includes(EPOCH_MISMATCH);
}

/** A feed message that is epoch.lua's notice (frames never start with these bytes). */
export function isEpochNotice(message: Uint8Array): boolean {
  if (message.length < NOTICE_PREFIX_BYTES.length) return false;
  for (let i = 0; i < NOTICE_PREFIX_BYTES.length; i++) if (message[i] !== NOTICE_PREFIX_BYTES[i]) return false;
  return true;
}

/** The group and the fresh epoch a notice announces, or null for a malformed one. */
export function parseEpochNotice(message: Uint8Array): { group: number; epoch: string } | null {
  const [group, epoch] = new TextDecoder().decode(message.subarray(NOTICE_PREFIX_BYTES.length)).split(" ");
  if (group === undefined || epoch === undefined || !/^\d+$/.test(group)) return null;
  return { group: Number(group), epoch };
}

/** A fresh random epoch. */
export function newEpoch(): string {
  return crypto.randomUUID();
}

/**
 * The epoch this node last saw for each shard group. bid.lua and create.lua are passed it and
 * refuse a call when Redis holds another, so nothing is written on top of a loss unnoticed.
 */
export class EpochMemory {
  private readonly known: (string | null)[];

  constructor(shards: number) {
    this.known = Array.from({ length: shards }, () => null);
  }

  /** The epoch to pass to the group's scripts ("" before the first look: every call refused). */
  expected(group: number): string {
    return this.known[group] ?? "";
  }

  /**
   * Records what Redis holds now; returns true when the group had another epoch before, i.e.
   * its data was lost since the last look.
   */
  observe(group: number, epoch: string): boolean {
    const before = this.known[group];
    this.known[group] = epoch;
    return before !== null && before !== undefined && before !== epoch;
  }
}
