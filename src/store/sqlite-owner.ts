// One server per SQLite file. The store keeps its auctions in memory and is the file's only
// writer; a second server on the same file would diverge from it silently. (SQLite's exclusive
// locking mode would say so by itself, but it also shuts out the checkpoint worker's
// connection.) So the file names its owner: a row with the owning process's pid, taken in a
// write transaction at open, released at close, and taken over when that process is gone.

import type { Database } from "bun:sqlite";
import { realpathSync } from "node:fs";

/** Files this process holds (two stores in one process share the pid, so the row can't tell). */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Claims `db` (at `path`) for this process; returns why not, or null once it is ours. */
export function claimOwnership(db: Database, path: string): string | null {
  const key = path === ":memory:" ? null : realpathSync(path);
  if (key !== null && heldHere.has(key)) return "this process already serves it";
  db.exec("CREATE TABLE IF NOT EXISTS owner (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL)");
  db.exec("BEGIN IMMEDIATE");
  try {
    const row = db.query<{ pid: number }, []>("SELECT pid FROM owner WHERE id = 1").get();
    if (row !== null && row.pid !== process.pid && alive(row.pid)) {
      db.exec("ROLLBACK");
      return `process ${row.pid} serves it`;
    }
    db.run("INSERT OR REPLACE INTO owner (id, pid) VALUES (1, ?)", [process.pid]);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
  if (key !== null) heldHere.add(key);
  return null;
}

export function releaseOwnership(db: Database, path: string): void {
  db.run("DELETE FROM owner WHERE id = 1 AND pid = ?", [process.pid]);
  if (path !== ":memory:") heldHere.delete(realpathSync(path));
}
