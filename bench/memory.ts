/**
 * Scenario 4 — memory (§7): 1,000,000 pending work items (queued, not yet run). Heap used after a full GC,
 * read before and after; the difference per item is each queue's own overhead:
 *   cmwq      new Work(fn) x 1,000,000 (the Work object is cmwq's item), then queueWork() each; read before the
 *             microtask that would start running them (global.gc() is synchronous). Split into the Work object
 *             and what queueing adds.
 *   fastq     a fresh fastq (callback API), paused, push(i) x 1,000,000 (i is a small integer: no payload).
 *   others    the same for async.queue (paused) and p-queue (autoStart false) with 200,000 items (slow to add),
 *             and the hand-written floor's array.
 * The array that holds cmwq's Work objects is allocated before the first reading (the application holds them).
 */
import asyncLib from 'async';
import fastq from 'fastq';
import PQueue from 'p-queue';
import { allocWorkqueue, destroyWorkqueue, flushWorkqueue, queueWork, Work } from '../src/index.js';
import {
  type Contender,
  describeRuns,
  fmtBytes,
  fmtX,
  hasGc,
  heading,
  heapUsed,
  median,
  newReport,
  printTable,
  rounds,
  type ScenarioReport,
  slots,
  scaled,
} from './harness.js';

const N = scaled(1_000_000);
const RUNS = 5;
const WARMUP = 1;
/** async.queue and p-queue take seconds to take 1,000,000 items: they hold 200,000 (bytes per item do not depend on it). */
const SLOW_N = scaled(200_000);

let executed = 0;
function handler(): void {
  executed++;
}

export async function run(): Promise<ScenarioReport> {
  const report = newReport('memory');
  if (!hasGc) {
    console.log('\n(memory scenario skipped: needs --expose-gc)');
    return report;
  }
  const wq = allocWorkqueue('bench-memory');
  const held = slots<Work>(N);
  const workBytes: number[] = [];

  const CM = 'cmwq (Work + queueWork)';
  const FASTQ = 'fastq (callback, paused)';
  const contenders: Contender[] = [
    {
      name: CM,
      async run() {
        const before = heapUsed();
        for (let i = 0; i < N; i++) held[i] = new Work(handler);
        const created = heapUsed();
        for (let i = 0; i < N; i++) queueWork(wq, held[i]!);
        const after = heapUsed();
        executed = 0;
        await flushWorkqueue(wq);
        if (executed !== N) throw new Error(`cmwq: ${executed} of ${N} ran`);
        held.fill(null);
        workBytes.push((created - before) / N);
        return (after - before) / N;
      },
    },
    {
      name: FASTQ,
      async run() {
        const before = heapUsed();
        const q = fastq((_: number, cb: fastq.done) => {
          handler();
          cb(null);
        }, 1);
        q.pause();
        for (let i = 0; i < N; i++) q.push(i);
        const after = heapUsed();
        // Not resumed: with a synchronous worker fastq would drain 1,000,000 queued items by recursion.
        if (q.length() !== N) throw new Error(`fastq: ${q.length()} of ${N} queued`);
        q.kill();
        return (after - before) / N;
      },
    },
    {
      name: 'async.queue (paused)',
      async run() {
        const before = heapUsed();
        const q = asyncLib.queue((_: number, cb: () => void) => {
          handler();
          cb();
        }, 1);
        q.pause();
        for (let i = 0; i < SLOW_N; i++) void q.push(i);
        const after = heapUsed();
        executed = 0;
        q.resume();
        await q.drain();
        if (executed !== SLOW_N) throw new Error(`async.queue: ${executed} of ${SLOW_N} ran`);
        return (after - before) / SLOW_N;
      },
    },
    {
      name: 'p-queue (autoStart false)',
      async run() {
        const before = heapUsed();
        const q = new PQueue({ concurrency: 1, autoStart: false });
        for (let i = 0; i < SLOW_N; i++) void q.add(handler);
        const after = heapUsed();
        executed = 0;
        q.start();
        await q.onIdle();
        if (executed !== SLOW_N) throw new Error(`p-queue: ${executed} of ${SLOW_N} ran`);
        return (after - before) / SLOW_N;
      },
    },
    {
      name: 'hand-written floor (array)',
      run() {
        const before = heapUsed();
        const buf: number[] = [];
        for (let i = 0; i < N; i++) buf.push(i);
        const after = heapUsed();
        executed = 0;
        for (let i = 0; i < buf.length; i++) handler();
        return (after - before) / N;
      },
    },
  ];
  const opts = { runs: RUNS, warmup: WARMUP };
  const results = await rounds(contenders, opts);
  await destroyWorkqueue(wq);

  const cm = median(results.get(CM)!);
  const work = median(workBytes.slice(-RUNS));
  const fq = median(results.get(FASTQ)!);
  heading(
    `Memory: ${N.toLocaleString('en-US')} pending work items, heap bytes per item (${describeRuns(contenders, opts)}; full GC before each reading)`,
    `cmwq's figure counts its Work object; the peers' count what push/add allocates for a small-integer task.\n` +
      `async.queue and p-queue hold ${SLOW_N.toLocaleString('en-US')} items (seconds to add 1,000,000), per-item figures alike.`,
  );
  printTable(
    ['contender', 'bytes/item', 'of which', 'vs fastq'],
    [...results].map(([name, v]) => {
      const m = median(v);
      return [
        name,
        fmtBytes(m),
        name === CM ? `Work ${fmtBytes(work)}, queueing ${fmtBytes(m - work)}` : '',
        fmtX(m / fq),
      ];
    }),
  );
  for (const [name, v] of results) report.figures[`${name}.bytesPerItem`] = median(v);
  report.figures['cmwq.workObjectBytesPerItem'] = work;
  console.log(
    `   -> memory: ${N.toLocaleString('en-US')} pending cmwq items fit: ${((cm * N) / 2 ** 20).toFixed(0)} MiB of heap ` +
      `(${fmtBytes(cm)}/item, ${fmtX(cm / fq)} fastq's). target: fit, overhead printed: HOLDS`,
  );
  report.checks.push({
    label: `memory: cmwq bytes per pending item (fastq: ${fq.toFixed(0)} B)`,
    value: cm,
    shown: `${cm.toFixed(0)} B (${fmtX(cm / fq)} fastq)`,
    target: 'fits, printed',
    holds: true,
  });
  return report;
}
