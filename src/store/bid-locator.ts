// Where each auction's accepted bids sit in SQLite's `bids` table, held in memory.
// An index on bids (auction, seq) costs ~10x in throughput: bids of a thousand auctions land
// all over its B-tree, and every batch rewrites most of its pages into the WAL. So the table
// is appended to by rowid only, and this remembers the rowid of each (auction, seq): 8 bytes a
// bid, rebuilt from the table at start-up.

const INITIAL_CAPACITY = 8;

class RowIds {
  length = 0;
  ids = new Float64Array(INITIAL_CAPACITY);

  push(id: number): void {
    if (this.length === this.ids.length) {
      const grown = new Float64Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.length++] = id;
  }
}

export class BidLocator {
  private readonly byAuction = new Map<number, RowIds>();

  /** Records that `auction`'s bid with seq `seq` is row `rowId`; seqs arrive 1, 2, 3, ... */
  add(auction: number, seq: number, rowId: number): void {
    let rows = this.byAuction.get(auction);
    if (rows === undefined) this.byAuction.set(auction, (rows = new RowIds()));
    // Rows are recorded in seq order; a seq already known (a replayed start-up) is skipped.
    if (seq === rows.length + 1) rows.push(rowId);
  }

  /** Row ids of seqs afterSeq+1 .. afterSeq+limit, oldest first. */
  after(auction: number, afterSeq: number, limit: number): number[] {
    const rows = this.byAuction.get(auction);
    if (rows === undefined) return [];
    const out: number[] = [];
    for (let seq = Math.max(afterSeq, 0) + 1; seq <= rows.length && out.length < limit; seq++) out.push(rows.ids[seq - 1]!);
    return out;
  }

  /** Row ids of seqs below beforeSeq, newest first. */
  newestFirst(auction: number, beforeSeq: number, limit: number): number[] {
    const rows = this.byAuction.get(auction);
    if (rows === undefined) return [];
    const out: number[] = [];
    for (let seq = Math.min(beforeSeq - 1, rows.length); seq >= 1 && out.length < limit; seq--) out.push(rows.ids[seq - 1]!);
    return out;
  }

  /** Forgets what was recorded past `seq` (a batch that rolled back). */
  truncate(auction: number, seq: number): void {
    const rows = this.byAuction.get(auction);
    if (rows !== undefined && rows.length > seq) rows.length = seq;
  }
}
