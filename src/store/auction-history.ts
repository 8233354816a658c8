// The in-process bid history of one auction, for the memory store: columns that grow by
// doubling, so recording an accepted bid allocates nothing in the steady state.

import type { HistoryEntry } from "./store.ts";

const INITIAL_CAPACITY = 16;

export class AuctionHistory {
  private length = 0;
  private amount = new Float64Array(INITIAL_CAPACITY);
  private user = new Uint32Array(INITIAL_CAPACITY);
  private at = new Float64Array(INITIAL_CAPACITY);
  private endsAt = new Float64Array(INITIAL_CAPACITY);

  /** Appends the bid that made seq `length + 1`. */
  record(amount: number, user: number, at: number, endsAt: number): void {
    if (this.length === this.amount.length) this.grow();
    const i = this.length++;
    this.amount[i] = amount;
    this.user[i] = user;
    this.at[i] = at;
    this.endsAt[i] = endsAt;
  }

  /** seq runs 1..length, so entry seq s sits at index s - 1. */
  entry(seq: number): HistoryEntry {
    const i = seq - 1;
    return { seq, amount: this.amount[i]!, user: this.user[i]!, at: this.at[i]!, endsAt: this.endsAt[i]! };
  }

  after(afterSeq: number, limit: number): HistoryEntry[] {
    const entries: HistoryEntry[] = [];
    for (let seq = Math.max(afterSeq, 0) + 1; seq <= this.length && entries.length < limit; seq++) entries.push(this.entry(seq));
    return entries;
  }

  newestFirst(beforeSeq: number, limit: number): HistoryEntry[] {
    const entries: HistoryEntry[] = [];
    for (let seq = Math.min(beforeSeq - 1, this.length); seq >= 1 && entries.length < limit; seq--) entries.push(this.entry(seq));
    return entries;
  }

  private grow(): void {
    const size = this.amount.length * 2;
    const amount = new Float64Array(size);
    amount.set(this.amount);
    const user = new Uint32Array(size);
    user.set(this.user);
    const at = new Float64Array(size);
    at.set(this.at);
    const endsAt = new Float64Array(size);
    endsAt.set(this.endsAt);
    this.amount = amount;
    this.user = user;
    this.at = at;
    this.endsAt = endsAt;
  }
}
