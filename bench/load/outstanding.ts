// Which requests of one connection still wait for their reply, and when each was (meant to be)
// sent. Requests get consecutive numbers, so the outstanding ones lie in a window
// [oldest, next) of a ring: no object or Map entry per bid, and a reply is checked in O(1):
// inside the window and not yet answered is the one legal case; anything else is a reply to a
// request that was never sent or was already answered.

/** Request numbers start here: `req` 0 is what a server puts in an ERROR it cannot tie to a request. */
const FIRST_REQ = 1;
const MIN_CAPACITY = 64;
/**
 * The window never spans more requests than this (per connection): bounded memory even if a
 * reply never comes. Past it, the closed loop gives the oldest up as unanswered and the open
 * loop skips sending (both reported).
 */
export const MAX_SPAN = 1 << 16;

const U32 = 0x1_0000_0000;
const HALF_U32 = 0x8000_0000;

/** What `complete` says about a reply's `req`. */
export const Reply = { OK: 0, DUPLICATE: -1, NEVER_SENT: -2 } as const;

export class Outstanding {
  private sentAt: Float64Array;
  private auction: Uint32Array;
  private answered: Uint8Array;
  private mask: number;
  /** Request numbers are plain numbers here (exact far past 2^32); the wire carries them mod 2^32. */
  private oldest = FIRST_REQ;
  private next = FIRST_REQ;
  /** Sent and not yet answered. */
  inFlight = 0;
  /** Given up after MAX_SPAN later requests went out: counted as unanswered. */
  abandoned = 0;

  constructor(initialCapacity: number) {
    let capacity = MIN_CAPACITY;
    while (capacity < initialCapacity && capacity < MAX_SPAN) capacity *= 2;
    this.sentAt = new Float64Array(capacity);
    this.auction = new Uint32Array(capacity);
    this.answered = new Uint8Array(capacity);
    this.mask = capacity - 1;
  }

  /** True when one more request fits without giving one up. */
  get hasRoom(): boolean {
    return this.next - this.oldest < MAX_SPAN;
  }

  /** Registers the next request; returns its wire `req`. */
  add(sentAt: number, auction: number): number {
    if (this.next - this.oldest > this.mask) {
      if (this.mask + 1 < MAX_SPAN) this.grow();
      else this.abandonOldest();
    }
    const n = this.next++;
    const i = n & this.mask;
    this.sentAt[i] = sentAt;
    this.auction[i] = auction;
    this.answered[i] = 0;
    this.inFlight++;
    return n % U32;
  }

  /**
   * Marks the request with this wire `req` answered. Returns its slot (>= 0; read `sentAtOf` and
   * `auctionOf` with it) or a negative `Reply` code.
   */
  complete(req: number): number {
    const distance = (req - (this.oldest % U32) + U32) % U32;
    const n = this.oldest + distance;
    if (n >= this.next) return distance >= HALF_U32 ? Reply.DUPLICATE : Reply.NEVER_SENT;
    const i = n & this.mask;
    if (this.answered[i] === 1) return Reply.DUPLICATE;
    this.answered[i] = 1;
    this.inFlight--;
    if (n === this.oldest) this.advance();
    return i;
  }

  sentAtOf(slot: number): number {
    return this.sentAt[slot]!;
  }

  auctionOf(slot: number): number {
    return this.auction[slot]!;
  }

  /** Moves `oldest` past every answered request at the front of the window. */
  private advance(): void {
    while (this.oldest < this.next && this.answered[this.oldest & this.mask] === 1) this.oldest++;
  }

  private abandonOldest(): void {
    const i = this.oldest & this.mask;
    if (this.answered[i] === 0) {
      this.answered[i] = 1;
      this.inFlight--;
      this.abandoned++;
    }
    this.advance();
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const mask = capacity - 1;
    const sentAt = new Float64Array(capacity);
    const auction = new Uint32Array(capacity);
    const answered = new Uint8Array(capacity);
    for (let n = this.oldest; n < this.next; n++) {
      sentAt[n & mask] = this.sentAt[n & this.mask]!;
      auction[n & mask] = this.auction[n & this.mask]!;
      answered[n & mask] = this.answered[n & this.mask]!;
    }
    this.sentAt = sentAt;
    this.auction = auction;
    this.answered = answered;
    this.mask = mask;
  }
}
