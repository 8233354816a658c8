// The embedded, durable store: bun:sqlite in WAL mode, one transaction per drain batch.
// The auctions live in an in-process AuctionTable (the same rule as the memory store); a lock
// the kernel drops when the process dies makes this process the file's only server
// (sqlite-lock.ts), so no other server changes it behind the table's back, and a worker thread
// checkpoints its WAL (sqlite-checkpointer.ts). Each batch's accepted bids are appended as ONE
// row of the bid log (bid-log.ts); an open
// auction's seq, amount, leader and ends_at are those of its last logged bid, so a batch writes
// no per-auction UPDATE. A batch's replies go out only after its commit.
//
// Faults: a failed write (disk full, I/O error) rolls the table back to the file and is
// answered UNAVAILABLE (503 on the admin API) until a write succeeds again. The database or
// its lock file deleted or replaced while running stops every write for good (a rescue copy of
// what the file held is written beside it): acknowledging into an unlinked file would lose it.

import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { AuctionState, IncrementRow } from "../auction/auction.ts";
import type { Phase } from "../protocol/constants.ts";
import { AuctionTable, closedFields, type ClosedOnDisk } from "./memory.ts";
import { ClosedCache } from "./closed-cache.ts";
import type { CancelResult, ClosedAuction, CreateResult, HistoryEntry, NewAuction, Store, StoreBatch } from "./store.ts";
import { StoreError, StoreRefusedError, StoreUnavailableError } from "./errors.ts";
import { BidLocator, type BidLocation } from "./bid-locator.ts";
import { BidLogWriter, entryCount, LogFlag, readLoggedBid, upgradeLogRowV2 } from "./bid-log.ts";
import { stepBy, type BidKind } from "../auction/bid-rule.ts";
import { StepBy } from "../auction/auction.ts";
import type { Status } from "../protocol/constants.ts";
import { SqliteCheckpointer } from "./sqlite-checkpointer.ts";
import { BIDS_SCHEMA, BidLogFolder } from "./sqlite-fold.ts";
import { Retention } from "./retention.ts";
import { SqliteFileLock } from "./sqlite-lock.ts";
import { FileIdentity } from "./sqlite-file-identity.ts";
import type { LogSink } from "../log/log-sink.ts";
import { notifyClose } from "../auction/notification.ts";
import { OUTBOX_SCHEMA, SqliteOutbox } from "./outbox-sqlite.ts";

/** The largest drain batch (GAVEL_BATCH's upper bound): one log row holds one batch. */
const MAX_BATCH = 65_536;
/** How often the fold (sqlite-fold.ts) runs, and how long one run may hold the event loop. */
const FOLD_INTERVAL_MS = 50;
/** The fold waits until no batch has been written for this long (bids are flowing otherwise). */
const FOLD_IDLE_MS = 200;
/** Past this many bids in the log, it folds one step per interval even while bids flow. */
const MAX_UNFOLDED_BIDS = 2_000_000;
const FOLD_BUDGET_MS = 8;
/** How often the store checks that its paths still name the files it opened (one stat each). */
const FILE_CHECK_INTERVAL_MS = 250;

/**
 * The file's layout, in PRAGMA user_version. 0: a file from before it was kept; 1: auctions and
 * bid_log; 2: also the folded `bids` history (an older build would not read it, so it must refuse
 * the file); 3: also the webhook `outbox` (outbox-sqlite.ts: an older build would leave its
 * events undelivered); 4: proxy bidding and increment tables: `auctions.top` (the leader's
 * hidden maximum) and `auctions.increments`, `bids.by`, and 45-byte bid log entries
 * (bid-log.ts). Steps 1 to 3 only add tables and indexes; step 4 is {@link migrateToV4}. All run
 * at open, in one transaction with the version bump.
 */
export const SCHEMA_VERSION = 4;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS auctions (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  starting_price INTEGER NOT NULL,
  min_increment INTEGER NOT NULL,
  reserve INTEGER NOT NULL,
  buy_now_price INTEGER NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  anti_snipe_ms INTEGER NOT NULL,
  max_ends_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  leader INTEGER NOT NULL,
  closed INTEGER NOT NULL,
  winner INTEGER NOT NULL,
  -- The leader's hidden maximum (proxy bidding): never read out but to restore the auction.
  top INTEGER NOT NULL DEFAULT 0,
  -- The increment table as JSON [{"from","step"}...], or NULL: min_increment at every price.
  increments TEXT
);
-- One row per drain batch: its accepted bids packed back to back (bid-log.ts). For an open
-- auction, seq/amount/leader/ends_at above are as of its last folded bid (sqlite-fold.ts); a
-- later bid still in the log is the truth. Closing and cancel write the final values there.
-- Start-up reads the open and scheduled auctions only.
CREATE INDEX IF NOT EXISTS auctions_open ON auctions(id) WHERE closed = 0;
-- Retention (GAVEL_RETENTION) deletes the closed auctions that ended longest ago first.
CREATE INDEX IF NOT EXISTS auctions_closed_ends ON auctions(ends_at) WHERE closed = 1;
CREATE TABLE IF NOT EXISTS bid_log (
  id INTEGER PRIMARY KEY,
  entries BLOB NOT NULL
);
`;

interface AuctionRow {
  id: number;
  title: string;
  starting_price: number;
  min_increment: number;
  reserve: number;
  buy_now_price: number;
  starts_at: number;
  ends_at: number;
  anti_snipe_ms: number;
  max_ends_at: number;
  seq: number;
  amount: number;
  leader: number;
  closed: number;
  winner: number;
  top: number;
  increments: string | null;
}

const LOG_ROWS_BY_IDS = "SELECT id, entries FROM bid_log WHERE id IN (SELECT value FROM json_each(?))";

function rowToAuction(row: AuctionRow): AuctionState {
  return {
    id: row.id,
    title: row.title,
    startingPrice: row.starting_price,
    minIncrement: row.min_increment,
    reserve: row.reserve,
    buyNowPrice: row.buy_now_price,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    antiSnipeMs: row.anti_snipe_ms,
    maxEndsAt: row.max_ends_at,
    seq: row.seq,
    amount: row.amount,
    leader: row.leader,
    closed: row.closed !== 0,
    winner: row.winner,
    top: row.top,
    ...(row.increments === null ? {} : { increments: JSON.parse(row.increments) as IncrementRow[] }),
  };
}

/** The named parameters of INSERT INTO auctions. */
function auctionParams(a: AuctionState): Record<string, string | number | null> {
  return {
    id: a.id,
    title: a.title,
    startingPrice: a.startingPrice,
    minIncrement: a.minIncrement,
    reserve: a.reserve,
    buyNowPrice: a.buyNowPrice,
    startsAt: a.startsAt,
    endsAt: a.endsAt,
    antiSnipeMs: a.antiSnipeMs,
    maxEndsAt: a.maxEndsAt,
    seq: a.seq,
    amount: a.amount,
    leader: a.leader,
    closed: a.closed ? 1 : 0,
    winner: a.winner,
    top: a.top,
    increments: a.increments === undefined || a.increments.length === 0 ? null : JSON.stringify(a.increments),
  };
}

/**
 * Schema 3 (or before) to 4, in one transaction with the version bump, so a file is either
 * wholly one or the other: the new columns (every stored lead came from a plain BID, so its
 * maximum is its amount), and every unfolded bid log row rewritten in the 45-byte layout.
 */
function migrateToV4(db: Database): void {
  const columns = (table: string) => new Set((db.query(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
  const auctions = columns("auctions");
  if (!auctions.has("top")) {
    db.exec("ALTER TABLE auctions ADD COLUMN top INTEGER NOT NULL DEFAULT 0");
    db.exec("UPDATE auctions SET top = amount");
  }
  if (!auctions.has("increments")) db.exec("ALTER TABLE auctions ADD COLUMN increments TEXT");
  if (!columns("bids").has("by")) db.exec("ALTER TABLE bids ADD COLUMN by INTEGER NOT NULL DEFAULT 0");
  const rows = db.query("SELECT id, entries FROM bid_log ORDER BY id").values() as [number, Uint8Array][];
  const rewrite = db.prepare("UPDATE bid_log SET entries = ? WHERE id = ?");
  for (const [id, entries] of rows) rewrite.run(upgradeLogRowV2(entries), id);
  rewrite.finalize();
}

export interface SqliteStoreOptions {
  /** File path, or ":memory:". */
  path: string;
  /** Where faults are reported (the file deleted, writes failing); console.error by default. */
  log?: LogSink;
  /** The highest auction id the store hands out (1..2^32-1 by default; tests use a small one). */
  maxAuctionId?: number;
  /** Closed auctions whose ends_at is older than this many ms are deleted (0: kept). */
  retentionMs?: number;
  /** Write webhook events to the outbox table (GAVEL_WEBHOOK_URL is set). */
  webhooks?: boolean;
}

export class SqliteStore implements Store {
  readonly kind = "sqlite";
  private readonly db: Database;
  private readonly table: AuctionTable;
  private readonly insertAuction: Statement;
  private readonly appendLog: Statement;
  private readonly markClosed: Statement;
  private readonly logRowsByIds: Statement;
  private readonly auctionById: Statement<AuctionRow, [number]>;
  private readonly closedPage: Statement<AuctionRow, [number, number]>;
  private readonly bidsAfter: Statement<HistoryEntry, [number, number, number]>;
  private readonly bidsBefore: Statement<HistoryEntry, [number, number, number]>;
  private readonly folder: BidLogFolder;
  private foldTimer: ReturnType<typeof setInterval> | null = null;
  /** Why the last fold step failed, logged once per run of failures. */
  private foldFailing = false;
  private readonly retention: Retention | null;
  private readonly expired: Statement<{ id: number }, [number, number]>;
  private readonly deleteAuction: (id: number) => void;
  private readonly deleteStatements: Statement[];
  /** Closed auctions live on disk; the last ones closed or read are held here too. */
  private readonly closedCache = new ClosedCache();
  /** How many closed auctions the file holds (ids the table does not hold but are taken). */
  private closedCount = 0;
  private readonly bidLocator = new BidLocator();
  private readonly logWriter = new BidLogWriter(MAX_BATCH);
  private readonly path: string;
  private readonly checkpointer: Promise<SqliteCheckpointer | null>;
  /** Id of the last log row; this process is the only writer (sqlite-lock.ts). */
  private lastLogRow = 0;
  /** Bids in the log not folded yet (the fold's backlog). */
  private unfoldedBids = 0;
  /** When the last batch was applied (performance.now()): the fold waits while bids flow. */
  private lastBatchAt = 0;
  private readonly writeBatch: (batch: StoreBatch, now: number) => void;
  private readonly log: LogSink;
  private readonly lock: SqliteFileLock | null = null;
  /** The database and lock paths as opened, checked every FILE_CHECK_INTERVAL_MS. */
  private readonly watched: FileIdentity[] = [];
  private watchTimer: ReturnType<typeof setInterval> | null = null;
  /** Why writes are refused for good (the file is gone, or the table no longer matches it). */
  private refusal: StoreRefusedError | null = null;
  /** Why the last write failed (disk full, I/O error); cleared by the next that succeeds. */
  private writeFailure: string | null = null;
  private closed = false;
  /** Webhooks on: the outbox table, written inside each transaction that causes an event. */
  readonly outbox?: SqliteOutbox;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.log = options.log ?? console.error;
    // The table holds the working set (open and scheduled); closed auctions are read from disk.
    const closedOnDisk: ClosedOnDisk = {
      get: (id) => this.readClosed(id),
      has: (id) => this.readClosed(id) !== null,
      count: () => this.closedCount,
    };
    this.table = new AuctionTable(options.maxAuctionId, false, closedOnDisk);
    const onDisk = options.path !== ":memory:";
    if (onDisk) {
      mkdirSync(dirname(options.path), { recursive: true });
      // Locked before the file is even opened: a refused server changes nothing in it.
      try {
        this.lock = SqliteFileLock.acquire(options.path);
      } catch (error) {
        throw new StoreError(`cannot use the SQLite database at GAVEL_DB=${options.path}: ${(error as Error).message}`, { cause: error });
      }
    }
    try {
      this.db = new Database(options.path, { create: true, strict: true });
      // WAL: a commit is one sequential append; NORMAL sync survives a killed process (the OS
      // still holds the pages), FULL would add an fsync per batch for power loss.
      this.db.exec("PRAGMA journal_mode = WAL");
      this.db.exec("PRAGMA synchronous = NORMAL");
      this.db.exec("PRAGMA busy_timeout = 5000");
      // Checkpoints happen on a worker thread (sqlite-checkpointer.ts), not inside commits.
      this.db.exec("PRAGMA wal_autocheckpoint = 0");
      const version = (this.db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      if (version > SCHEMA_VERSION) throw new Error(`its schema version is ${version}, newer than this build's ${SCHEMA_VERSION}: run the Gavel release that wrote it, or a newer one`);
      // Written only when it changes: a write at every open would refuse to start on a full disk.
      if (version !== SCHEMA_VERSION) {
        this.db.transaction(() => {
          this.db.exec(SCHEMA);
          this.db.exec(BIDS_SCHEMA);
          // Step 3: the webhook outbox.
          this.db.exec(OUTBOX_SCHEMA);
          migrateToV4(this.db);
          this.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
        })();
      }
    } catch (error) {
      this.lock?.release();
      throw new StoreError(`cannot open the SQLite database at GAVEL_DB=${options.path}: ${(error as Error).message}`, { cause: error });
    }
    if (this.lock !== null) {
      this.watched.push(new FileIdentity(options.path, "the SQLite database (GAVEL_DB)"), new FileIdentity(this.lock.path, "its lock file"));
      this.watchTimer = setInterval(() => this.checkFiles(), FILE_CHECK_INTERVAL_MS);
      this.watchTimer.unref();
    }
    this.checkpointer =
      options.path === ":memory:"
        ? Promise.resolve(null)
        : SqliteCheckpointer.start(options.path).catch(() => {
            // No worker thread: checkpoint inside commits, in many small steps (measured at
            // 850k bids/s offered: p99 2.3 ms with 128 pages, 8.1 ms with SQLite's 1000).
            this.db.exec("PRAGMA wal_autocheckpoint = 128");
            return null;
          });
    this.insertAuction = this.db.prepare(
      `INSERT INTO auctions (id, title, starting_price, min_increment, reserve, buy_now_price, starts_at, ends_at,
        anti_snipe_ms, max_ends_at, seq, amount, leader, closed, winner, top, increments)
       VALUES ($id, $title, $startingPrice, $minIncrement, $reserve, $buyNowPrice, $startsAt, $endsAt,
        $antiSnipeMs, $maxEndsAt, $seq, $amount, $leader, $closed, $winner, $top, $increments)`,
    );
    this.appendLog = this.db.prepare("INSERT INTO bid_log (id, entries) VALUES (?, ?)");
    this.markClosed = this.db.prepare("UPDATE auctions SET closed = 1, winner = ?, ends_at = ?, seq = ?, amount = ?, leader = ? WHERE id = ?");
    this.logRowsByIds = this.db.prepare(LOG_ROWS_BY_IDS);
    this.auctionById = this.db.prepare<AuctionRow, [number]>("SELECT * FROM auctions WHERE id = ?");
    // Keyset paging on the primary key: a page reads the page.
    this.closedPage = this.db.prepare<AuctionRow, [number, number]>("SELECT * FROM auctions WHERE closed = 1 AND id > ? ORDER BY id LIMIT ?");
    const bidColumns = "seq, amount, user, at, ends_at AS endsAt, by";
    this.bidsAfter = this.db.prepare<HistoryEntry, [number, number, number]>(`SELECT ${bidColumns} FROM bids WHERE auction = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.bidsBefore = this.db.prepare<HistoryEntry, [number, number, number]>(`SELECT ${bidColumns} FROM bids WHERE auction = ? AND seq < ? ORDER BY seq DESC LIMIT ?`);
    this.folder = new BidLogFolder(this.db, this.bidLocator);
    if (options.webhooks === true) {
      this.outbox = new SqliteOutbox(this.db);
      this.table.notifications = this.outbox;
    }
    this.expired = this.db.prepare<{ id: number }, [number, number]>("SELECT id FROM auctions WHERE closed = 1 AND ends_at <= ? ORDER BY ends_at LIMIT ?");
    const deleteBids = this.db.prepare("DELETE FROM bids WHERE auction = ?");
    const deleteRow = this.db.prepare("DELETE FROM auctions WHERE id = ? AND closed = 1");
    this.deleteStatements = [deleteBids, deleteRow];
    // One transaction per auction: its row and its whole history go together, or neither.
    this.deleteAuction = this.db.transaction((id: number) => {
      deleteBids.run(id);
      deleteRow.run(id);
    });
    this.load();
    this.retention = Retention.start(options.retentionMs ?? 0, (cutoff, limit) => this.retire(cutoff, limit), Date.now, (error) =>
      this.log(`gavel: warning: deleting closed auctions past GAVEL_RETENTION failed (${error.message}); retried in a moment`),
    );
    this.armFold();
    this.writeBatch = this.db.transaction((batch: StoreBatch, now: number) => this.applyInTransaction(batch, now));
  }

  /** Reads the working set into the table (start-up): open and scheduled auctions, then the log. */
  private load(): void {
    const auctions = this.db.prepare<AuctionRow, []>("SELECT * FROM auctions WHERE closed = 0");
    for (const row of auctions.iterate()) this.table.put(rowToAuction(row));
    auctions.finalize();
    const counts = this.db.prepare("SELECT max(id), (SELECT count(*) FROM auctions WHERE closed = 1) FROM auctions");
    const [highest, closed] = counts.values()[0] as [number | null, number];
    counts.finalize();
    if (highest !== null) this.table.noteId(highest);
    this.closedCount = closed;
    const log = this.db.prepare("SELECT id, entries FROM bid_log ORDER BY id");
    for (const row of log.values()) {
      const [id, entries] = row as [number, Uint8Array];
      this.unfoldedBids += entryCount(entries);
      for (let index = 0; index < entryCount(entries); index++) {
        const bid = readLoggedBid(entries, index);
        if (!bid.topOnly) this.bidLocator.add(bid.auction, bid.seq, id, index);
        const auction = this.table.auctions.get(bid.auction);
        // A closed auction's row already holds its final state (written when it closed). A
        // TOP_ONLY entry repeats its step's seq: only its maximum is news.
        if (auction !== undefined && !auction.closed && (bid.seq > auction.seq || (bid.topOnly && bid.seq === auction.seq))) {
          auction.seq = bid.seq;
          auction.amount = bid.amount;
          auction.leader = bid.user;
          auction.endsAt = bid.endsAt;
          auction.top = Math.max(auction.top, bid.top);
        }
      }
      this.lastLogRow = id;
    }
    log.finalize();
  }

  applyBids(batch: StoreBatch): void {
    // Thrown, the drain answers the whole batch UNAVAILABLE.
    if (this.refusal !== null) throw this.refusal;
    const now = Date.now();
    try {
      this.writeBatch(batch, now);
    } catch (error) {
      this.recoverFromFailedBatch(error as Error);
      throw new StoreUnavailableError("the batch's transaction rolled back: nothing of it was stored", { cause: error });
    }
    if (this.writeFailure !== null) this.writesSucceedAgain();
  }

  /** A batch's commit failed: the file has none of it; make the table say the same. */
  private recoverFromFailedBatch(error: Error): void {
    // A file deleted or replaced under us is the likeliest cause: say so, rather than the symptom
    // (the watcher would have noticed within FILE_CHECK_INTERVAL_MS anyway).
    if (this.refusal === null) this.checkFiles();
    try {
      // SQLite rolls back by itself on a full disk or an I/O error, but not on every error.
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      this.rollBackTable();
      this.outbox?.recount();
    } catch (restoreError) {
      // Already refused (the file changed): that reason stands, and writes stay refused.
      if (this.refusal !== null) return;
      this.refuse(
        `after a failed write (${error.message}) the auctions in memory could not be matched to the file again (${(restoreError as Error).message}); restart the server`,
      );
      return;
    }
    if (this.refusal === null) this.noteWriteFailure(error);
  }

  /** Logs the first failure of a run of failed writes (not one line per batch). */
  private noteWriteFailure(error: Error): void {
    if (this.writeFailure === null) {
      this.log(
        `gavel: error: cannot write the SQLite database at GAVEL_DB=${this.path}: ${error.message}; bids are answered UNAVAILABLE and admin writes 503 until a write succeeds`,
      );
    }
    this.writeFailure = `writes to the SQLite database at GAVEL_DB=${this.path} fail: ${error.message}`;
  }

  private writesSucceedAgain(): void {
    this.writeFailure = null;
    this.log(`gavel: the SQLite database at GAVEL_DB=${this.path} takes writes again`, { level: "info", event: "store_up", store: "sqlite" });
  }

  /** The timer's check: the database and its lock file must still be the files opened. */
  private checkFiles(): void {
    for (const file of this.watched) {
      const change = file.change();
      if (change === null) continue;
      const rescue = file === this.watched[0] ? this.rescueCopy() : "";
      this.refuse(`${change} while the server ran${rescue}; writes are refused: stop this server, put the file back and start again`);
      return;
    }
  }

  /**
   * The path no longer names the database, but this connection still reads it: copy what it
   * holds (every acknowledged bid) beside the path, so deleting the file loses nothing.
   */
  private rescueCopy(): string {
    const target = `${this.path}.rescued-${Date.now()}`;
    try {
      this.db.run("VACUUM INTO ?", [target]);
      return `; everything it held is copied to ${target}`;
    } catch (error) {
      return `; a rescue copy to ${target} failed (${(error as Error).message})`;
    }
  }

  /** Stops every write for good, with one loud line. */
  private refuse(reason: string): void {
    if (this.refusal !== null) return;
    this.refusal = new StoreRefusedError(reason);
    if (this.watchTimer !== null) clearInterval(this.watchTimer);
    this.watchTimer = null;
    this.log(`gavel: error: ${reason}`);
  }

  /**
   * The batch's transaction rolled back: puts every auction it changed back to its last bid in
   * the file. Rare, so it reads the file rather than keep a copy of each auction per batch.
   */
  private rollBackTable(): void {
    // Per auction, the first seq the batch made (a TOP_ONLY entry made none: the one after its
    // seq) and its hidden maximum before the batch.
    const firstSeq = new Map<number, number>();
    const firstTop = new Map<number, number>();
    for (let i = this.logWriter.count - 1; i >= 0; i--) {
      const bid = this.logWriter.entry(i);
      firstSeq.set(bid.auction, bid.topOnly ? bid.seq + 1 : bid.seq);
      firstTop.set(bid.auction, this.logWriter.topBefore[i]!);
    }
    const specs = this.db.prepare<AuctionRow, [number]>("SELECT * FROM auctions WHERE id = ?");
    for (const [id, seq] of firstSeq) {
      this.bidLocator.truncate(id, seq - 1);
      const row = specs.get(id);
      if (row === null) continue;
      const auction = rowToAuction(row);
      const [last] = seq > 1 ? this.historyAfter(id, seq - 2, 1) : [];
      if (last !== undefined) {
        auction.seq = last.seq;
        auction.amount = last.amount;
        auction.leader = last.user;
        auction.endsAt = last.endsAt;
      }
      auction.top = firstTop.get(id)!;
      this.table.put(auction);
    }
    specs.finalize();
  }

  private applyInTransaction(batch: StoreBatch, now: number): void {
    const row = this.lastLogRow + 1;
    this.logWriter.reset();
    for (let i = 0; i < batch.count; i++) {
      const id = batch.auction[i]!;
      const changed = this.table.applyOne(batch, i, now);
      if (changed === null) continue;
      const stepped = batch.stepped[i] === 1;
      // A step, or only a new hidden maximum (TOP_ONLY: no history entry, no seq).
      const flags = !stepped ? LogFlag.TOP_ONLY : stepBy(batch.kind[i] as BidKind, batch.status[i] as Status) === StepBy.MAX ? LogFlag.BY_MAX : 0;
      const index = this.logWriter.add(id, changed.seq, changed.amount, changed.leader, now, changed.endsAt, changed.top, flags);
      this.logWriter.topBefore[index] = this.table.topBefore;
      if (stepped) this.bidLocator.add(id, changed.seq, row, index);
    }
    this.lastBatchAt = performance.now();
    if (this.logWriter.count === 0) return;
    this.appendLog.run(row, this.logWriter.packed());
    this.lastLogRow = row;
    this.unfoldedBids += this.logWriter.count;
    if (this.foldTimer === null) this.armFold();
  }

  async createAuction(spec: NewAuction): Promise<CreateResult> {
    if (this.refusal !== null) throw this.refusal;
    const result = this.table.insert(spec);
    if (!result.created) return result;
    try {
      this.insertAuction.run(auctionParams(result.auction));
    } catch (error) {
      this.table.discard(result.auction.id);
      this.noteWriteFailure(error as Error);
      throw new StoreRefusedError(this.writeFailure!, { cause: error });
    }
    if (this.writeFailure !== null) this.writesSucceedAgain();
    return result;
  }

  async getAuction(id: number): Promise<AuctionState | null> {
    const auction = this.table.auctions.get(id) ?? this.readClosed(id);
    return auction === null ? null : { ...auction };
  }

  /** A closed auction from the cache or the file (its row holds its final state); null if none. */
  private readClosed(id: number): AuctionState | null {
    const cached = this.closedCache.get(id);
    if (cached !== undefined) return cached;
    const row = this.auctionById.get(id);
    if (row === null || row.closed === 0) return null;
    const auction = rowToAuction(row);
    this.closedCache.set(auction);
    return auction;
  }

  async listAuctions(phase: Phase | null, afterId: number, limit: number): Promise<AuctionState[]> {
    return this.table.list(phase, afterId, limit, this.now(), (after, max) => this.closedPage.all(after, max).map(rowToAuction));
  }

  async history(auction: number, afterSeq: number, limit: number): Promise<HistoryEntry[]> {
    return this.historyAfter(auction, afterSeq, limit);
  }

  /** Folded bids come from the `bids` table, the rest from the log; every folded seq is below every logged one. */
  private historyAfter(auction: number, afterSeq: number, limit: number): HistoryEntry[] {
    if (limit <= 0) return [];
    const entries = afterSeq + 1 < this.bidLocator.firstSeq(auction) ? this.bidsAfter.all(auction, afterSeq, limit) : [];
    if (entries.length < limit) {
      const from = entries.at(-1)?.seq ?? afterSeq;
      entries.push(...this.readLocations(this.bidLocator.after(auction, from, limit - entries.length)));
    }
    return entries;
  }

  async historyNewestFirst(auction: number, beforeSeq: number, limit: number): Promise<HistoryEntry[]> {
    if (limit <= 0) return [];
    const entries = this.readLocations(this.bidLocator.newestFirst(auction, beforeSeq, limit));
    if (entries.length < limit) {
      const below = Math.min(entries.at(-1)?.seq ?? beforeSeq, this.bidLocator.firstSeq(auction), beforeSeq);
      entries.push(...this.bidsBefore.all(auction, below, limit - entries.length));
    }
    return entries;
  }

  /** The fold runs on a timer only while the log holds unfolded bids: an idle store sleeps. */
  private armFold(): void {
    if (this.foldTimer !== null || this.unfoldedBids === 0) return;
    this.foldTimer = setInterval(() => this.fold(), FOLD_INTERVAL_MS);
    this.foldTimer.unref();
  }

  private disarmFold(): void {
    if (this.foldTimer !== null) clearInterval(this.foldTimer);
    this.foldTimer = null;
  }

  /**
   * The timer's fold: steps of sqlite-fold.ts until the log is folded or FOLD_BUDGET_MS is
   * spent. A failed step (disk full) changed nothing; the next run tries again.
   */
  private fold(): void {
    if (this.refusal !== null || this.closed || this.unfoldedBids === 0) {
      this.disarmFold();
      return;
    }
    const start = performance.now();
    // Bids are flowing: the fold waits for a pause, so it never slows the bid path (folding ran
    // at a fifth of the store's speed and cut bids/s by 5x when it ran beside them). Past
    // MAX_UNFOLDED_BIDS it takes one step per interval even under load, so the log a restart
    // reads stays bounded.
    const busy = start - this.lastBatchAt < FOLD_IDLE_MS;
    if (busy && this.unfoldedBids < MAX_UNFOLDED_BIDS) return;
    try {
      for (;;) {
        const folded = this.folder.foldStep();
        this.unfoldedBids = Math.max(0, this.unfoldedBids - folded);
        if (folded === 0 || busy || performance.now() - start >= FOLD_BUDGET_MS) break;
      }
      if (this.foldFailing) this.log(`gavel: folding the bid log of GAVEL_DB=${this.path} works again`);
      this.foldFailing = false;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      if (!this.foldFailing) {
        this.log(`gavel: warning: folding the bid log of GAVEL_DB=${this.path} failed (${(error as Error).message}); the log keeps every bid, folding is retried`);
      }
      this.foldFailing = true;
    }
  }

  /**
   * The retention step: deletes closed auctions that ended at or before `cutoff`, at most
   * `limit`. One whose bids are not all folded yet waits for the fold (the fold would write
   * them back). Returns how many it looked at, so a pass goes on while there may be more.
   */
  private retire(cutoff: number, limit: number): number {
    if (this.refusal !== null || this.closed) return 0;
    const due = this.expired.all(cutoff, limit);
    for (const { id } of due) {
      if (this.bidLocator.firstSeq(id) !== Infinity) continue;
      this.deleteAuction(id);
      this.closedCache.delete(id);
      this.closedCount--;
    }
    return due.length;
  }

  /** Folds the whole log now (tests and the growth benchmark; the timer does it in steps). */
  foldAll(): void {
    while (this.folder.foldStep() > 0);
  }

  /** Reads the log rows the locations name (each once) and picks the bids out, in order. */
  private readLocations(locations: BidLocation[]): HistoryEntry[] {
    if (locations.length === 0) return [];
    const rowIds = [...new Set(locations.map((l) => l.row))];
    const rows = new Map<number, Uint8Array>();
    for (const row of this.logRowsByIds.values(JSON.stringify(rowIds))) {
      const [id, entries] = row as [number, Uint8Array];
      rows.set(id, entries);
    }
    return locations.map(({ row, index }) => {
      // Field by field: the logged maximum (top) never leaves the store.
      const { seq, amount, user, at, endsAt, by } = readLoggedBid(rows.get(row)!, index);
      return { seq, amount, user, at, endsAt, by };
    });
  }

  async closeDue(limit: number): Promise<ClosedAuction[]> {
    if (this.refusal !== null) throw this.refusal;
    const closing = this.table.closeDue(this.now(), limit);
    this.persistClosed(closing, closing.map((a) => a.endsAt), false);
    return closing.map(closedFields);
  }

  async cancel(id: number): Promise<CancelResult> {
    if (this.refusal !== null) throw this.refusal;
    const endsAt = this.table.auctions.get(id)?.endsAt ?? 0;
    const result = this.table.cancel(id, this.now());
    if (typeof result === "string") return { cancelled: false, reason: result };
    this.persistClosed([result], [endsAt], true);
    return { cancelled: true, closed: closedFields(result) };
  }

  /** Writes closing decisions; on failure the table reopens them as they were. */
  private persistClosed(auctions: AuctionState[], endsAtBefore: number[], cancelled: boolean): void {
    if (auctions.length === 0) return;
    const now = this.now();
    try {
      this.db.transaction(() => {
        for (const a of auctions) {
          this.markClosed.run(a.winner, a.endsAt, a.seq, a.amount, a.leader, a.id);
          if (this.outbox !== undefined) notifyClose(this.outbox, a, cancelled, now);
        }
      })();
    } catch (error) {
      this.outbox?.recount();
      auctions.forEach((a, i) => this.table.reopen(a, endsAtBefore[i]!));
      this.noteWriteFailure(error as Error);
      throw new StoreRefusedError(this.writeFailure!, { cause: error });
    }
    // Written: the file is the closed auctions' home now; the cache answers the bids racing it.
    for (const a of auctions) {
      this.table.forget(a.id);
      this.closedCache.set(a);
    }
    this.closedCount += auctions.length;
    if (this.writeFailure !== null) this.writesSucceedAgain();
  }

  now(): number {
    return Date.now();
  }

  unavailableReason(): string | null {
    return this.refusal?.message ?? this.writeFailure;
  }

  /**
   * Never throws: a fault here (disk full, file gone) is logged, and what it means for the
   * data is said; unavailableReason() still tells the caller whether the store ended healthy.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watchTimer !== null) clearInterval(this.watchTimer);
    this.disarmFold();
    this.retention?.stop();
    // A last look: a file deleted since the last tick must not be checkpointed and closed as if
    // nothing happened.
    if (this.refusal === null) this.checkFiles();
    try {
      await (await this.checkpointer)?.stop();
    } catch (error) {
      this.log(`gavel: warning: the checkpoint worker did not stop cleanly: ${(error as Error).message}`);
    }
    if (this.refusal !== null && this.watched.length > 0) {
      // The path may name another file now: closing would make SQLite checkpoint and delete
      // `<path>-wal` and `-shm` by name. The process's exit closes the connection instead.
      this.lock?.release();
      return;
    }
    try {
      // A statement left open keeps the file open past close().
      for (const statement of [this.insertAuction, this.appendLog, this.markClosed, this.logRowsByIds, this.auctionById, this.closedPage, this.bidsAfter, this.bidsBefore, this.expired, ...this.deleteStatements]) statement.finalize();
      this.folder.finalize();
      this.outbox?.finalize();
      if (this.path !== ":memory:") this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (error) {
      // Committed transactions are in the WAL whether or not it was copied into the file.
      this.log(
        `gavel: warning: the last checkpoint of GAVEL_DB=${this.path} failed (${(error as Error).message}): every acknowledged bid is kept in ${this.path}-wal, which the next start reads`,
      );
    }
    try {
      this.db.close(true);
    } catch (error) {
      this.log(`gavel: warning: closing GAVEL_DB=${this.path}: ${(error as Error).message}`);
    }
    this.lock?.release();
  }
}
