/**
 * Scenario — worker threads (§7, "thread dispatch" and "mixed load"): cmwq's module works on an unbound pool
 * of 2 threads against the worker-thread pools people use for this (piscina, tinypool, workerpool, poolifier), every
 * pool with exactly 2 threads, and against hand-written postMessage to 2 plain worker_threads (the floor any pool
 * built on postMessage pays). Four parts:
 *
 * (a) tiny-task throughput: 100,000 tasks that return their small number payload + 1, all handed over at once,
 *     timed until the last completes. Dispatch cost is all there is to measure. piscina runs in its best setting
 *     for tiny tasks (concurrentTasksPerWorker 16) and in its default (1); tinypool (a piscina fork) in the same
 *     best setting (2-2.5x its default here); workerpool has no such setting; poolifier in its default (its
 *     per-worker task queue with concurrency 16 measured slower for tiny tasks).
 * (b) single-item round trip: one tiny task at a time, awaited, ~2,000 times after a warm-up: p50 and p99.
 * (c) CPU-bound: 64 tasks each spinning 20 ms of CPU synchronously. Efficiency = ideal (64 x 20 ms / 2 threads)
 *     over the measured wall time: what the pool's dispatch and balancing lose on work that should saturate it.
 * (d) mixed load on one pool: 16 CPU hogs (20 ms spin) interleaved with 400 sleepers (await a 1 ms setTimeout).
 *     cmwq's threads are event loops with concurrency management: while a hog spins, the other thread keeps
 *     serving sleepers, and a sleeper's wait never holds a thread. piscina runs with concurrentTasksPerWorker 16
 *     so that its sleepers overlap too (with 1, every 1 ms sleep holds a thread).
 *
 * For cmwq a batch is timed as "queue all N Work objects, then await flushWorkqueue()"; Work objects are made
 * once, outside the measurement, and reused by every run. Peers are timed as "submit all N, await all N promises".
 * Every pool (and its threads) is made before anything is measured, and every contender's first run is an
 * unmeasured warm-up (thread start, module load, JIT). Runs alternate between contenders (harness rounds()).
 *
 * Task code: bench/tasks/cmwq-tasks.ts (cmwq module works), bench/tasks/peer-tasks.ts (piscina, tinypool, and the
 * workerpool / poolifier worker scripts), bench/tasks/signal-worker.ts (raw postMessage).
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { FixedThreadPool } from 'poolifier';
import Tinypool from 'tinypool';
import workerpool from 'workerpool';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWork,
  flushWorkqueue,
  queueWork,
  Work,
  workFunc,
  type Workqueue,
  WQ_UNBOUND,
} from '../src/index.js';
import {
  check,
  checkAtLeast,
  type Contender,
  describeRuns,
  fmtMs,
  fmtPct,
  fmtRange,
  fmtRate,
  fmtX,
  heading,
  median,
  newReport,
  now,
  percentileSorted,
  printTable,
  rounds,
  type RoundsOptions,
  type ScenarioReport,
  scaled,
  turn,
} from './harness.js';
import { workerExecArgv } from './tasks/exec-argv.js';

const THREADS = 2;
/** cmwq's maxActive for the bench workqueue (process-wide on an unbound workqueue): WQ_MAX_ACTIVE. */
const MAX_ACTIVE = 512;

// (a)
const N = scaled(100_000);
/**
 * The peers other than piscina's best setting take 2-6.5 s per run at 100,000 tiny tasks on this machine:
 * they run SLOW_N items per run and are compared by items/s (a pool's per-task cost does not fall with more tasks),
 * which keeps the scenario within two minutes.
 */
const SLOW_N = scaled(25_000);
const RAW_BATCH = 64;
const TINY_OPTS: RoundsOptions = { runs: 5, warmup: 1 };
// (b)
const RT_ITERS = scaled(2_000);
/**
 * Round trips are a few tens of microseconds, and on a busy 2-core machine their level drifts over seconds: the
 * contenders alternate in short runs (100 round trips each) so that every contender sees the same drift.
 */
const RT_RUNS = Math.max(1, Math.min(20, Math.round(RT_ITERS / 100)));
// (c)
const SPIN_MS = 20;
/** 64 at scale 1; always a multiple of THREADS, so that the ideal is reachable. */
const CPU_N = Math.max(THREADS, Math.round(scaled(64) / THREADS) * THREADS);
const CPU_IDEAL_MS = (CPU_N * SPIN_MS) / THREADS;
const CPU_OPTS: RoundsOptions = { runs: 5, warmup: 1 };
/** The peers beyond piscina are run 3 times in (c): they are there for context, not for a target. */
const CPU_PEER_RUNS = 3;
// (d)
const HOGS = scaled(16);
const SLEEPERS = scaled(400);
const SLEEP_MS = 1;
const PEER_CONCURRENCY = 16;
const MIXED_OPTS: RoundsOptions = { runs: 5, warmup: 1 };

const ROUND_TRIP_TARGET = 0.15;
const CPU_TARGET = 0.97;
const TINY_TARGET = 5;

const CMWQ_TASKS = new URL('./tasks/cmwq-tasks.js', import.meta.url);
const PEER_TASKS = new URL('./tasks/peer-tasks.js', import.meta.url);
const WORKERPOOL_WORKER = new URL('./tasks/workerpool-worker.js', import.meta.url);
const POOLIFIER_WORKER = new URL('./tasks/poolifier-worker.js', import.meta.url);
const RAW_WORKER = new URL('./tasks/signal-worker.js', import.meta.url);

type TaskName = 'tiny' | 'spin' | 'sleeper';

/** A peer pool reduced to what the scenario needs. */
interface Peer {
  name: string;
  exec(task: TaskName, data: number): PromiseLike<unknown>;
  close(): Promise<void>;
}

const CMWQ = 'cmwq (unbound, 2 threads)';
const PISCINA_BEST = `piscina (concurrentTasksPerWorker ${PEER_CONCURRENCY})`;
const PISCINA_DFL = 'piscina (concurrentTasksPerWorker 1, default)';
const TINYPOOL = `tinypool (concurrentTasksPerWorker ${PEER_CONCURRENCY})`;
const WORKERPOOL = 'workerpool';
const POOLIFIER = 'poolifier (FixedThreadPool)';
const RAW = 'raw postMessage, 1 message per task';
const RAW_BATCHED = `raw postMessage, ${RAW_BATCH} tasks per message`;

function makePeers(): Peer[] {
  const execArgv = workerExecArgv();
  // idleTimeout: the default (piscina: immediate) would end a thread between two runs; every pool keeps its 2.
  const piscina = (concurrentTasksPerWorker: number): Piscina =>
    new Piscina({
      filename: PEER_TASKS.href,
      minThreads: THREADS,
      maxThreads: THREADS,
      idleTimeout: 60_000,
      concurrentTasksPerWorker,
      ...(execArgv ? { execArgv } : {}),
    });
  const pBest = piscina(PEER_CONCURRENCY);
  const pDfl = piscina(1);
  const tiny = new Tinypool({
    filename: PEER_TASKS.href,
    minThreads: THREADS,
    maxThreads: THREADS,
    idleTimeout: 60_000,
    concurrentTasksPerWorker: PEER_CONCURRENCY,
    ...(execArgv ? { execArgv } : {}),
  });
  const wp = workerpool.pool(fileURLToPath(WORKERPOOL_WORKER), {
    minWorkers: THREADS,
    maxWorkers: THREADS,
    workerType: 'thread',
    ...(execArgv ? { workerThreadOpts: { execArgv } } : {}),
  });
  const pf = new FixedThreadPool<number, unknown>(THREADS, fileURLToPath(POOLIFIER_WORKER), {
    enableEvents: false,
    errorHandler: (e) => console.error('poolifier worker error:', e),
    ...(execArgv ? { workerOptions: { execArgv } } : {}),
  });
  return [
    { name: PISCINA_BEST, exec: (task, data) => pBest.run(data, { name: task }), close: () => pBest.destroy() },
    { name: PISCINA_DFL, exec: (task, data) => pDfl.run(data, { name: task }), close: () => pDfl.destroy() },
    { name: TINYPOOL, exec: (task, data) => tiny.run(data, { name: task }), close: () => tiny.destroy() },
    {
      name: WORKERPOOL,
      exec: (task, data) => wp.exec(task, [data]),
      close: async () => {
        await wp.terminate();
      },
    },
    { name: POOLIFIER, exec: (task, data) => pf.execute(data, task), close: () => closePoolifier(pf) },
  ];
}

/**
 * poolifier's destroy() now and then never settles here (about 1 run in 25; its workers' ports stay ref'd and the
 * scenario's process would never exit): give it 5 s, then terminate its threads ourselves and say so.
 */
async function closePoolifier(pf: FixedThreadPool<number, unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 5000)));
  const stuck = await Promise.race([pf.destroy().then(() => false), timedOut]);
  clearTimeout(timer);
  if (!stuck) return;
  console.error('   (poolifier: destroy() did not settle within 5 s; terminating its threads directly)');
  const nodes = (pf as unknown as { workerNodes: { worker: { terminate(): Promise<number> } }[] }).workerNodes;
  await Promise.all(nodes.map((node) => node.worker.terminate()));
}

/**
 * Hand-written postMessage to plain worker_threads (bench/tasks/signal-worker.ts in 'message' mode): a number is
 * one task, answered with one message; an array is a batch, answered with one array.
 */
class RawEcho {
  readonly workers: Worker[] = [];
  private left = 0;
  private sum = 0;
  private wake: (() => void) | null = null;

  constructor(threads: number) {
    const execArgv = workerExecArgv();
    for (let i = 0; i < threads; i++) {
      const w = new Worker(RAW_WORKER, { workerData: { mode: 'message' }, ...(execArgv ? { execArgv } : {}) });
      w.on('message', this.onMessage);
      w.on('error', (e) => console.error('raw worker error:', e));
      this.workers.push(w);
    }
  }

  private readonly onMessage = (m: number | number[]): void => {
    if (typeof m === 'number') {
      this.sum += m;
      this.left--;
    } else {
      for (let i = 0; i < m.length; i++) this.sum += m[i];
      this.left -= m.length;
    }
    if (this.left === 0 && this.wake !== null) {
      const f = this.wake;
      this.wake = null;
      f();
    }
  };

  private expect(n: number): Promise<void> {
    this.left = n;
    this.sum = 0;
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** n tasks over all workers, round-robin: one message each (batch 1) or arrays of `batch`. */
  async many(n: number, batch: number): Promise<void> {
    const done = this.expect(n);
    const ws = this.workers;
    if (batch === 1) {
      for (let i = 0; i < n; i++) ws[i % ws.length].postMessage(i);
    } else {
      for (let i = 0, k = 0; i < n; i += batch, k++) {
        const m = Math.min(batch, n - i);
        const items = new Array<number>(m);
        for (let j = 0; j < m; j++) items[j] = i + j;
        ws[k % ws.length].postMessage(items);
      }
    }
    await done;
    if (this.sum !== (n * (n + 1)) / 2) throw new Error('raw postMessage: wrong replies');
  }

  /** One task to worker i (the first by default) and its reply back. */
  roundTrip(i = 0): Promise<void> {
    const done = this.expect(1);
    this.workers[i].postMessage(1);
    return done;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** A contender timed from its first submission until its `fn` settles. */
function timed(name: string, fn: () => PromiseLike<unknown>, extra?: Partial<Contender>): Contender {
  return {
    name,
    async run() {
      const t0 = now();
      await fn();
      return now() - t0;
    },
    ...extra,
  };
}

/** Submits n tasks to a peer at once and waits for all of them. */
function peerBatch(peer: Peer, task: TaskName, n: number, data: (i: number) => number): Promise<unknown> {
  const ps: PromiseLike<unknown>[] = [];
  for (let i = 0; i < n; i++) ps.push(peer.exec(task, data(i)));
  return Promise.all(ps);
}

/** Queues every Work (each must be idle: queueWork true), then waits for all of them with flushWorkqueue. */
function cmwqBatch(wq: Workqueue, works: readonly Work<number>[]): Promise<void> {
  let queued = 0;
  for (let i = 0; i < works.length; i++) if (queueWork(wq, works[i])) queued++;
  if (queued !== works.length)
    throw new Error(`cmwq: ${works.length - queued} of ${works.length} works were still pending`);
  return flushWorkqueue(wq);
}

const rateOf = (n: number, ms: readonly number[]): number => (n / median(ms)) * 1000;

function fmtUs(ms: number): string {
  return Number.isFinite(ms) ? `${(ms * 1000).toFixed(1)} us` : '-';
}

function fmtEff(fraction: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)}%` : '-';
}

export async function run(): Promise<ScenarioReport> {
  const report = newReport('threads');
  const tinyFn = workFunc(CMWQ_TASKS, 'tiny');
  const spinFn = workFunc(CMWQ_TASKS, 'spin');
  const sleeperFn = workFunc(CMWQ_TASKS, 'sleeper');
  const wq = allocWorkqueue('bench-threads', WQ_UNBOUND, MAX_ACTIVE, { maxWorkers: THREADS });
  const peers = makePeers();
  const peer = (name: string): Peer => peers.find((p) => p.name === name)!;
  const raw = new RawEcho(THREADS);
  let runError: unknown;
  try {
    await tinyThroughput(report, wq, tinyFn, peers, raw);
    await roundTrip(report, wq, tinyFn, peers, raw);
    await cpuBound(report, wq, spinFn, peers);
    await mixed(report, wq, spinFn, sleeperFn, [peer(PISCINA_BEST), peer(PISCINA_DFL)]);
  } catch (error) {
    runError = error;
  }
  {
    // Every pool is closed, whatever fails, so that nothing keeps the scenario's process alive.
    const closers: (() => Promise<void>)[] = [
      () => destroyWorkqueue(wq),
      ...peers.map((p) => () => p.close()),
      () => raw.close(),
    ];
    const failed: unknown[] = [];
    const names = ['cmwq', ...peers.map((p) => p.name), 'raw'];
    for (const [i, close] of closers.entries()) {
      await close().catch((e: unknown) => failed.push(e));
      // CMWQ_BENCH_TRACE=1: say which pool has closed (a pool that never does keeps the scenario alive).
      if (process.env.CMWQ_BENCH_TRACE) console.error(`closed: ${names[i]}`);
    }
    if (runError !== undefined) throw runError;
    if (failed.length > 0) throw failed[0];
  }
  return report;
}

type Wq = Workqueue;
type Fn = ReturnType<typeof workFunc>;

// ---- (a) tiny-task throughput ----

async function tinyThroughput(
  report: ScenarioReport,
  wq: Wq,
  tinyFn: Fn,
  peers: readonly Peer[],
  raw: RawEcho,
): Promise<void> {
  const works: Work<number>[] = [];
  for (let i = 0; i < N; i++) works.push(new Work(tinyFn, 42));
  const itemsOf = new Map<string, number>();
  const add = (c: Contender, n: number): Contender => {
    itemsOf.set(c.name, n);
    return c;
  };
  const contenders: Contender[] = [
    add(
      timed(CMWQ, () => cmwqBatch(wq, works)),
      N,
    ),
    add(
      timed(RAW, () => raw.many(N, 1)),
      N,
    ),
    add(
      timed(RAW_BATCHED, () => raw.many(N, RAW_BATCH)),
      N,
    ),
    ...peers.map((p) => {
      const n = p.name === PISCINA_BEST ? N : SLOW_N;
      return add(
        timed(p.name, () => peerBatch(p, 'tiny', n, (i) => i)),
        n,
      );
    }),
  ];
  const results = await rounds(contenders, TINY_OPTS);

  heading(
    `Threads (a): ${N.toLocaleString('en-US')} tiny tasks on ${THREADS} threads (${describeRuns(contenders, TINY_OPTS)})`,
    `piscina's default, tinypool, workerpool and poolifier run ${SLOW_N.toLocaleString('en-US')} tasks per run ` +
      `(seconds per run at ${N.toLocaleString('en-US')}); compare items/s.\n` +
      `raw postMessage: 2 plain worker_threads echoing n + 1, tasks posted round-robin, all at once; one row posts\n` +
      `one message per task, the other arrays of ${RAW_BATCH}. cmwq: queueWork x N, then flushWorkqueue.`,
  );
  const best = rateOf(N, results.get(PISCINA_BEST)!);
  const rawRate = rateOf(N, results.get(RAW)!);
  printTable(
    ['contender', 'tasks', 'median', 'min .. max', 'items/s', 'vs piscina c16', 'vs raw 1/msg'],
    [...results].map(([name, ms]) => {
      const n = itemsOf.get(name)!;
      const rate = rateOf(n, ms);
      return [
        name,
        n.toLocaleString('en-US'),
        fmtMs(median(ms)),
        fmtRange(ms),
        fmtRate(rate),
        fmtX(rate / best),
        fmtX(rate / rawRate),
      ];
    }),
  );
  for (const [name, ms] of results) report.figures[`tiny.${name}.itemsPerSec`] = rateOf(itemsOf.get(name)!, ms);
  const cm = rateOf(N, results.get(CMWQ)!);
  checkAtLeast(
    report,
    `threads: ${N.toLocaleString('en-US')} tiny module works, cmwq speed / ${PISCINA_BEST}`,
    cm / best,
    TINY_TARGET,
  );
  console.log(`   (cmwq at ${fmtX(cm / rawRate)} the rate of raw postMessage with one message per task)`);
}

// ---- (b) single-item round trip ----

async function roundTrip(
  report: ScenarioReport,
  wq: Wq,
  tinyFn: Fn,
  peers: readonly Peer[],
  raw: RawEcho,
): Promise<void> {
  const rt = new Work(tinyFn, 42);
  const perRun = Math.max(1, Math.round(RT_ITERS / RT_RUNS));
  const samples = new Map<string, number[]>();
  // No full GC between these short runs (round trips allocate little): just one macrotask turn.
  const opts: RoundsOptions = { runs: RT_RUNS, warmup: 2, between: turn };
  /** A contender doing perRun awaited round trips per run; every sample of the measured runs counts for p50 / p99. */
  const pingPong = (name: string, once: () => PromiseLike<unknown>): Contender => {
    samples.set(name, []);
    let calls = 0;
    return {
      name,
      async run() {
        const mine: number[] = [];
        for (let i = 0; i < perRun; i++) {
          const t0 = now();
          await once();
          mine.push(now() - t0);
        }
        if (++calls > opts.warmup) samples.get(name)!.push(...mine);
        return median(mine);
      },
    };
  };
  const RAW_PP = 'raw postMessage ping-pong (1 thread)';
  // The same echo on the other raw thread: on a 2-vCPU VM, where the scheduler places a thread that wakes up makes
  // identical threads differ by up to 3x in round trip; this row shows the spread of the reference itself.
  const RAW_PP2 = 'raw postMessage ping-pong (the other thread)';
  const contenders: Contender[] = [
    pingPong(CMWQ, () => {
      if (!queueWork(wq, rt)) throw new Error('cmwq: round-trip work still pending');
      return flushWork(rt);
    }),
    pingPong(RAW_PP, () => raw.roundTrip()),
    pingPong(RAW_PP2, () => raw.roundTrip(1)),
    ...peers.map((p) => pingPong(p.name, () => p.exec('tiny', 1))),
  ];
  await rounds(contenders, opts);

  heading(
    `Threads (b): single-task round trip, one at a time, awaited (${(perRun * RT_RUNS).toLocaleString('en-US')} ` +
      `samples each over ${RT_RUNS} alternating runs, after ${perRun * opts.warmup} warm-up)`,
    'cmwq: queueWork(wq, work) then await flushWork(work). raw: postMessage to one worker, await its reply.',
  );
  const p = (name: string, q: number): number =>
    percentileSorted(
      samples.get(name)!.sort((a, b) => a - b),
      q,
    );
  const rawP50 = p(RAW_PP, 50);
  printTable(
    ['contender', 'p50', 'p99', 'p50 vs raw'],
    [...samples.keys()].map((name) => [name, fmtUs(p(name, 50)), fmtUs(p(name, 99)), fmtPct(p(name, 50) / rawP50 - 1)]),
  );
  for (const name of samples.keys()) {
    report.figures[`roundTrip.${name}.p50Us`] = p(name, 50) * 1000;
    report.figures[`roundTrip.${name}.p99Us`] = p(name, 99) * 1000;
  }
  const over = p(CMWQ, 50) / rawP50 - 1;
  check(report, {
    label: 'threads: single-task round trip p50, cmwq over raw postMessage ping-pong',
    value: over,
    shown: fmtPct(over),
    target: `<= +${(ROUND_TRIP_TARGET * 100).toFixed(0)}%`,
    holds: over <= ROUND_TRIP_TARGET,
  });
}

// ---- (c) CPU-bound ----

async function cpuBound(report: ScenarioReport, wq: Wq, spinFn: Fn, peers: readonly Peer[]): Promise<void> {
  const works: Work<number>[] = [];
  for (let i = 0; i < CPU_N; i++) works.push(new Work(spinFn, SPIN_MS));
  const contenders: Contender[] = [
    timed(CMWQ, () => cmwqBatch(wq, works)),
    ...peers
      // piscina's default is its best setting for CPU-bound tasks (16 per thread would not run them any sooner).
      .filter((p) => p.name !== PISCINA_BEST)
      .map((p) =>
        timed(
          p.name,
          () => peerBatch(p, 'spin', CPU_N, () => SPIN_MS),
          p.name === PISCINA_DFL ? undefined : { runs: CPU_PEER_RUNS },
        ),
      ),
  ];
  const results = await rounds(contenders, CPU_OPTS);

  heading(
    `Threads (c): CPU-bound, ${CPU_N} tasks x ${SPIN_MS} ms of synchronous spinning on ${THREADS} threads ` +
      `(${describeRuns(contenders, CPU_OPTS)})`,
    `ideal ${CPU_N} x ${SPIN_MS} ms / ${THREADS} threads = ${CPU_IDEAL_MS.toFixed(0)} ms; efficiency = ideal / wall time.\n` +
      'On a machine with other load, every contender loses the same share of its cores.',
  );
  printTable(
    ['contender', 'median', 'min .. max', 'efficiency'],
    [...results].map(([name, ms]) => [name, fmtMs(median(ms)), fmtRange(ms), fmtEff(CPU_IDEAL_MS / median(ms))]),
  );
  for (const [name, ms] of results) report.figures[`cpu.${name}.efficiency`] = CPU_IDEAL_MS / median(ms);
  const eff = CPU_IDEAL_MS / median(results.get(CMWQ)!);
  check(report, {
    label: `threads: CPU-bound efficiency, cmwq (${CPU_N} x ${SPIN_MS} ms on ${THREADS} threads)`,
    value: eff,
    shown: fmtEff(eff),
    target: `>= ${(CPU_TARGET * 100).toFixed(0)}%`,
    holds: eff >= CPU_TARGET,
  });
}

// ---- (d) mixed load ----

async function mixed(report: ScenarioReport, wq: Wq, spinFn: Fn, sleeperFn: Fn, peers: readonly Peer[]): Promise<void> {
  // The hogs spread evenly through the sleepers: hog, 25 sleepers, hog, 25 sleepers, ...
  const total = HOGS + SLEEPERS;
  const isHog: boolean[] = [];
  for (let i = 0, h = 0; i < total; i++) {
    const hog = h < HOGS && i >= Math.floor((h * total) / HOGS);
    if (hog) h++;
    isHog.push(hog);
  }
  const works = isHog.map((hog) => (hog ? new Work(spinFn, SPIN_MS) : new Work(sleeperFn, SLEEP_MS)));
  const contenders: Contender[] = [
    timed(CMWQ, () => cmwqBatch(wq, works)),
    ...peers.map((p) =>
      timed(p.name, () => {
        const ps: PromiseLike<unknown>[] = [];
        for (let i = 0; i < total; i++) ps.push(isHog[i] ? p.exec('spin', SPIN_MS) : p.exec('sleeper', SLEEP_MS));
        return Promise.all(ps);
      }),
    ),
  ];
  const results = await rounds(contenders, MIXED_OPTS);

  const floorMs = (HOGS * SPIN_MS) / THREADS;
  heading(
    `Threads (d): mixed load on one pool of ${THREADS} threads, ${HOGS} CPU hogs (${SPIN_MS} ms spin) interleaved with ` +
      `${SLEEPERS} sleepers (await ${SLEEP_MS} ms) (${describeRuns(contenders, MIXED_OPTS)})`,
    `cmwq: one unbound workqueue (maxActive ${MAX_ACTIVE}, maxWorkers ${THREADS}). piscina with ` +
      `concurrentTasksPerWorker ${PEER_CONCURRENCY}, so that its sleepers overlap too;\n` +
      `its default (1) shown for reference. The hogs alone need ${HOGS} x ${SPIN_MS} ms / ${THREADS} = ${floorMs.toFixed(0)} ms.`,
  );
  const cm = median(results.get(CMWQ)!);
  printTable(
    ['contender', 'median', 'min .. max', 'cmwq speed vs this'],
    [...results].map(([name, ms]) => [name, fmtMs(median(ms)), fmtRange(ms), fmtX(median(ms) / cm)]),
  );
  for (const [name, ms] of results) report.figures[`mixed.${name}.ms`] = median(ms);
  const ratio = median(results.get(PISCINA_BEST)!) / cm;
  check(report, {
    label: `threads: mixed load, cmwq speed / ${PISCINA_BEST}`,
    value: ratio,
    shown: fmtX(ratio),
    target: '> 1x (faster)',
    holds: ratio > 1,
  });
}
