/**
 * Shared benchmark helpers: timing, medians, alternating rounds, heap readings, table printing, and the figures
 * a scenario reports back to run.ts (which prints the summary and can write them as JSON).
 */
import { performance } from 'node:perf_hooks';

export const now = (): number => performance.now();

/**
 * CPU time this process has used (user + system, all its threads), in ms. On a loaded machine a single-threaded
 * loop's CPU time moves far less than its wall time, since time spent waiting for a core is not counted.
 */
export function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * CMWQ_BENCH_SCALE (default 1) multiplies every item count: a quick smoke run is CMWQ_BENCH_SCALE=0.01. Figures
 * against the targets are only meaningful at 1.
 */
export const SCALE = Number(process.env.CMWQ_BENCH_SCALE ?? 1);
export function scaled(n: number): number {
  return Math.max(1, Math.round(n * SCALE));
}

const gcFn = (globalThis as { gc?: () => void }).gc;
export const hasGc = typeof gcFn === 'function';

/** A full, synchronous major GC (needs --expose-gc; a no-op without it). */
export function gc(): void {
  if (gcFn !== undefined) {
    gcFn();
    gcFn();
  }
}

/** Heap in use after a full GC, in bytes. */
export function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/** One macrotask turn: lets timers, immediates and microtasks left by the previous run settle. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of an ascending array. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** A small seeded PRNG (mulberry32), so that every contender and every run sees the same "random" delays. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A packed array of n nulls (new Array(n) of a large n would be a slow dictionary-mode array). */
export function slots<T>(n: number): (T | null)[] {
  const a: (T | null)[] = [];
  for (let i = 0; i < n; i++) a.push(null);
  return a;
}

export interface Contender {
  name: string;
  /** One measured run: returns its figure (elapsed ms, bytes per item, ...). */
  run: () => Promise<number> | number;
  /** Overrides RoundsOptions.runs / .warmup for this contender (slow peers take fewer, stated in the output). */
  runs?: number;
  warmup?: number;
}

/** What a timed run checks afterwards: a counter the handlers bump, reset before each run. */
export interface Counter {
  reset(): void;
  read(): number;
  /** The word for the error when items are missing: "executed", "finished". */
  verb: string;
}

/**
 * A contender timed from the call to `fn(n)` until what it returns settles; the counter is reset before and must
 * read n after, or the run throws.
 */
export function timedContender(
  name: string,
  n: number,
  counter: Counter,
  fn: (n: number) => Promise<void> | void,
): Contender {
  return {
    name,
    async run() {
      counter.reset();
      const t0 = now();
      await fn(n);
      const ms = now() - t0;
      const got = counter.read();
      if (got !== n) throw new Error(`${name}: ${got} of ${n} items ${counter.verb}`);
      return ms;
    },
  };
}

export interface RoundsOptions {
  runs: number;
  warmup: number;
  /** Called between runs (outside the measurement); default: full GC then one macrotask turn. */
  between?: () => Promise<void> | void;
}

/**
 * Runs every contender `warmup + runs` times, alternating in one process: round r runs them all, starting from
 * contender r (rotation), so no contender always runs first or right after the same neighbour. Warm-up rounds are
 * discarded. A contender with its own (smaller) runs/warmup sits out the rounds it does not need. Returns each
 * contender's measured figures.
 */
export async function rounds(contenders: readonly Contender[], opts: RoundsOptions): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const between =
    opts.between ??
    (async () => {
      gc();
      await turn();
    });
  const warmupOf = (c: Contender): number => c.warmup ?? opts.warmup;
  const total = Math.max(...contenders.map((c) => warmupOf(c) + (c.runs ?? opts.runs)));
  for (let r = 0; r < total; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(k + r) % contenders.length];
      if (r >= warmupOf(c) + (c.runs ?? opts.runs)) continue;
      progress(`round ${r + 1}/${total}: ${c.name}`);
      await between();
      const v = await c.run();
      if (r >= warmupOf(c)) out.get(c.name)!.push(v);
    }
  }
  progressDone();
  return out;
}

/** "median of 5, 1 warm-up" for the options, plus the exceptions some contenders make. */
export function describeRuns(contenders: readonly Contender[], opts: RoundsOptions): string {
  const base = `median of ${opts.runs}, ${opts.warmup} warm-up, alternating`;
  const odd = contenders.filter(
    (c) => (c.runs ?? opts.runs) !== opts.runs || (c.warmup ?? opts.warmup) !== opts.warmup,
  );
  if (odd.length === 0) return base;
  const groups = new Map<string, string[]>();
  for (const c of odd) {
    const key = `median of ${c.runs ?? opts.runs}, ${c.warmup ?? opts.warmup} warm-up`;
    groups.set(key, [...(groups.get(key) ?? []), c.name]);
  }
  return `${base}; slow peers: ${[...groups].map(([k, names]) => `${names.join(', ')}: ${k}`).join('; ')}`;
}

let progressShown = false;
/** A transient progress note on stderr (only on a TTY). */
export function progress(msg: string): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(`\r  … ${msg}\x1b[K`);
  progressShown = true;
}
export function progressDone(): void {
  if (progressShown) process.stderr.write('\r\x1b[K');
  progressShown = false;
}

// ---- formatting ----

export function fmtRate(itemsPerSec: number): string {
  if (!Number.isFinite(itemsPerSec)) return '-';
  if (itemsPerSec >= 1e6) return `${(itemsPerSec / 1e6).toFixed(2)}M/s`;
  if (itemsPerSec >= 1e3) return `${(itemsPerSec / 1e3).toFixed(1)}k/s`;
  return `${itemsPerSec.toFixed(0)}/s`;
}

export function fmtMs(ms: number, digits = 1): string {
  return Number.isFinite(ms) ? `${ms.toFixed(digits)} ms` : '-';
}

/** "min .. max" of a contender's run times. */
export function fmtRange(ms: readonly number[]): string {
  return `${fmtMs(Math.min(...ms))} .. ${fmtMs(Math.max(...ms))}`;
}

export function fmtBytes(b: number): string {
  return Number.isFinite(b) ? `${b.toFixed(1)} B` : '-';
}

export function fmtX(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '-';
}

export function fmtPct(fraction: number): string {
  return Number.isFinite(fraction) ? `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)}%` : '-';
}

/** Prints an aligned table: first column left-aligned, the others right-aligned. */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`  ${line(headers)}`);
  console.log(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(`  ${line(r)}`);
}

export function heading(title: string, note?: string): void {
  console.log(`\n== ${title} ==`);
  if (note !== undefined) for (const l of note.split('\n')) console.log(`   ${l}`);
}

// ---- figures reported back to run.ts ----

export interface Check {
  /** What is compared, e.g. "throughput sync: cmwq / fastq callback". */
  label: string;
  /** The measured value, in the unit the target is written in. */
  value: number;
  /** Printed form of the value, e.g. "1.62x". */
  shown: string;
  /** The target (docs/guarantees.md §7), e.g. ">= 1.5x". */
  target: string;
  holds: boolean;
}

export interface ScenarioReport {
  scenario: string;
  /** Named figures (medians), for JSON output and for aggregating several invocations. */
  figures: Record<string, number>;
  checks: Check[];
}

export function newReport(scenario: string): ScenarioReport {
  return { scenario, figures: {}, checks: [] };
}

/** Records a check against a target and prints its verdict line. */
export function check(report: ScenarioReport, c: Check): void {
  report.checks.push(c);
  console.log(`   -> ${c.label}: ${c.shown} (target ${c.target}): ${c.holds ? 'HOLDS' : 'MISSED'}`);
}

/** check() for a speed ratio that must reach `min`: shown as "1.62x" against the target ">= 1.5x". */
export function checkAtLeast(report: ScenarioReport, label: string, ratio: number, min: number): void {
  check(report, { label, value: ratio, shown: fmtX(ratio), target: `>= ${min}x`, holds: ratio >= min });
}

// ---- the hand-written floor ----

/**
 * The minimal concurrency-limited queue the targets compare against: a growable array with a head index, drained
 * in a loop from a microtask (so that, like cmwq, pushing never runs a task synchronously). A task that returns a
 * promise holds one of `limit` slots until it settles. No per-item allocation besides the array slot.
 */
export class FloorQueue<T> {
  private buf: T[] = [];
  private head = 0;
  private active = 0;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly fn: (item: T) => unknown,
    private readonly limit: number,
  ) {}

  push(item: T): void {
    this.buf.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const buf = this.buf;
    const fn = this.fn;
    while (this.head < buf.length && this.active < this.limit) {
      const r = fn(buf[this.head++]) as PromiseLike<unknown> | undefined;
      if (r !== undefined && r !== null && typeof r.then === 'function') {
        this.active++;
        r.then(this.done, this.done);
      }
    }
    if (this.head === buf.length) {
      this.buf = [];
      this.head = 0;
      if (this.active === 0) this.wakeIdle();
    }
  };

  private readonly done = (): void => {
    this.active--;
    this.drain();
  };

  private wakeIdle(): void {
    const ws = this.idleWaiters;
    if (ws.length === 0) return;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  /** Resolves when nothing is queued or running. */
  onIdle(): Promise<void> {
    if (this.head === this.buf.length && this.active === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
