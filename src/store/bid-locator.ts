// Where each auction's accepted bids sit in the SQLite bid log, held in memory: for each
// (auction, seq) the log row and the bid's index in it, one 8-byte number a bid, rebuilt from
// the log at start-up. (An index on a per-bid table, the obvious alternative, cost 10x in
// throughput: bids of a thousand auctions land all over its B-tree.)

const INITIAL_CAPACITY = 8;
/** A location is row * ROW_STRIDE + index; a batch (one row) holds at most 65,536 bids. */
const ROW_STRIDE = 65_536;

export interface BidLocation {
  row: number;
  index: number;
}

class Locations {
  length = 0;
  codes = new Float64Array(INITIAL_CAPACITY);

  push(code: number): void {
    if (this.length === this.codes.length) {
      const grown = new Float64Array(this.codes.length * 2);
      grown.set(this.codes);
      this.codes = grown;
    }
    this.codes[this.length++] = code;
  }
}

function decode(code: number): BidLocation {
  return { row: Math.floor(code / ROW_STRIDE), index: code % ROW_STRIDE };
}

export class BidLocator {
  private readonly byAuction = new Map<number, Locations>();

  /** Records where `auction`'s bid with seq `seq` is; seqs arrive 1, 2, 3, ... */
  add(auction: number, seq: number, row: number, index: number): void {
    let locations = this.byAuction.get(auction);
    if (locations === undefined) this.byAuction.set(auction, (locations = new Locations()));
    if (seq === locations.length + 1) locations.push(row * ROW_STRIDE + index);
  }

  /** Locations of seqs afterSeq+1 .. afterSeq+limit, oldest first. */
  after(auction: number, afterSeq: number, limit: number): BidLocation[] {
    const locations = this.byAuction.get(auction);
    if (locations === undefined) return [];
    const out: BidLocation[] = [];
    for (let seq = Math.max(afterSeq, 0) + 1; seq <= locations.length && out.length < limit; seq++) out.push(decode(locations.codes[seq - 1]!));
    return out;
  }

  /** Locations of seqs below beforeSeq, newest first. */
  newestFirst(auction: number, beforeSeq: number, limit: number): BidLocation[] {
    const locations = this.byAuction.get(auction);
    if (locations === undefined) return [];
    const out: BidLocation[] = [];
    for (let seq = Math.min(beforeSeq - 1, locations.length); seq >= 1 && out.length < limit; seq--) out.push(decode(locations.codes[seq - 1]!));
    return out;
  }

  /** Forgets what was recorded past `seq` (a batch that rolled back). */
  truncate(auction: number, seq: number): void {
    const locations = this.byAuction.get(auction);
    if (locations !== undefined && locations.length > seq) locations.length = seq;
  }
}
