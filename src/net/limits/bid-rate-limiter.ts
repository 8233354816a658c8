// The per-user bid rate (GAVEL_BID_RATE, GAVEL_BID_BURST): one token bucket per user. A bid
// takes a token; tokens come back at `rate` per second up to `burst`; a bid that finds none is
// answered RATE_LIMITED (after FORBIDDEN and INVALID, before OVERLOADED: docs/protocol.md).
//
// On the hot path nothing is allocated: buckets live in typed arrays, found through a
// Map<user, slot> that changes only when a user first bids. A bucket that has refilled to full
// is the same as no bucket, so a sweep (at most once per SWEEP_INTERVAL_MS, from `take`) frees
// those: the table holds only users who bid in the last burst/rate seconds, and never more than
// `maxUsers`.

/** How often full buckets are given back. */
export const SWEEP_INTERVAL_MS = 1_000;
/**
 * Users tracked at once, per server process: 16 per connection at the default connection limit.
 * With authentication off, user ids are whatever clients claim; a flood of fresh ids fills the
 * table, and then a new user's bid is RATE_LIMITED until a sweep frees room (failing closed:
 * the alternative, letting untracked users through, would switch the limit off under attack).
 */
export const MAX_TRACKED_USERS = 1 << 18;
const INITIAL_SLOTS = 1024;
/** When the table is full, sweep again at most this often. */
const FULL_SWEEP_INTERVAL_MS = 50;
const MS_PER_SECOND = 1000;

export class BidRateLimiter {
  private readonly slotOf = new Map<number, number>();
  private tokens: Float64Array;
  /** When `tokens` was last brought up to date, ms. */
  private refilledAt: Float64Array;
  /** The user holding each slot; 0 (never a user) when the slot is free. */
  private userOf: Uint32Array;
  /** Freed slots, reused before `used` grows. */
  private free: Int32Array;
  private freeCount = 0;
  /** Slots [0, used) have been handed out at least once. */
  private used = 0;
  private lastSweep = 0;
  private readonly perMs: number;

  constructor(
    ratePerSecond: number,
    private readonly burst: number,
    private readonly maxUsers: number = MAX_TRACKED_USERS,
  ) {
    this.perMs = ratePerSecond / MS_PER_SECOND;
    const size = Math.min(INITIAL_SLOTS, maxUsers);
    this.tokens = new Float64Array(size);
    this.refilledAt = new Float64Array(size);
    this.userOf = new Uint32Array(size);
    this.free = new Int32Array(size);
  }

  /** Users with a bucket now (for tests and metrics). */
  get trackedUsers(): number {
    return this.slotOf.size;
  }

  /** Takes one token from `user`'s bucket; false when it is empty (the bid is RATE_LIMITED). */
  take(user: number, now: number): boolean {
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(now);
    let slot = this.slotOf.get(user);
    if (slot === undefined) {
      slot = this.allocate(user, now);
      if (slot < 0) return false;
    } else {
      const elapsed = now - this.refilledAt[slot]!;
      if (elapsed > 0) {
        this.tokens[slot] = Math.min(this.burst, this.tokens[slot]! + elapsed * this.perMs);
        this.refilledAt[slot] = now;
      }
    }
    if (this.tokens[slot]! < 1) return false;
    this.tokens[slot]! -= 1;
    return true;
  }

  /** Frees every bucket that is full again by `now`. */
  sweep(now: number): void {
    this.lastSweep = now;
    for (let slot = 0; slot < this.used; slot++) {
      const user = this.userOf[slot]!;
      if (user === 0) continue; // free
      if (this.tokens[slot]! + (now - this.refilledAt[slot]!) * this.perMs < this.burst) continue;
      this.slotOf.delete(user);
      this.userOf[slot] = 0;
      this.free[this.freeCount++] = slot;
    }
  }

  /** A full bucket for a user seen for the first time; -1 when the table is full. */
  private allocate(user: number, now: number): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.free[--this.freeCount]!;
    else if (this.used < this.tokens.length) slot = this.used++;
    else if (this.used < this.maxUsers) {
      this.grow();
      slot = this.used++;
    } else {
      if (now - this.lastSweep < FULL_SWEEP_INTERVAL_MS) return -1;
      this.sweep(now);
      if (this.freeCount === 0) return -1;
      slot = this.free[--this.freeCount]!;
    }
    this.slotOf.set(user, slot);
    this.userOf[slot] = user;
    this.tokens[slot] = this.burst;
    this.refilledAt[slot] = now;
    return slot;
  }

  private grow(): void {
    const size = Math.min(this.tokens.length * 2, this.maxUsers);
    const tokens = new Float64Array(size);
    tokens.set(this.tokens);
    const refilledAt = new Float64Array(size);
    refilledAt.set(this.refilledAt);
    const userOf = new Uint32Array(size);
    userOf.set(this.userOf);
    const free = new Int32Array(size);
    free.set(this.free.subarray(0, this.freeCount));
    this.tokens = tokens;
    this.refilledAt = refilledAt;
    this.userOf = userOf;
    this.free = free;
  }
}
