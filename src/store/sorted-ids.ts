// An ordered set of auction ids with keyset reads ("the next `limit` ids after X"): what a
// listing page costs is the page, not the number of auctions. Ids live in sorted chunks of at
// most CHUNK_MAX (a flat array of sorted chunks, B-tree style, one level): an insert or delete
// moves at most one chunk's worth of ids, and ids arriving in ascending order (generated ids)
// only append.

/** Ids per chunk before it splits in two; 4 KB of u32 per full chunk. */
const CHUNK_MAX = 1024;

export class SortedIds {
  /** Sorted, disjoint, each non-empty and in ascending order of their ids. */
  private chunks: Uint32Array[] = [];
  private lengths: number[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    const c = this.chunkFor(id);
    if (c < 0) return false;
    const at = lowerBound(this.chunks[c]!, this.lengths[c]!, id);
    return at < this.lengths[c]! && this.chunks[c]![at] === id;
  }

  /** Adds `id`; false when it was there already. */
  add(id: number): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push(new Uint32Array(CHUNK_MAX));
      this.lengths.push(0);
    }
    // The chunk whose range holds id, or the last one for an id above every other.
    let c = this.chunkFor(id);
    if (c < 0) c = 0;
    const chunk = this.chunks[c]!;
    const length = this.lengths[c]!;
    const at = lowerBound(chunk, length, id);
    if (at < length && chunk[at] === id) return false;
    chunk.copyWithin(at + 1, at, length);
    chunk[at] = id;
    this.lengths[c] = length + 1;
    this.count++;
    if (length + 1 === CHUNK_MAX) this.split(c);
    return true;
  }

  /** Removes `id`; false when it was not there. */
  delete(id: number): boolean {
    const c = this.chunkFor(id);
    if (c < 0) return false;
    const chunk = this.chunks[c]!;
    const length = this.lengths[c]!;
    const at = lowerBound(chunk, length, id);
    if (at >= length || chunk[at] !== id) return false;
    chunk.copyWithin(at, at + 1, length);
    this.lengths[c] = length - 1;
    this.count--;
    if (length === 1) {
      this.chunks.splice(c, 1);
      this.lengths.splice(c, 1);
    }
    return true;
  }

  /** Up to `limit` ids above `afterId` and at most `upTo`, ascending, for which `accept` is true. */
  after(afterId: number, limit: number, accept: (id: number) => boolean = () => true, upTo = Infinity): number[] {
    const out: number[] = [];
    let c = Math.max(this.chunkFor(afterId + 1), 0);
    let at = c < this.chunks.length ? lowerBound(this.chunks[c]!, this.lengths[c]!, afterId + 1) : 0;
    for (; c < this.chunks.length && out.length < limit; c++, at = 0) {
      const chunk = this.chunks[c]!;
      const length = this.lengths[c]!;
      for (; at < length && out.length < limit; at++) {
        const id = chunk[at]!;
        if (id > upTo) return out;
        if (accept(id)) out.push(id);
      }
    }
    return out;
  }

  /**
   * The index of the chunk whose range holds `id`: the last chunk whose first id is <= id, or
   * -1 when id is below every chunk (then chunk 0 is where it would go).
   */
  private chunkFor(id: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.chunks[mid]![0]! <= id) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private split(c: number): void {
    const chunk = this.chunks[c]!;
    const half = CHUNK_MAX >> 1;
    const upper = new Uint32Array(CHUNK_MAX);
    upper.set(chunk.subarray(half, CHUNK_MAX));
    this.lengths[c] = half;
    this.chunks.splice(c + 1, 0, upper);
    this.lengths.splice(c + 1, 0, CHUNK_MAX - half);
  }
}

/** The first index in chunk[0..length) whose id is >= id. */
function lowerBound(chunk: Uint32Array, length: number, id: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (chunk[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
