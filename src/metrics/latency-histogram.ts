// A fixed-bucket histogram in typed arrays: observe() is a short scan and two adds, with no
// allocation, so the bid path can record every bid. Prometheus semantics: bucket i counts the
// observations <= bounds[i]; the last slot is +Inf.

export class LatencyHistogram {
  /** Non-cumulative counts per bucket; the last one is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError("histogram bounds must be strictly ascending");
    }
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound (Prometheus's `le` buckets), +Inf last. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (let i = 0; i < this.counts.length; i++) {
      running += this.counts[i]!;
      out.push(running);
    }
    return out;
  }
}
