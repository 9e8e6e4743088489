/**
 * Scenario 1 — queue-to-execute throughput (§7): 1,000,000 tiny items through one queue, on one thread,
 * with synchronous handlers and with async handlers (`async` functions that just return).
 *
 * Every contender is timed from its first enqueue until it reports that everything has run; each handler bumps
 * a counter, checked after every run. Queues and cmwq Work objects are made once, outside the measurement, and
 * reused by every run (as an application reuses its work items).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import asyncLib from 'async';
import fastq from 'fastq';
import PQueue from 'p-queue';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  Work,
  WQ_DFL_ACTIVE,
  WQ_MAX_ACTIVE,
  type Workqueue,
} from '../src/index.js';
import {
  checkAtLeast,
  describeRuns,
  type Contender,
  type Counter,
  FloorQueue,
  fmtMs,
  fmtRange,
  fmtRate,
  fmtX,
  heading,
  median,
  newReport,
  printTable,
  rounds,
  type ScenarioReport,
  scaled,
  timedContender,
} from './harness.js';

const N = scaled(1_000_000);
const RUNS = 5;
const WARMUP = 1;
/**
 * fastq.promise, p-queue and async.queue take 2-10 s per run at 1,000,000 items on this 2-core machine (15-40x
 * cmwq's time): they run 200,000 items (1 warm-up + 5 runs like the others) and are compared by items/s, which
 * keeps the whole suite within a few minutes. Their per-item cost does not fall with more items.
 */
const SLOW_N = scaled(200_000);
const OPTS = { runs: RUNS, warmup: WARMUP };
/** p-queue's concurrency for async handlers (the brief's setting; 1 for sync handlers). */
const PQUEUE_ASYNC_CONCURRENCY = 64;
/** The floor's slot limit for async handlers (cmwq's WQ_MAX_ACTIVE, so both may keep as many in flight). */
const FLOOR_ASYNC_LIMIT = WQ_MAX_ACTIVE;
const TARGET = 1.5;

let executed = 0;
function syncHandler(): void {
  executed++;
}
async function asyncHandler(): Promise<void> {
  executed++;
}
const resolved = Promise.resolve();
/** fastq.promise needs a promise back: the sync handler, returning an already resolved one. */
function syncHandlerPromised(): Promise<void> {
  executed++;
  return resolved;
}

type Kind = 'sync' | 'async';

/** Items each contender runs (N, or SLOW_N for the slow peers). */
const itemsOf = new Map<string, number>();

const executedCount: Counter = { reset: () => (executed = 0), read: () => executed, verb: 'executed' };
/** Wraps a run of n items: resets the counter, times fn, checks that all n items ran. */
function timed(name: string, fn: (n: number) => Promise<void> | void, n = N): Contender {
  itemsOf.set(name, n);
  return timedContender(name, n, executedCount, fn);
}

function cmwqContender(name: string, wq: Workqueue, works: Work<unknown>[]): Contender {
  return timed(name, (n) => {
    for (let i = 0; i < n; i++) queueWork(wq, works[i]);
    return flushWorkqueue(wq);
  });
}

const TRACEPOINTS = ['queue_work', 'activate_work', 'execute_start', 'execute_end'].map((t) => `cmwq:workqueue_${t}`);
let traced = 0;
const tracer = (): void => {
  traced++;
};

/** cmwq with a (trivial) subscriber on every per-item tracepoint: what observing every item costs. */
function cmwqTracedContender(name: string, wq: Workqueue, works: Work<unknown>[]): Contender {
  return timed(name, async (n) => {
    for (const ch of TRACEPOINTS) diagnosticsChannel.subscribe(ch, tracer);
    try {
      traced = 0;
      for (let i = 0; i < n; i++) queueWork(wq, works[i]);
      await flushWorkqueue(wq);
      if (traced !== 4 * n) throw new Error(`${name}: ${traced} events for ${n} items`);
    } finally {
      for (const ch of TRACEPOINTS) diagnosticsChannel.unsubscribe(ch, tracer);
    }
  });
}

function peers(kind: Kind): Contender[] {
  const sync = kind === 'sync';

  const fq = sync
    ? fastq((_: number, cb: fastq.done) => {
        syncHandler();
        cb(null);
      }, 1)
    : fastq((_: number, cb: fastq.done) => {
        asyncHandler().then(() => cb(null), cb);
      }, 1);
  const fastqCb = timed('fastq (callback, c=1)', (n) => {
    for (let i = 0; i < n; i++) fq.push(i);
    if (fq.idle()) return;
    return new Promise<void>((resolve) => {
      fq.drain = () => {
        fq.drain = () => {};
        resolve();
      };
    });
  });

  const fqp = fastq.promise(sync ? syncHandlerPromised : asyncHandler, 1);
  const fastqPromise = timed(
    `fastq.promise (c=1)${sync ? ' *' : ''}`,
    (n) => {
      for (let i = 0; i < n; i++) void fqp.push(i);
      return fqp.drained();
    },
    SLOW_N,
  );

  const pqConcurrency = sync ? 1 : PQUEUE_ASYNC_CONCURRENCY;
  const pq = new PQueue({ concurrency: pqConcurrency });
  const pqueue = timed(
    `p-queue (c=${pqConcurrency})`,
    (n) => {
      const fn = sync ? syncHandler : asyncHandler;
      for (let i = 0; i < n; i++) void pq.add(fn);
      return pq.onIdle();
    },
    SLOW_N,
  );

  const aq = sync
    ? asyncLib.queue((_: number, cb: (err?: Error | null) => void) => {
        syncHandler();
        cb();
      }, 1)
    : asyncLib.queue<number>(asyncHandler as unknown as asyncLib.AsyncWorker<number>, 1);
  const asyncQueue = timed(
    'async.queue (c=1)',
    (n) => {
      for (let i = 0; i < n; i++) void aq.push(i);
      if (aq.idle()) return;
      return aq.drain();
    },
    SLOW_N,
  );

  const floor = new FloorQueue<number>(sync ? syncHandler : asyncHandler, sync ? Infinity : FLOOR_ASYNC_LIMIT);
  const floorC = timed(`hand-written floor${sync ? '' : ` (limit ${FLOOR_ASYNC_LIMIT})`}`, () => {
    for (let i = 0; i < N; i++) floor.push(i);
    return floor.onIdle();
  });

  return [fastqCb, fastqPromise, pqueue, asyncQueue, floorC];
}

const CMWQ_MAX = `cmwq (maxActive ${WQ_MAX_ACTIVE})`;
const CMWQ_DFL = `cmwq (default, ${WQ_DFL_ACTIVE})`;
const FASTQ_CB = 'fastq (callback, c=1)';
const CMWQ_TRACED = `cmwq (maxActive ${WQ_MAX_ACTIVE}, all tracepoints subscribed)`;

/** Median items per second of a contender (rows named "<name> [hooks off]" ran the same items as <name>). */
function rateOf(name: string, ms: number[]): number {
  return (itemsOf.get(name.replace(' [hooks off]', ''))! / median(ms)) * 1000;
}

function printResults(rows: [string, number[]][], refRate: number): void {
  printTable(
    ['contender', 'items', 'median', 'min .. max', 'items/s', 'speed vs fastq-cb'],
    rows.map(([name, ms]) => {
      const rate = rateOf(name, ms);
      const items = itemsOf.get(name.replace(' [hooks off]', ''))!;
      return [
        name,
        items.toLocaleString('en-US'),
        fmtMs(median(ms)),
        fmtRange(ms),
        fmtRate(rate),
        fmtX(rate / refRate),
      ];
    }),
  );
}

async function section(kind: Kind, report: ScenarioReport): Promise<void> {
  const sync = kind === 'sync';
  const handler = sync ? syncHandler : asyncHandler;
  const works: Work<unknown>[] = [];
  for (let i = 0; i < N; i++) works.push(new Work(handler));
  const wqMax = allocWorkqueue(`bench-${kind}`, 0, WQ_MAX_ACTIVE);
  const wqDfl = allocWorkqueue(`bench-${kind}-dfl`);
  const others = peers(kind);

  // The fast peers again, before cmwq has run any async handler: AsyncLocalStorage hooks off (see the note below).
  let hooksOff: Map<string, number[]> | null = null;
  if (!sync)
    hooksOff = await rounds(
      others.filter((c) => itemsOf.get(c.name) === N),
      OPTS,
    );

  const contenders = [cmwqContender(CMWQ_MAX, wqMax, works), cmwqContender(CMWQ_DFL, wqDfl, works), ...others];
  if (sync) contenders.splice(2, 0, cmwqTracedContender(CMWQ_TRACED, wqMax, works));
  const results = await rounds(contenders, OPTS);
  await destroyWorkqueue(wqMax);
  await destroyWorkqueue(wqDfl);

  heading(
    `Throughput, ${kind} handlers: ${N.toLocaleString('en-US')} items, one thread (${describeRuns(contenders, OPTS)})`,
    `fastq.promise, p-queue and async.queue run ${SLOW_N.toLocaleString('en-US')} items (seconds per run at ` +
      `${N.toLocaleString('en-US')}); compare items/s.\n` +
      (sync
        ? '* fastq.promise needs a promise back: its worker is the sync handler returning an already-resolved promise.'
        : 'By default (Node 20) cmwq runs no handler inside AsyncLocalStorage; `throughput:ctx` runs this scenario with\n' +
          'workqueueInit({ asyncContext: true }), which turns on promise hooks for the whole process. The rows\n' +
          'marked "hooks off" are the fast peers measured first, before cmwq ran: what an app without cmwq sees.'),
  );
  const rows: [string, number[]][] = [...results.entries()];
  if (hooksOff !== null) for (const [n, v] of hooksOff) rows.push([`${n} [hooks off]`, v]);
  const fqRate = rateOf(FASTQ_CB, results.get(FASTQ_CB)!);
  printResults(rows, fqRate);

  const cm = median(results.get(CMWQ_MAX)!);
  const cd = median(results.get(CMWQ_DFL)!);
  const fq = median(results.get(FASTQ_CB)!);
  const fl = median(results.get(sync ? 'hand-written floor' : `hand-written floor (limit ${FLOOR_ASYNC_LIMIT})`)!);
  for (const [name, ms] of rows) report.figures[`${kind}.${name}.itemsPerSec`] = rateOf(name, ms);

  checkAtLeast(report, `${kind}: cmwq (maxActive ${WQ_MAX_ACTIVE}) speed / fastq callback`, fq / cm, TARGET);
  checkAtLeast(report, `${kind}: cmwq (default maxActive) speed / fastq callback`, fq / cd, TARGET);
  if (hooksOff !== null) {
    const fqOff = median(hooksOff.get(FASTQ_CB)!);
    checkAtLeast(
      report,
      `${kind}: cmwq (maxActive ${WQ_MAX_ACTIVE}) speed / fastq callback [hooks off]`,
      fqOff / cm,
      TARGET,
    );
  }
  console.log(`   (cmwq maxActive ${WQ_MAX_ACTIVE} costs ${fmtX(cm / fl)} the hand-written floor's time)`);
  if (sync) {
    const traced = median(results.get(CMWQ_TRACED)!);
    report.figures['sync.tracepointCostX'] = traced / cm;
    console.log(`   (every per-item tracepoint subscribed: ${fmtX(traced / cm)} the time of cmwq unobserved)`);
  }
}

export async function run(): Promise<ScenarioReport> {
  const report = newReport('throughput');
  // Synchronous handlers first: nothing has enabled AsyncLocalStorage's promise hooks yet.
  await section('sync', report);
  await section('async', report);
  return report;
}
