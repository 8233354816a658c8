// The growth benchmark's SQLite store: a loader that writes the rows the real server writes
// (its own schema, created by opening the store; auctions as closing and the fold leave them;
// every bid in the folded `bids` table, as the fold leaves it once it caught up) straight into
// a file, and the move of the ending auctions' ends_at between two starts (the server holds the
// file's lock while it runs).
//
// One transaction per LOAD_CHUNK rows, synchronous=OFF while loading (a crash means loading
// again), auctions in id order, bids in (auction, seq) order so both B-trees only append.

import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { plannedAuction, plannedBid, type GrowthPlan } from "./plan.ts";
import type { GrowthStore, Loaded } from "./growth-store.ts";

const LOAD_CHUNK = 100_000;

export class SqliteGrowthStore implements GrowthStore {
  readonly kind = "sqlite";
  readonly sidecars = [];
  private readonly dir: string | null;
  readonly path: string;

  /** `path`: the database file to write (kept); without it, a temp dir removed by close(). */
  constructor(
    path: string | undefined,
    private readonly keep: boolean,
  ) {
    this.dir = path === undefined ? mkdtempSync(join(tmpdir(), "gavel-growth-")) : null;
    this.path = path ?? join(this.dir!, "gavel.db");
  }

  get where(): string {
    return this.path;
  }

  async load(plan: GrowthPlan): Promise<Loaded> {
    // The server's own schema.
    await new SqliteStore({ path: this.path }).close();
    const db = new Database(this.path, { strict: true });
    db.exec("PRAGMA synchronous = OFF");
    // Columns named: the schema grows (a later column keeps its default here).
    const insertAuction = db.prepare(
      "INSERT INTO auctions (id, title, starting_price, min_increment, reserve, buy_now_price, starts_at, ends_at, anti_snipe_ms, max_ends_at, seq, amount, leader, closed, winner, top) " +
        "VALUES (?, ?, ?, ?, 0, 0, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?)",
    );
    const insertBid = db.prepare("INSERT INTO bids (auction, seq, amount, user, at, ends_at) VALUES (?, ?, ?, ?, ?, ?)");
    const open: number[] = [];
    let rows = 0;
    db.exec("BEGIN");
    for (let id = 1; id <= plan.auctions; id++) {
      const a = plannedAuction(plan, id);
      for (let s = 1; s <= a.seq; s++) {
        const bid = plannedBid(a, s);
        insertBid.run(id, s, bid.amount, bid.user, bid.at, a.endsAt);
        if (++rows % LOAD_CHUNK === 0) db.exec("COMMIT; BEGIN");
      }
      // The leader's maximum is the amount: every bid here is a plain BID.
      insertAuction.run(id, a.title, a.startingPrice, a.minIncrement, a.startsAt, a.endsAt, a.seq, a.amount, a.leader, a.closed ? 1 : 0, a.winner, a.amount);
      if (++rows % LOAD_CHUNK === 0) db.exec("COMMIT; BEGIN");
      if (a.open && !a.scheduled) open.push(id);
    }
    db.exec("COMMIT");
    insertAuction.finalize();
    insertBid.finalize();
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    return { open };
  }

  serverEnv(): Record<string, string> {
    return { GAVEL_DB: this.path };
  }

  async moveEnds(ids: readonly number[], endsAt: (i: number) => number): Promise<void> {
    const db = new Database(this.path, { strict: true });
    const setEnd = db.prepare("UPDATE auctions SET ends_at = ? WHERE id = ?");
    db.transaction(() => ids.forEach((id, i) => setEnd.run(endsAt(i), id)))();
    setEnd.finalize();
    db.close();
  }

  async close(): Promise<void> {
    if (this.dir !== null && !this.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
