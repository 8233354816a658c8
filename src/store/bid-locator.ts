// Where each auction's accepted bids sit in the SQLite bid log, held in memory: for each
// (auction, seq) still in the log, the log row and the bid's index in it, one 8-byte number a
// bid. Only the log written since the last fold is here: the fold (sqlite-fold.ts) moves older
// bids into the indexed `bids` table and drops them from the log and from here, so this holds
// what the last few moments accepted, not every bid ever. (Indexing each bid as it is
// accepted, the obvious alternative, cost 10x in throughput: bids of a thousand auctions land
// all over the B-tree. The fold writes them in bulk, sorted, off the bid path.)

const INITIAL_CAPACITY = 8;
/** A location is row * ROW_STRIDE + index; a batch (one row) holds at most 65,536 bids. */
const ROW_STRIDE = 65_536;

export interface BidLocation {
  row: number;
  index: number;
}

/** One auction's bids in the log: seqs firstSeq .. firstSeq + length - 1. */
class Locations {
  length = 0;
  codes = new Float64Array(INITIAL_CAPACITY);

  constructor(public firstSeq: number) {}

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

  /** Records where `auction`'s bid with seq `seq` is; an auction's seqs arrive in order, without gaps. */
  add(auction: number, seq: number, row: number, index: number): void {
    let locations = this.byAuction.get(auction);
    if (locations === undefined) this.byAuction.set(auction, (locations = new Locations(seq)));
    if (seq === locations.firstSeq + locations.length) locations.push(row * ROW_STRIDE + index);
  }

  /** The lowest seq of `auction` still in the log (Infinity when none): lower ones are folded. */
  firstSeq(auction: number): number {
    return this.byAuction.get(auction)?.firstSeq ?? Infinity;
  }

  /** Locations of seqs afterSeq+1 .. afterSeq+limit that are in the log, oldest first. */
  after(auction: number, afterSeq: number, limit: number): BidLocation[] {
    const locations = this.byAuction.get(auction);
    if (locations === undefined) return [];
    const out: BidLocation[] = [];
    const last = locations.firstSeq + locations.length - 1;
    for (let seq = Math.max(afterSeq + 1, locations.firstSeq); seq <= last && out.length < limit; seq++) {
      out.push(decode(locations.codes[seq - locations.firstSeq]!));
    }
    return out;
  }

  /** Locations of seqs below beforeSeq that are in the log, newest first. */
  newestFirst(auction: number, beforeSeq: number, limit: number): BidLocation[] {
    const locations = this.byAuction.get(auction);
    if (locations === undefined) return [];
    const out: BidLocation[] = [];
    const last = locations.firstSeq + locations.length - 1;
    for (let seq = Math.min(beforeSeq - 1, last); seq >= locations.firstSeq && out.length < limit; seq--) {
      out.push(decode(locations.codes[seq - locations.firstSeq]!));
    }
    return out;
  }

  /** Forgets what was recorded past `seq` (a batch that rolled back). */
  truncate(auction: number, seq: number): void {
    const locations = this.byAuction.get(auction);
    if (locations === undefined) return;
    const keep = Math.max(seq - locations.firstSeq + 1, 0);
    if (locations.length > keep) locations.length = keep;
    if (locations.length === 0) this.byAuction.delete(auction);
  }

  /** Forgets every location in log rows up to `row` (they were folded and deleted). */
  dropThrough(auction: number, row: number): void {
    const locations = this.byAuction.get(auction);
    if (locations === undefined) return;
    const limit = (row + 1) * ROW_STRIDE;
    let drop = 0;
    while (drop < locations.length && locations.codes[drop]! < limit) drop++;
    if (drop === locations.length) {
      this.byAuction.delete(auction);
      return;
    }
    locations.codes.copyWithin(0, drop, locations.length);
    locations.length -= drop;
    locations.firstSeq += drop;
  }

  /** Auctions with bids in the log (a measure of what it holds). */
  get auctions(): number {
    return this.byAuction.size;
  }
}
