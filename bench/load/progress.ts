// The live progress line on stderr (only on a terminal): once a second, the reply rate, the
// totals, errors and contract problems so far, summed over the load processes.

import type { ShardProgress } from "./shard.ts";

const INTERVAL_MS = 1000;
const CLEAR_LINE = "\r\x1b[K";

const int = (n: number) => Math.round(n).toLocaleString("en-US");

export class ProgressLine {
  private readonly latest: ShardProgress[];
  private timer: Timer | null = null;
  private started = 0;
  private lastAnswered = 0;
  private lastAt = 0;

  constructor(
    shards: number,
    private readonly enabled: boolean,
  ) {
    this.latest = Array.from({ length: shards }, () => ({ sent: 0, answered: 0, errors: 0, problems: 0 }));
  }

  start(): void {
    if (!this.enabled || this.timer !== null) return;
    this.started = this.lastAt = performance.now();
    this.timer = setInterval(() => this.print(), INTERVAL_MS);
  }

  update(index: number, progress: ShardProgress): void {
    this.latest[index] = progress;
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    process.stderr.write(CLEAR_LINE);
  }

  private print(): void {
    const total = { sent: 0, answered: 0, errors: 0, problems: 0 };
    for (const p of this.latest) {
      total.sent += p.sent;
      total.answered += p.answered;
      total.errors += p.errors;
      total.problems += p.problems;
    }
    const now = performance.now();
    const rate = ((total.answered - this.lastAnswered) * 1000) / Math.max(1, now - this.lastAt);
    this.lastAnswered = total.answered;
    this.lastAt = now;
    const elapsed = ((now - this.started) / 1000).toFixed(0).padStart(4);
    process.stderr.write(
      `${CLEAR_LINE}${elapsed}s  ${int(rate).padStart(11)} replies/s  sent ${int(total.sent)}  answered ${int(total.answered)}` +
        `  errors ${int(total.errors)}${total.problems > 0 ? `  PROBLEMS ${int(total.problems)}` : ""}`,
    );
  }
}
