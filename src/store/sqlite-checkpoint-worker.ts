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

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

function checkpoint(restartPages: number): void {
  if (db === null) return;
  try {
    // PASSIVE never waits for the writer; under steady writes it cannot finish the WAL, so
    // once the WAL is long a RESTART (which waits a moment for the writer) resets it.
    const [, logPages] = db.query("PRAGMA wal_checkpoint(PASSIVE)").values()[0] as number[];
    if (logPages! > restartPages) db.query("PRAGMA wal_checkpoint(RESTART)").values();
  } catch {
    // Busy or closing: the next tick tries again.
  }
}

self.onmessage = (event: MessageEvent<Start | "stop">) => {
  if (event.data === "stop") {
    if (timer !== null) clearInterval(timer);
    db?.close();
    db = null;
    self.postMessage("stopped");
    return;
  }
  const { path, intervalMs, restartPages } = event.data;
  // Never create: had the file been deleted before this runs, an empty one would take its path.
  db = new Database(path, { readwrite: true, create: false });
  db.exec("PRAGMA busy_timeout = 5000");
  timer = setInterval(() => checkpoint(restartPages), intervalMs);
  self.postMessage("started");
};
