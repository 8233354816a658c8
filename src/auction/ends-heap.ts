// Which auctions are due to close, without looking at the others: a binary min-heap of
// (ends_at, id) over the open and scheduled auctions only. The closer pops what is due; an
// auction never costs a look before its end, and a closed one is never looked at again.
//
// Deletion is lazy: cancelling or closing an auction, or anti-sniping moving its ends_at, does
// not touch the heap (the bid path allocates nothing and never reorders it). When its entry
// comes up, `takeDue` asks the auction's current ends_at: gone or closed, the entry is dropped;
// moved later, it is pushed again at the new time.

const INITIAL_CAPACITY = 64;

/** A binary min-heap of (endsAt, id), ordered by endsAt then id, in two growing typed arrays. */
export class EndsHeap {
  private endsAt = new Float64Array(INITIAL_CAPACITY);
  private ids = new Float64Array(INITIAL_CAPACITY);
  private length = 0;

  get size(): number {
    return this.length;
  }

  push(endsAt: number, id: number): void {
    if (this.length === this.endsAt.length) this.grow();
    let i = this.length++;
    // Sift up: move parents down until the new entry's place is found.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(endsAt, id, this.endsAt[parent]!, this.ids[parent]!)) break;
      this.endsAt[i] = this.endsAt[parent]!;
      this.ids[i] = this.ids[parent]!;
      i = parent;
    }
    this.endsAt[i] = endsAt;
    this.ids[i] = id;
  }

  /** The smallest entry's endsAt; Infinity when empty. */
  peekEndsAt(): number {
    return this.length === 0 ? Infinity : this.endsAt[0]!;
  }

  /** The smallest entry's id; 0 when empty. */
  peekId(): number {
    return this.length === 0 ? 0 : this.ids[0]!;
  }

  /** Removes the smallest entry (read it with peek first). */
  pop(): void {
    if (this.length === 0) return;
    const last = --this.length;
    const endsAt = this.endsAt[last]!;
    const id = this.ids[last]!;
    let i = 0;
    // Sift down the last entry from the root.
    for (;;) {
      const left = 2 * i + 1;
      if (left >= last) break;
      const right = left + 1;
      const child = right < last && this.less(this.endsAt[right]!, this.ids[right]!, this.endsAt[left]!, this.ids[left]!) ? right : left;
      if (!this.less(this.endsAt[child]!, this.ids[child]!, endsAt, id)) break;
      this.endsAt[i] = this.endsAt[child]!;
      this.ids[i] = this.ids[child]!;
      i = child;
    }
    this.endsAt[i] = endsAt;
    this.ids[i] = id;
  }

  private less(endsA: number, idA: number, endsB: number, idB: number): boolean {
    return endsA < endsB || (endsA === endsB && idA < idB);
  }

  private grow(): void {
    const endsAt = new Float64Array(this.endsAt.length * 2);
    const ids = new Float64Array(this.ids.length * 2);
    endsAt.set(this.endsAt);
    ids.set(this.ids);
    this.endsAt = endsAt;
    this.ids = ids;
  }
}

/** What `takeDue` is told of an auction: its current ends_at, or GONE when closed or deleted. */
export const GONE = -1;

/**
 * Pops the entries due at `now` (endsAt <= now) and hands each auction due to `close`, at most
 * `limit`, in (endsAt, id) order; returns how many. `currentEndsAt(id)` says where the auction
 * stands now: GONE (closed, cancelled, deleted) drops the entry; a later ends_at than the
 * entry's (anti-sniping) pushes it again there; an earlier one drops it too (whatever moved it
 * earlier pushed a fresh entry). `close` must make the auction GONE, so a duplicate entry of an
 * auction is never closed twice.
 */
export function takeDue(heap: EndsHeap, now: number, limit: number, currentEndsAt: (id: number) => number, close: (id: number) => void): number {
  let taken = 0;
  while (taken < limit && heap.peekEndsAt() <= now) {
    const endsAt = heap.peekEndsAt();
    const id = heap.peekId();
    heap.pop();
    const current = currentEndsAt(id);
    if (current === GONE || current < endsAt) continue;
    if (current > endsAt) {
      heap.push(current, id);
      continue;
    }
    close(id);
    taken++;
  }
  return taken;
}
