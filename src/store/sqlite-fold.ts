// Folds the SQLite store's bid log into durable per-auction state, off the bid path. The log
// (bid-log.ts) is what makes a batch one cheap append; left alone it would grow forever and be
// read whole at every start. A fold step takes the oldest log rows and, in ONE transaction,
// writes their bids into the indexed `bids` table (history reads use it), moves each open
// auction's row to its last folded bid (seq, amount, leader, ends_at), and deletes the rows. A
// kill at any moment leaves either the step done or not begun: nothing acknowledged is lost,
// and start-up reads only the log written since.

import type { Database, Statement } from "bun:sqlite";
import type { BidLocator } from "./bid-locator.ts";
import { entryCount, readLoggedBid, type LoggedBid } from "./bid-log.ts";

export const BIDS_SCHEMA = `
-- Every folded bid, clustered by (auction, seq): one auction's history is one range of pages.
CREATE TABLE IF NOT EXISTS bids (
  auction INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  user INTEGER NOT NULL,
  at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  -- StepBy: 0 placed by the bidder's own BID, 1 by a maximum (MAX_BID).
  by INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (auction, seq)
) WITHOUT ROWID;
`;

/** A step folds whole log rows until it holds at least this many bids (a batch is one row). */
export const FOLD_STEP_BIDS = 4_096;

export class BidLogFolder {
  private readonly oldestRow: Statement;
  private readonly insertBid: Statement;
  private readonly updateAuction: Statement;
  private readonly deleteRows: Statement;
  private readonly step: (rows: [number, Uint8Array][]) => void;

  constructor(
    db: Database,
    private readonly locator: BidLocator,
  ) {
    this.oldestRow = db.prepare("SELECT id, entries FROM bid_log WHERE id > ? ORDER BY id LIMIT 1");
    // The log is the truth for its bids: a row is deleted in the step that writes its bids.
    this.insertBid = db.prepare("INSERT OR REPLACE INTO bids (auction, seq, amount, user, at, ends_at, by) VALUES (?, ?, ?, ?, ?, ?, ?)");
    // A closed auction's row holds its final state already (written when it closed). A
    // TOP_ONLY entry repeats its auction's seq; the hidden maximum never decreases.
    this.updateAuction = db.prepare(
      "UPDATE auctions SET seq = ?, amount = ?, leader = ?, ends_at = ?, top = max(top, ?) WHERE id = ? AND closed = 0 AND seq <= ?",
    );
    this.deleteRows = db.prepare("DELETE FROM bid_log WHERE id <= ?");
    this.step = db.transaction((rows: [number, Uint8Array][]) => this.write(rows));
  }

  /**
   * Folds the oldest log rows holding at least FOLD_STEP_BIDS bids (or all that are left), in
   * one transaction; returns how many bids it folded (0: the log is empty). Throws when the
   * transaction fails (nothing of the step is written then; the next step tries again).
   */
  foldStep(): number {
    const rows: [number, Uint8Array][] = [];
    let bids = 0;
    let after = 0;
    while (bids < FOLD_STEP_BIDS) {
      const row = this.oldestRow.values(after)[0] as [number, Uint8Array] | undefined;
      if (row === undefined) break;
      rows.push(row);
      bids += entryCount(row[1]);
      after = row[0];
    }
    if (rows.length === 0) return 0;
    this.step(rows);
    // Committed: those bids are found in `bids` now, not in the log.
    const lastRow = rows[rows.length - 1]![0];
    for (const [, entries] of rows) for (let i = 0; i < entryCount(entries); i++) this.locator.dropThrough(readAuction(entries, i), lastRow);
    return Math.max(bids, 1);
  }

  private write(rows: [number, Uint8Array][]): void {
    const bids: LoggedBid[] = [];
    for (const [, entries] of rows) for (let i = 0; i < entryCount(entries); i++) bids.push(readLoggedBid(entries, i));
    // In key order: the inserts walk the B-tree once instead of jumping around it.
    bids.sort((a, b) => a.auction - b.auction || a.seq - b.seq);
    for (let i = 0; i < bids.length; i++) {
      const bid = bids[i]!;
      if (!bid.topOnly) this.insertBid.run(bid.auction, bid.seq, bid.amount, bid.user, bid.at, bid.endsAt, bid.by);
      // Sorted stably, so an auction's last entry is its newest, with its highest maximum.
      const lastOfAuction = i + 1 === bids.length || bids[i + 1]!.auction !== bid.auction;
      if (lastOfAuction) this.updateAuction.run(bid.seq, bid.amount, bid.user, bid.endsAt, bid.top, bid.auction, bid.seq);
    }
    this.deleteRows.run(rows[rows.length - 1]![0]);
  }

  finalize(): void {
    for (const statement of [this.oldestRow, this.insertBid, this.updateAuction, this.deleteRows]) statement.finalize();
  }
}

function readAuction(entries: Uint8Array, index: number): number {
  return readLoggedBid(entries, index).auction;
}
