// Lowe's memoization for the linearizability search: the configurations already explored, each a
// set of linearized operations and the model state it led to. A set is kept as its 96-bit
// Zobrist hash (three 32-bit words, XOR of one random triple per operation, updated in O(1) as
// operations are linearized and undone), not as a bitset: a history of 200,000 operations would
// otherwise copy 25 kB per step. Two different sets share a hash with odds near n^2 / 2^97.

/** The table starts this big (a power of two) and doubles at half full. */
const INITIAL_CAPACITY = 1 << 10;
/** Open addressing probes a run of slots; mixing the state keeps runs short. */
const GOLDEN = 0x9e3779b1;
const TWO_TO_32 = 0x1_0000_0000;

export class CacheFullError extends Error {
  override readonly name = "CacheFullError";
}

export class ConfigurationCache {
  private capacity = INITIAL_CAPACITY;
  private used = new Uint8Array(INITIAL_CAPACITY);
  private words = new Int32Array(INITIAL_CAPACITY * 3);
  private states = new Float64Array(INITIAL_CAPACITY);
  size = 0;

  /** @param maxEntries past this many configurations `add` throws CacheFullError (the search's memory bound). */
  constructor(private readonly maxEntries: number) {}

  /** Adds the configuration; false if it was already there. */
  add(h1: number, h2: number, h3: number, state: number): boolean {
    const mask = this.capacity - 1;
    let slot = this.slotOf(h1, h2, state) & mask;
    while (this.used[slot] === 1) {
      const w = slot * 3;
      if (this.words[w] === h1 && this.words[w + 1] === h2 && this.words[w + 2] === h3 && this.states[slot] === state) return false;
      slot = (slot + 1) & mask;
    }
    if (this.size >= this.maxEntries) throw new CacheFullError(`more than ${this.maxEntries} configurations`);
    this.put(slot, h1, h2, h3, state);
    if (this.size * 2 > this.capacity) this.grow();
    return true;
  }

  private slotOf(h1: number, h2: number, state: number): number {
    return (h1 ^ Math.imul(h2, GOLDEN) ^ Math.imul((state % TWO_TO_32) | 0, GOLDEN) ^ Math.floor(state / TWO_TO_32)) >>> 0;
  }

  private put(slot: number, h1: number, h2: number, h3: number, state: number): void {
    this.used[slot] = 1;
    this.words[slot * 3] = h1;
    this.words[slot * 3 + 1] = h2;
    this.words[slot * 3 + 2] = h3;
    this.states[slot] = state;
    this.size++;
  }

  private grow(): void {
    const { used, words, states, capacity } = this;
    this.capacity = capacity * 2;
    this.used = new Uint8Array(this.capacity);
    this.words = new Int32Array(this.capacity * 3);
    this.states = new Float64Array(this.capacity);
    this.size = 0;
    const mask = this.capacity - 1;
    for (let old = 0; old < capacity; old++) {
      if (used[old] !== 1) continue;
      const h1 = words[old * 3]!;
      const h2 = words[old * 3 + 1]!;
      let slot = this.slotOf(h1, h2, states[old]!) & mask;
      while (this.used[slot] === 1) slot = (slot + 1) & mask;
      this.put(slot, h1, h2, words[old * 3 + 2]!, states[old]!);
    }
  }
}
