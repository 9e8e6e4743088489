/**
 * A small log-scale histogram of durations in milliseconds, for queue-wait and run-time percentiles.
 *
 * Recording is an index computation and an increment; percentiles are computed only when read. Buckets are four
 * per power of two from 1 µs up (about 19% wide), which is plenty for p50/p99 of latencies.
 */

const SUB = 4;
const MIN_MS = 0.001;
const BUCKETS = 30 * SUB;

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;

  record(ms: number): void {
    let i = 0;
    if (ms > MIN_MS) i = Math.min(BUCKETS - 1, Math.floor(Math.log2(ms / MIN_MS) * SUB) + 1);
    this.counts[i]++;
    this.count++;
  }

  add(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
  }

  /** The value below which a fraction q of the recorded durations fall (a bucket's upper bound), 0 when empty. */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i === 0 ? MIN_MS : MIN_MS * 2 ** (i / SUB);
    }
    return MIN_MS * 2 ** (BUCKETS / SUB);
  }

  /** The non-empty buckets as [upper bound in ms, count] pairs, shortest first (for drawing the distribution). */
  buckets(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) out.push([MIN_MS * 2 ** (i / SUB), this.counts[i]]);
    return out;
  }
}

/** A histogram holding the counts of several (to aggregate a workqueue's pool workqueues). */
export function combineHistograms(parts: Histogram[]): Histogram {
  const sum = new Histogram();
  for (const part of parts) sum.add(part);
  return sum;
}
