/**
 * Scenario 2 — sleeping work (§7): 10,000 handlers that each await a 1 ms setTimeout, at most 64 in flight.
 * The arithmetic ideal is 10000 / 64 * 1 ms = 156 ms; Node's 1 ms timers alone cost some 15% over it, so the
 * reference is a minimal hand-written concurrency-limited queue doing the same (FloorQueue, limit 64).
 *
 * Every contender runs the same `async` handler; timed from the first enqueue until the queue reports idle.
 */
import fastq from 'fastq';
import PQueue from 'p-queue';
import { allocWorkqueue, destroyWorkqueue, flushWorkqueue, queueWork, Work } from '../src/index.js';
import {
  check,
  type Contender,
  type Counter,
  FloorQueue,
  fmtMs,
  fmtPct,
  fmtRange,
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

const N = scaled(10_000);
const CONCURRENCY = 64;
const SLEEP_MS = 1;
const IDEAL_MS = (N / CONCURRENCY) * SLEEP_MS;
const RUNS = 9;
const WARMUP = 1;
const TARGET = 0.03;

let done = 0;
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
async function sleeper(): Promise<void> {
  await sleep(SLEEP_MS);
  done++;
}

const finished: Counter = { reset: () => (done = 0), read: () => done, verb: 'finished' };
/** Times a run of all N items; every sleeper must have finished. */
const timed = (name: string, fn: () => Promise<void>): Contender => timedContender(name, N, finished, fn);

const CMWQ = `cmwq (maxActive ${CONCURRENCY})`;
const FLOOR = `hand-written (limit ${CONCURRENCY})`;

export async function run(): Promise<ScenarioReport> {
  const report = newReport('sleeping');
  const works: Work<unknown>[] = [];
  for (let i = 0; i < N; i++) works.push(new Work(sleeper));
  const wq = allocWorkqueue('bench-sleep', 0, CONCURRENCY);
  const floor = new FloorQueue<number>(sleeper, CONCURRENCY);
  const pq = new PQueue({ concurrency: CONCURRENCY });
  const fqp = fastq.promise(sleeper, CONCURRENCY);

  const contenders: Contender[] = [
    timed(CMWQ, () => {
      for (let i = 0; i < N; i++) queueWork(wq, works[i]);
      return flushWorkqueue(wq);
    }),
    timed(FLOOR, () => {
      for (let i = 0; i < N; i++) floor.push(i);
      return floor.onIdle();
    }),
    timed(`p-queue (c=${CONCURRENCY})`, () => {
      for (let i = 0; i < N; i++) void pq.add(sleeper);
      return pq.onIdle();
    }),
    timed(`fastq.promise (c=${CONCURRENCY})`, () => {
      for (let i = 0; i < N; i++) void fqp.push(i);
      return fqp.drained();
    }),
  ];
  const results = await rounds(contenders, { runs: RUNS, warmup: WARMUP });
  await destroyWorkqueue(wq);

  heading(
    `Sleeping work: ${N.toLocaleString('en-US')} handlers awaiting a ${SLEEP_MS} ms setTimeout, ${CONCURRENCY} in flight ` +
      `(median of ${RUNS}, ${WARMUP} warm-up, alternating)`,
    `arithmetic ideal ${N} / ${CONCURRENCY} * ${SLEEP_MS} ms = ${IDEAL_MS.toFixed(1)} ms`,
  );
  const floorMs = median(results.get(FLOOR)!);
  printTable(
    ['contender', 'median', 'min .. max', 'vs hand-written', 'vs ideal'],
    [...results].map(([name, ms]) => {
      const m = median(ms);
      return [name, fmtMs(m), fmtRange(ms), fmtPct(m / floorMs - 1), fmtX(m / IDEAL_MS)];
    }),
  );
  for (const [name, ms] of results) report.figures[`${name}.ms`] = median(ms);
  const cm = median(results.get(CMWQ)!);
  check(report, {
    label: 'sleeping: cmwq time over the hand-written queue',
    value: cm / floorMs - 1,
    shown: fmtPct(cm / floorMs - 1),
    target: `<= +${(TARGET * 100).toFixed(0)}%`,
    holds: cm / floorMs - 1 <= TARGET,
  });
  console.log(
    `   (cmwq ${fmtX(cm / IDEAL_MS)} and hand-written ${fmtX(floorMs / IDEAL_MS)} the arithmetic ideal of ${IDEAL_MS.toFixed(1)} ms)`,
  );
  return report;
}
