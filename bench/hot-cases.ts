/**
 * The hot-path cases: one contender of one row, run alone in a fresh process (`node --expose-gc
 * dist/bench/hot-cases.js <row>/<contender>`), printing its figures as one JSON line prefixed with HOT_RESULT.
 *
 * Why a process per contender: cmwq's async context (on Node 20, AsyncLocalStorage's process-wide promise
 * hooks), the heap left by a million items, and the JIT's view of a peer's code all leak from one contender into
 * the next when they share a process. Each case runs a warm-up at a tenth of its size first (so no contender is
 * timed cold), then a full GC, then the measured run. bench/hot.ts forks the cases, alternating contenders, and
 * prints medians and ratios.
 *
 * Every case imports what it needs lazily: the "no cmwq" cases never load cmwq at all.
 */
import { pathToFileURL } from 'node:url';
import { cpuNow, gc, heapUsed, now, prng, scaled, turn } from './harness.js';

export const HOT_RESULT = 'HOT_RESULT ';

const M = scaled(1_000_000);
let executed = 0;
async function asyncNoop(): Promise<void> {
  executed++;
}
function syncNoop(): void {
  executed++;
}

type Figures = Record<string, number>;
/** A case: runs once with a scale factor (0.1 for the warm-up, 1 measured) and returns its figures. */
type Case = (f: number) => Promise<Figures>;

function expect(n: number, what: string): void {
  if (executed !== n) throw new Error(`${what}: ${executed} of ${n} items ran`);
}

const cmwq = () => import('../src/index.js');

/** Times n items pushed into fastq's callback API with concurrency c; async handlers resolve at once. */
async function fastqRun(n: number, c: number, sync: boolean): Promise<number> {
  const fastq = (await import('fastq')).default;
  const q = sync
    ? fastq((_: number, cb: (e: null) => void) => {
        syncNoop();
        cb(null);
      }, c)
    : fastq((_: number, cb: (e: Error | null) => void) => {
        asyncNoop().then(
          () => cb(null),
          (e: Error) => cb(e),
        );
      }, c);
  executed = 0;
  const t0 = now();
  for (let i = 0; i < n; i++) q.push(i);
  if (!q.idle()) await new Promise<void>((resolve) => (q.drain = resolve));
  const ms = now() - t0;
  expect(n, 'fastq');
  return ms;
}

/**
 * Times n new Works (async or sync no-ops) queued on a workqueue of maxActive, then a flush; asyncContext, when
 * given, is set with workqueueInit first.
 */
async function cmwqNewWorks(n: number, maxActive: number, sync: boolean, asyncContext?: boolean): Promise<number> {
  const { allocWorkqueue, flushWorkqueue, queueWork, Work, destroyWorkqueue, workqueueInit } = await cmwq();
  if (asyncContext !== undefined) workqueueInit({ asyncContext });
  const wq = allocWorkqueue('hot', 0, maxActive);
  const fn = sync ? syncNoop : asyncNoop;
  executed = 0;
  const t0 = now();
  for (let i = 0; i < n; i++) queueWork(wq, new Work(fn));
  await flushWorkqueue(wq);
  const ms = now() - t0;
  expect(n, 'cmwq');
  await destroyWorkqueue(wq);
  return ms;
}

/** Times n one-shot jobs through queueFunc on a workqueue of maxActive, then a flush. */
async function cmwqOneshot(n: number, maxActive: number): Promise<number> {
  const { allocWorkqueue, flushWorkqueue, queueFunc, destroyWorkqueue } = await cmwq();
  const wq = allocWorkqueue('hot', 0, maxActive);
  executed = 0;
  const t0 = now();
  for (let i = 0; i < n; i++) queueFunc(wq, asyncNoop, i);
  await flushWorkqueue(wq);
  const ms = now() - t0;
  expect(n, 'cmwq queueFunc');
  await destroyWorkqueue(wq);
  return ms;
}

/** A timed run's wall ms and the CPU ms the process used meanwhile. */
async function withCpu(timed: () => Promise<number>): Promise<Figures> {
  const c0 = cpuNow();
  const ms = await timed();
  return { ms, cpu: cpuNow() - c0 };
}

const REUSED = 1000;
/** 1,000 Works queued 1,000 times each: queue them all, wait until they ran, again. */
async function cmwqReused(f: number, maxActive: number, sync: boolean): Promise<number> {
  const { allocWorkqueue, flushWorkqueue, queueWork, Work, destroyWorkqueue } = await cmwq();
  const wq = allocWorkqueue('hot', 0, maxActive);
  const works = Array.from({ length: REUSED }, () => new Work(sync ? syncNoop : asyncNoop));
  const rounds = Math.max(1, Math.round(scaled(REUSED) * f));
  executed = 0;
  const t0 = now();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < REUSED; i++) queueWork(wq, works[i]);
    await flushWorkqueue(wq);
  }
  const ms = now() - t0;
  expect(rounds * REUSED, 'cmwq reused');
  await destroyWorkqueue(wq);
  return (ms * scaled(REUSED)) / rounds;
}

async function fastqReused(f: number, sync: boolean): Promise<number> {
  const fastq = (await import('fastq')).default;
  const q = sync
    ? fastq((_: number, cb: (e: null) => void) => {
        syncNoop();
        cb(null);
      }, 1)
    : fastq((_: number, cb: (e: Error | null) => void) => {
        asyncNoop().then(
          () => cb(null),
          (e: Error) => cb(e),
        );
      }, 1);
  const rounds = Math.max(1, Math.round(scaled(REUSED) * f));
  executed = 0;
  const t0 = now();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < REUSED; i++) q.push(i);
    if (!q.idle()) await new Promise<void>((resolve) => (q.drain = resolve));
  }
  const ms = now() - t0;
  expect(rounds * REUSED, 'fastq reused');
  return (ms * scaled(REUSED)) / rounds;
}

const AWAITS = scaled(2_000_000);
async function step(i: number): Promise<number> {
  return i;
}
/**
 * 2M plain awaits, timed (wall and CPU ms); with `cmwq` set, after cmwq ran 10,000 async works (with the given
 * init).
 */
async function awaits(f: number, withCmwq: false | { asyncContext?: boolean }): Promise<Figures> {
  if (withCmwq !== false) {
    const { allocWorkqueue, flushWorkqueue, queueWork, Work, workqueueInit, destroyWorkqueue } = await cmwq();
    if (withCmwq.asyncContext !== undefined) workqueueInit({ asyncContext: withCmwq.asyncContext });
    const wq = allocWorkqueue('hot');
    for (let i = 0; i < 10_000; i++) queueWork(wq, new Work(asyncNoop));
    await flushWorkqueue(wq);
    await destroyWorkqueue(wq);
  }
  const n = Math.round(AWAITS * f);
  let sum = 0;
  const c0 = cpuNow();
  const t0 = now();
  for (let i = 0; i < n; i++) sum += await step(i);
  const ms = now() - t0;
  const cpu = cpuNow() - c0;
  if (sum !== (n * (n - 1)) / 2) throw new Error('awaits: wrong sum');
  return { ms, cpu };
}

/**
 * A 1 ms setInterval while n immediately-resolving items drain: the largest gap between ticks (the drain's
 * start and end count as ticks) and the number of ticks.
 */
async function starve(n: number, drain: (n: number) => Promise<void>): Promise<Figures> {
  let last = 0;
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const t = now();
    if (t - last > maxGap) maxGap = t - last;
    last = t;
    ticks++;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  executed = 0;
  // drain() queues every item synchronously (the queueing loop itself is not what is measured), then they drain.
  const done = drain(n);
  const t0 = now();
  ticks = 0;
  last = t0;
  maxGap = 0;
  await done;
  const t1 = now();
  if (t1 - last > maxGap) maxGap = t1 - last;
  clearInterval(timer);
  expect(n, 'starve');
  return { maxGap, ticks, ms: t1 - t0 };
}

const SLEEPERS = scaled(10_000);
async function sleeper(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  executed++;
}

/** A minimal concurrency-limited queue: an array drained from a microtask, `fn().then(done, done)`. */
function limiter(limit: number, fn: () => Promise<void>): { push(): void; idle(): Promise<void> } {
  let queued = 0;
  let active = 0;
  let onIdle: (() => void) | null = null;
  const done = (): void => {
    active--;
    pump();
  };
  const pump = (): void => {
    while (queued > 0 && active < limit) {
      queued--;
      active++;
      fn().then(done, done);
    }
    if (queued === 0 && active === 0 && onIdle !== null) onIdle();
  };
  return {
    push() {
      if (queued++ === 0 && active < limit) queueMicrotask(pump);
    },
    idle: () => new Promise<void>((resolve) => (onIdle = resolve)),
  };
}

const ARM = scaled(1_000_000);
function delays(n: number): Int32Array {
  const rand = prng(42);
  const d = new Int32Array(n);
  for (let i = 0; i < n; i++) d[i] = 1 + Math.floor(rand() * 60_000);
  return d;
}

/** Lateness p50/p99/max (ms) of handlers against their due times. */
function lateness(due: Float64Array, fired: Float64Array): Figures {
  const late = new Float64Array(due.length);
  for (let i = 0; i < due.length; i++) late[i] = fired[i] - due[i];
  late.sort();
  const at = (p: number): number => late[Math.min(late.length - 1, Math.max(0, Math.ceil(p * late.length) - 1))];
  return { p50: at(0.5), p99: at(0.99), max: late[late.length - 1], min: late[0] };
}

/**
 * Fires delayed items on a schedule: plan(i) gives item i's chunk start (ms from t0) and the items are armed
 * chunk by chunk at their chunk's start, with delay offset(i). Handlers record when they ran.
 */
async function fire(
  n: number,
  chunk: number,
  period: number,
  spread: number,
  arm: (i: number, delay: number, record: (i: number) => void) => void,
): Promise<Figures> {
  const rand = prng(7);
  const due = new Float64Array(n);
  const fired = new Float64Array(n);
  const offs = new Float64Array(n);
  for (let i = 0; i < n; i++) offs[i] = Math.floor(rand() * spread);
  let count = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => (finished = resolve));
  const record = (i: number): void => {
    fired[i] = now();
    if (++count === n) finished();
  };
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    for (let i = start; i < end; i++) {
      due[i] = now() + offs[i];
      arm(i, offs[i], record);
    }
    if (end < n) await new Promise((resolve) => setTimeout(resolve, period));
  }
  await all;
  return lateness(due, fired);
}

const FIRE = scaled(100_000);
const fireRows: Record<string, [number, number, number]> = {
  // [chunk size, ms between chunks, spread of delays]
  burst: [FIRE, 0, 50],
  chunks: [1000, 10, 1],
  light: [10, 10, 10],
};

async function cmwqFire(f: number, row: string): Promise<Figures> {
  const { allocWorkqueue, DelayedWork, queueDelayedWork, destroyWorkqueue } = await cmwq();
  const wq = allocWorkqueue('hot');
  const [chunk, period, spread] = fireRows[row];
  const n = row === 'light' ? Math.round(scaled(2000) * f) : Math.round(FIRE * f);
  let record: (i: number) => void = () => {};
  const fn = (w: { data: number }): void => record(w.data);
  const figures = await fire(n, chunk, period, spread, (i, delay, rec) => {
    record = rec;
    queueDelayedWork(wq, new DelayedWork<number>(fn, i), delay);
  });
  await destroyWorkqueue(wq);
  return figures;
}

function timeoutFire(f: number, row: string): Promise<Figures> {
  const [chunk, period, spread] = fireRows[row];
  const n = row === 'light' ? Math.round(scaled(2000) * f) : Math.round(FIRE * f);
  return fire(n, chunk, period, spread, (i, delay, rec) => setTimeout(rec, delay, i));
}

const PENDING = scaled(1_000_000);

export const CASES: Record<string, Case> = {
  'async/cmwq-1': async (f) => ({ ms: await cmwqNewWorks(Math.round(M * f), 1, false) }),
  'async/cmwq-100': async (f) => ({ ms: await cmwqNewWorks(Math.round(M * f), 100, false) }),
  'async/fastq-1': async (f) => ({ ms: await fastqRun(Math.round(M * f), 1, false) }),
  'async/fastq-100': async (f) => ({ ms: await fastqRun(Math.round(M * f), 100, false) }),
  'oneshot/cmwq-1': async (f) => ({ ms: await cmwqOneshot(Math.round(M * f), 1) }),
  'oneshot/cmwq-100': async (f) => ({ ms: await cmwqOneshot(Math.round(M * f), 100) }),
  'oneshot/fastq-1': async (f) => ({ ms: await fastqRun(Math.round(M * f), 1, false) }),
  'oneshot/fastq-100': async (f) => ({ ms: await fastqRun(Math.round(M * f), 100, false) }),
  'reused-async/cmwq-1': async (f) => ({ ms: await cmwqReused(f, 1, false) }),
  'reused-async/cmwq-dfl': async (f) => ({ ms: await cmwqReused(f, 0, false) }),
  'reused-async/fastq-1': async (f) => ({ ms: await fastqReused(f, false) }),
  'reused-sync/cmwq-1': async (f) => ({ ms: await cmwqReused(f, 1, true) }),
  'reused-sync/cmwq-dfl': async (f) => ({ ms: await cmwqReused(f, 0, true) }),
  'reused-sync/fastq-1': async (f) => ({ ms: await fastqReused(f, true) }),
  'sync/cmwq-dfl': async (f) => ({ ms: await cmwqNewWorks(Math.round(M * f), 0, true) }),
  'sync/fastq-1': async (f) => ({ ms: await fastqRun(Math.round(M * f), 1, true) }),
  'awaits/none': (f) => awaits(f, false),
  'awaits/cmwq-default': (f) => awaits(f, {}),
  'awaits/cmwq-noContext': (f) => awaits(f, { asyncContext: false }),
  'awaits/cmwq-asyncContext': (f) => awaits(f, { asyncContext: true }),
  'async-ctx/cmwq-noContext': (f) => withCpu(() => cmwqNewWorks(Math.round(M * f), 1, false, false)),
  'async-ctx/cmwq-asyncContext': (f) => withCpu(() => cmwqNewWorks(Math.round(M * f), 1, false, true)),
  'starve/cmwq-1': async (f) => {
    const { allocWorkqueue, flushWorkqueue, queueWork, Work } = await cmwq();
    const wq = allocWorkqueue(`hot${f}`, 0, 1);
    return starve(Math.round(M * f), (n) => {
      for (let i = 0; i < n; i++) queueWork(wq, new Work(asyncNoop));
      return flushWorkqueue(wq);
    });
  },
  'starve/cmwq-100': async (f) => {
    const { allocWorkqueue, flushWorkqueue, queueWork, Work } = await cmwq();
    const wq = allocWorkqueue(`hot${f}`, 0, 100);
    return starve(Math.round(M * f), (n) => {
      for (let i = 0; i < n; i++) queueWork(wq, new Work(asyncNoop));
      return flushWorkqueue(wq);
    });
  },
  'starve/fastq-1': async (f) => {
    const fastq = (await import('fastq')).default;
    const q = fastq((_: number, cb: (e: Error | null) => void) => {
      asyncNoop().then(() => cb(null), cb);
    }, 1);
    return starve(Math.round(M * f), (n) => {
      for (let i = 0; i < n; i++) q.push(i);
      return new Promise<void>((resolve) => (q.drain = resolve));
    });
  },
  'sleeping/cmwq-64': async (f) => {
    const { allocWorkqueue, flushWorkqueue, queueWork, Work, destroyWorkqueue } = await cmwq();
    const wq = allocWorkqueue('hot', 0, 64);
    const n = Math.round(SLEEPERS * f);
    executed = 0;
    const t0 = now();
    for (let i = 0; i < n; i++) queueWork(wq, new Work(sleeper));
    await flushWorkqueue(wq);
    const ms = now() - t0;
    expect(n, 'sleeping');
    await destroyWorkqueue(wq);
    return { ms };
  },
  'sleeping/limiter-64': async (f) => {
    const q = limiter(64, sleeper);
    const n = Math.round(SLEEPERS * f);
    executed = 0;
    const t0 = now();
    const idle = q.idle();
    for (let i = 0; i < n; i++) q.push();
    await idle;
    const ms = now() - t0;
    expect(n, 'limiter');
    return { ms };
  },
  'arm/cmwq': async (f) => {
    const { allocWorkqueue, DelayedWork, queueDelayedWork, cancelDelayedWork } = await cmwq();
    const wq = allocWorkqueue('hot');
    const n = Math.round(ARM * f);
    const d = delays(n);
    const held: unknown[] = new Array(n).fill(null);
    const before = heapUsed();
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const dw = new DelayedWork(syncNoop);
      queueDelayedWork(wq, dw, d[i]);
      held[i] = dw;
    }
    const armMs = now() - t0;
    const bytes = (heapUsed() - before) / n;
    const t1 = now();
    for (let i = 0; i < n; i++) cancelDelayedWork(held[i] as InstanceType<typeof DelayedWork>);
    const cancelMs = now() - t1;
    return { nsPerItem: ((armMs + cancelMs) * 1e6) / n, bytesPerItem: bytes };
  },
  'arm/setTimeout': async (f) => {
    const n = Math.round(ARM * f);
    const d = delays(n);
    const held: unknown[] = new Array(n).fill(null);
    const before = heapUsed();
    const t0 = now();
    for (let i = 0; i < n; i++) held[i] = setTimeout(syncNoop, d[i]);
    const armMs = now() - t0;
    const bytes = (heapUsed() - before) / n;
    const t1 = now();
    for (let i = 0; i < n; i++) clearTimeout(held[i] as NodeJS.Timeout);
    const cancelMs = now() - t1;
    return { nsPerItem: ((armMs + cancelMs) * 1e6) / n, bytesPerItem: bytes };
  },
  'fire-burst/cmwq': (f) => cmwqFire(f, 'burst'),
  'fire-burst/setTimeout': (f) => timeoutFire(f, 'burst'),
  'fire-chunks/cmwq': (f) => cmwqFire(f, 'chunks'),
  'fire-chunks/setTimeout': (f) => timeoutFire(f, 'chunks'),
  'fire-light/cmwq': (f) => cmwqFire(f, 'light'),
  'fire-light/setTimeout': (f) => timeoutFire(f, 'light'),
  'pending/cmwq': async (f) => {
    const { allocWorkqueue, queueWork, Work, cancelWork } = await cmwq();
    const wq = allocWorkqueue(`hot${f}`);
    const n = Math.round(PENDING * f);
    const held: unknown[] = new Array(n).fill(null);
    const before = heapUsed();
    for (let i = 0; i < n; i++) {
      const w = new Work(syncNoop);
      queueWork(wq, w);
      held[i] = w;
    }
    // Read before the run loop's microtask starts them (gc() is synchronous).
    const bytes = (heapUsed() - before) / n;
    for (let i = 0; i < n; i++) cancelWork(held[i] as InstanceType<typeof Work>);
    return { bytesPerItem: bytes };
  },
  'pending/fastq': async (f) => {
    const fastq = (await import('fastq')).default;
    const q = fastq((_: number, cb: (e: null) => void) => cb(null), 1);
    q.pause();
    const n = Math.round(PENDING * f);
    const before = heapUsed();
    for (let i = 0; i < n; i++) q.push(i);
    const bytes = (heapUsed() - before) / n;
    q.kill();
    return { bytesPerItem: bytes };
  },
};

async function main(id: string): Promise<void> {
  const c = CASES[id];
  if (c === undefined) throw new Error(`unknown case ${id}`);
  await c(0.1);
  gc();
  await turn();
  const figures = await c(1);
  process.stdout.write(`${HOT_RESULT}${JSON.stringify(figures)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv[2]);
