// The SQLite store's outbox: a table written inside the transaction that caused each event (a
// batch's, a close's, a cancel's), so an event exists exactly when its change does, across any
// crash. The dispatcher reads it oldest first and deletes what was delivered.

import type { Database, Statement } from "bun:sqlite";
import type { CloseOutcome, Notification, NotificationSink, NotificationType } from "../auction/notification.ts";
import type { OutboxEntry, OutboxReader } from "./outbox.ts";
import { newEventId } from "./outbox-memory.ts";

/**
 * Schema step 3 (sqlite.ts's SCHEMA_VERSION): the outbox. AUTOINCREMENT: a row id is never
 * reused, so the order of ids is the order of the transactions, even after rows were deleted.
 */
export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  auction INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  user INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  leader INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  outcome TEXT NOT NULL
);
`;

interface OutboxRow {
  id: number;
  event_id: string;
  type: string;
  auction: number;
  seq: number;
  at: number;
  user: number;
  amount: number;
  leader: number;
  ends_at: number;
  outcome: string;
}

export class SqliteOutbox implements NotificationSink, OutboxReader {
  private readonly insert: Statement;
  private readonly after: Statement<OutboxRow, [number, number]>;
  private readonly remove: Statement;
  /** The highest row id handed out by take(). */
  private cursor = 0;
  private stored: number;

  /** `db` already holds OUTBOX_SCHEMA. */
  constructor(private readonly db: Database) {
    this.insert = db.prepare("INSERT INTO outbox (event_id, type, auction, seq, at, user, amount, leader, ends_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    this.after = db.prepare<OutboxRow, [number, number]>("SELECT * FROM outbox WHERE id > ? ORDER BY id LIMIT ?");
    this.remove = db.prepare("DELETE FROM outbox WHERE id = ?");
    this.stored = (db.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  }

  /** Called inside the store's transaction: the row commits or rolls back with the change. */
  add(event: Notification): void {
    this.insert.run(newEventId(), event.type, event.auction, event.seq, event.at, event.user, event.amount, event.leader, event.endsAt, event.outcome);
    this.stored++;
  }

  /** The store's transaction rolled back: the rows it added are not there; count again. */
  recount(): void {
    this.stored = (this.db.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  }

  async take(limit: number): Promise<OutboxEntry[]> {
    if (limit <= 0) return [];
    const rows = this.after.all(this.cursor, limit);
    if (rows.length > 0) this.cursor = rows.at(-1)!.id;
    return rows.map((row) => ({
      id: row.event_id,
      ref: row.id,
      event: {
        type: row.type as NotificationType,
        auction: row.auction,
        seq: row.seq,
        at: row.at,
        user: row.user,
        amount: row.amount,
        leader: row.leader,
        endsAt: row.ends_at,
        outcome: row.outcome as CloseOutcome,
      },
    }));
  }

  async ack(entry: OutboxEntry): Promise<void> {
    if (this.remove.run(entry.ref as number).changes > 0) this.stored--;
  }

  backlog(): number {
    return this.stored;
  }

  async close(): Promise<void> {}

  finalize(): void {
    for (const statement of [this.insert, this.after, this.remove]) statement.finalize();
  }
}
