// Checkpoints the SQLite WAL on a worker thread. Inside a commit on the event loop, checkpoints
// (a copy and an fsync) cost ~18% of the bid path's throughput and set its tail latency; on a
// worker they overlap with serving. See docs/performance.md.

const CHECKPOINT_INTERVAL_MS = 10;
/** 16,384 pages of 4 KiB: the WAL is started over once it passes 64 MiB. */
const RESTART_PAGES = 16_384;

/** Bun's Worker has ref()/unref(); its type declarations do not say so. */
interface RefCounted {
  ref(): void;
  unref(): void;
}

export class SqliteCheckpointer {
  private readonly worker: Worker;

  private constructor(worker: Worker) {
    this.worker = worker;
  }

  /** Starts the worker on `path` (already in WAL mode) and waits until it runs. */
  static async start(path: string): Promise<SqliteCheckpointer> {
    const worker = new Worker(new URL("./sqlite-checkpoint-worker.ts", import.meta.url).href);
    const started = new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (event) => reject(new Error(`the checkpoint worker failed: ${event.message}`));
    });
    worker.postMessage({ path, intervalMs: CHECKPOINT_INTERVAL_MS, restartPages: RESTART_PAGES });
    await started;
    // Bun workers keep the process alive unless unref()ed; the store ends it in close().
    (worker as unknown as RefCounted).unref();
    return new SqliteCheckpointer(worker);
  }

  async stop(): Promise<void> {
    // Held again while stopping: otherwise, with the servers closed, nothing keeps the event
    // loop alive until the worker answers, and the process would end mid-close.
    (this.worker as unknown as RefCounted).ref();
    const stopped = new Promise<void>((resolve) => (this.worker.onmessage = () => resolve()));
    this.worker.postMessage("stop");
    await stopped;
    this.worker.terminate();
  }
}
