// Runs on a worker thread (see sqlite-checkpointer.ts): copies the WAL back into the database
// file and fsyncs it, off the event loop. Its own connection to the same file.

import { Database } from "bun:sqlite";

declare const self: Worker;

interface Start {
  path: string;
  intervalMs: number;
  /** WAL pages past which a RESTART checkpoint makes the next write start the WAL over. */
  restartPages: number;
}

/**
 * An idle server's WAL does not change: the tick backs off from the start interval, doubling
 * up to this, and drops back at the first new frame (an idle server cost ~1% CPU at 10 ms).
 */
const MAX_IDLE_INTERVAL_MS = 640;

let db: Database | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;
/** WAL pages at the last tick: unchanged means nothing was written since. */
let lastLogPages = -1;

/** One checkpoint; true when the WAL had new frames since the last one. */
function checkpoint(restartPages: number): boolean {
  if (db === null) return false;
  try {
    // PASSIVE never waits for the writer; under steady writes it cannot finish the WAL, so
    // once the WAL is long a RESTART (which waits a moment for the writer) resets it.
    const [, logPages] = db.query("PRAGMA wal_checkpoint(PASSIVE)").values()[0] as number[];
    const changed = logPages !== lastLogPages;
    lastLogPages = logPages!;
    if (logPages! > restartPages) db.query("PRAGMA wal_checkpoint(RESTART)").values();
    return changed;
  } catch {
    // Busy or closing: the writer is busy, so look again soon.
    return true;
  }
}

function schedule(intervalMs: number, baseMs: number, restartPages: number): void {
  timer = setTimeout(() => {
    if (db === null) return; // stopped
    const busy = checkpoint(restartPages);
    schedule(busy ? baseMs : Math.min(intervalMs * 2, MAX_IDLE_INTERVAL_MS), baseMs, restartPages);
  }, intervalMs);
}

self.onmessage = (event: MessageEvent<Start | "stop">) => {
  if (event.data === "stop") {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    db?.close();
    db = null;
    self.postMessage("stopped");
    return;
  }
  const { path, intervalMs, restartPages } = event.data;
  // Never create: had the file been deleted before this runs, an empty one would take its path.
  db = new Database(path, { readwrite: true, create: false });
  db.exec("PRAGMA busy_timeout = 5000");
  schedule(intervalMs, intervalMs, restartPages);
  self.postMessage("started");
};
