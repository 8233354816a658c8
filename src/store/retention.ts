// GAVEL_RETENTION: closed auctions whose ends_at is older than the retention are deleted with
// their history, a few at a time on a timer, so neither the deletion nor a backlog of it ever
// holds the event loop for long. Each store says how to delete one step's worth.

/** How often a retention pass runs. */
export const RETENTION_INTERVAL_MS = 1_000;
/** Auctions deleted per step; a pass runs steps until its budget is spent. */
export const RETENTION_STEP = 256;
/** How long one pass may hold the event loop. */
const RETENTION_BUDGET_MS = 5;

/** Deletes up to `limit` closed auctions that ended at or before `cutoff`; returns how many. */
export type RetireStep = (cutoff: number, limit: number) => number;

export class Retention {
  private readonly timer: ReturnType<typeof setInterval>;

  private constructor(
    private readonly retentionMs: number,
    private readonly step: RetireStep,
    private readonly now: () => number,
    private readonly onError: (error: Error) => void,
  ) {
    this.timer = setInterval(() => this.pass(), RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  /** Null when `retentionMs` is 0 (keep everything). */
  static start(retentionMs: number, step: RetireStep, now: () => number = Date.now, onError: (error: Error) => void = () => {}): Retention | null {
    return retentionMs > 0 ? new Retention(retentionMs, step, now, onError) : null;
  }

  /** One pass: steps until nothing is left to delete or the budget is spent. */
  pass(): void {
    const start = performance.now();
    try {
      while (this.step(this.now() - this.retentionMs, RETENTION_STEP) === RETENTION_STEP && performance.now() - start < RETENTION_BUDGET_MS);
    } catch (error) {
      // Nothing of a failed step was deleted; the next pass tries again.
      this.onError(error as Error);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
