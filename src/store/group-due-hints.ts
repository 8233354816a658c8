// Which shard groups the Redis closer reads on a tick. Reading every group's `:ends` four times a
// second cost an idle node about half its CPU (16 reads a tick, each a command, a timer and
// promises); instead a group is read when it may hold an auction due, as far as this node
// knows, and at least every `recheckMs` for what only Redis knows (auctions other nodes created).
//
// What this node knows: what each read of the group showed up to `recheckMs` ahead, the auctions
// it created, and the end of every auction its bids touched (a buy-now ends one at once). A
// node that created an auction closes it on time; another learns of it within `recheckMs`.

export class GroupDueHints {
  /** Per group, the earliest moment it may hold a due auction (0: read it on the next tick). */
  private readonly next: Float64Array;
  /** Per group, the earliest end noted while a read of it was in flight (Infinity: none). */
  private readonly notedDuringRead: Float64Array;

  constructor(
    groups: number,
    /** How far ahead a read looks, and so the longest a group goes unread. */
    readonly recheckMs: number,
  ) {
    this.next = new Float64Array(groups);
    this.notedDuringRead = new Float64Array(groups).fill(Infinity);
  }

  /** The group may hold an auction ending at or before `upTo`: read it. */
  mayHoldDue(group: number, upTo: number): boolean {
    return this.next[group]! <= upTo;
  }

  /** An auction of the group ends at `endsAt` (created, or touched by a bid, on this node). */
  note(group: number, endsAt: number): void {
    if (endsAt < this.next[group]!) this.next[group] = endsAt;
    if (endsAt < this.notedDuringRead[group]!) this.notedDuringRead[group] = endsAt;
  }

  /** A read of the group starts: ends noted from now on must survive its result. */
  beginRead(group: number): void {
    this.notedDuringRead[group] = Infinity;
  }

  /** The read found nothing due before `nextDue` (the earliest end it saw, or its horizon). */
  endRead(group: number, nextDue: number): void {
    this.next[group] = Math.min(nextDue, this.notedDuringRead[group]!);
  }

  /** What the group holds is unknown (a failed read or close): read it on the next tick. */
  forget(group: number): void {
    this.next[group] = 0;
  }
}
