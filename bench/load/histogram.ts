// A log-linear latency histogram in the manner of HdrHistogram: exact below 2^SUB_BUCKET_BITS,
// then each power of two split into HALF equal buckets, so every recorded value keeps about
// three significant digits (relative error <= 1/HALF ~ 0.1%) with fixed memory (~190 KB) for
// any run length. Histograms of the same shape merge by adding counts (across processes).

/** Values below 2^SUB_BUCKET_BITS are counted exactly; above, with 1/HALF relative precision. */
const SUB_BUCKET_BITS = 11;
const HALF = 1 << (SUB_BUCKET_BITS - 1);
/** Largest recordable value (about 71 minutes in microseconds); larger values are clamped. */
export const MAX_TRACKABLE = 0xffff_ffff;
const MAX_BIT = 31;
const BUCKET_COUNT = (MAX_BIT - (SUB_BUCKET_BITS - 1) + 2) * HALF;

/** The serialized form: sparse [index, count] pairs, for JSON between processes and reports. */
export interface HistogramJson {
  subBucketBits: number;
  count: number;
  min: number;
  max: number;
  sum: number;
  buckets: Array<[number, number]>;
}

/** The percentiles every report shows, as fractions. */
export const REPORTED_PERCENTILES = [0.5, 0.9, 0.99, 0.999] as const;

export interface Percentiles {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

function indexOf(value: number): number {
  if (value < 2 * HALF) return value;
  const msb = 31 - Math.clz32(value);
  const shift = msb - (SUB_BUCKET_BITS - 1);
  return shift * HALF + (value >>> shift);
}

/** The largest value that lands in bucket `index` (HDR's "highest equivalent value"). */
function highestOf(index: number): number {
  if (index < 2 * HALF) return index;
  const shift = Math.floor(index / HALF) - 1;
  const sub = index - shift * HALF;
  return (sub + 1) * 2 ** shift - 1;
}

/**
 * Records non-negative integer values (microseconds here) and answers percentiles.
 * @example
 * const h = new Histogram();
 * h.record(120); h.record(450);
 * h.percentile(0.99); // 450 (within 0.1%)
 */
export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  /** Records one value; fractions are truncated, negatives count as 0, huge values are clamped. */
  record(value: number): void {
    let v = value > 0 ? Math.floor(value) : 0;
    if (v > MAX_TRACKABLE) v = MAX_TRACKABLE;
    this.counts[indexOf(v)]!++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** The value at or below which `fraction` (0..1) of the recorded values lie; 0 when empty. */
  percentile(fraction: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(highestOf(i), this.max);
    }
    return this.max;
  }

  summary(): Percentiles {
    return {
      count: this.count,
      min: this.count === 0 ? 0 : this.min,
      mean: this.count === 0 ? 0 : this.sum / this.count,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.max,
    };
  }

  /** Adds another histogram's counts into this one. */
  merge(other: Histogram | HistogramJson): this {
    const json = other instanceof Histogram ? other.toJSON() : other;
    if (json.subBucketBits !== SUB_BUCKET_BITS) throw new Error(`histogram shape ${json.subBucketBits} != ${SUB_BUCKET_BITS}`);
    for (const [index, n] of json.buckets) this.counts[index]! += n;
    if (json.count > 0) {
      this.count += json.count;
      this.sum += json.sum;
      if (json.min < this.min) this.min = json.min;
      if (json.max > this.max) this.max = json.max;
    }
    return this;
  }

  toJSON(): HistogramJson {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKET_COUNT; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return { subBucketBits: SUB_BUCKET_BITS, count: this.count, min: this.count === 0 ? 0 : this.min, max: this.max, sum: this.sum, buckets };
  }

  static fromJSON(json: HistogramJson): Histogram {
    return new Histogram().merge(json);
  }

  /**
   * The percentile curve for charts: [fraction, value] points from 0 up to 1 - 10^-digits,
   * spaced evenly in "number of nines", plus the max.
   */
  curve(pointsPerNine = 20, nines = 5): Array<[number, number]> {
    const points: Array<[number, number]> = [];
    if (this.count === 0) return points;
    const limit = Math.min(nines, Math.max(1, Math.log10(this.count)));
    for (let i = 0; i <= limit * pointsPerNine; i++) {
      const fraction = 1 - 10 ** (-i / pointsPerNine);
      points.push([fraction, this.percentile(fraction)]);
    }
    points.push([1, this.max]);
    return points;
  }
}
