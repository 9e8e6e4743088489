/**
 * cpu-heavy: CPU-bound work taken off the main thread, onto an unbound workqueue's worker threads.
 *
 * In the kernel, a per-CPU workqueue expects its items to be short or to sleep: concurrency management keeps one
 * runnable worker per CPU, so an item that burns the CPU delays everything behind it on that CPU. The kernel
 * counts a run longer than wq_cpu_intensive_thresh_us (10 ms) as "CPU intensive" and, when one function keeps
 * doing it, prints "... hogged CPU ... consider switching to WQ_UNBOUND". Unbound workqueues hand their items to
 * worker pools that are not tied to a CPU, and max_active bounds how many run at once.
 *
 * cmwq does the same on Node. The main thread's event loop is a CPU: a handler that computes for 100 ms there
 * holds back every timer and socket for 100 ms. A module work, whose function is named by module and export,
 *
 *     new Work(workFunc(new URL('./crunch.js', import.meta.url), 'crunch'), job)
 *
 * runs on the unbound pool's worker threads instead (its data is structured-cloned there). Here several jobs,
 * each a few 30 ms slices of pure computation that never yield, are queued on
 *
 *     allocWorkqueue('crunch', WQ_UNBOUND, 2)
 *
 * so at most two are in flight and the others wait, inactive, starting in FIFO order. Meanwhile:
 *
 * - a 10 ms heartbeat timer on the main thread keeps firing on time: the computation is not on this thread;
 * - the main thread follows the jobs through the cmwq:workqueue_execute_start / _end tracepoints, which fire on
 *   the thread that queued an item even when it runs on another one (work.data tells the jobs apart);
 * - wqMonitor() shows the workqueue mid-run (infl 2, the rest pending) and at the end: total, cpuTime, and
 *   cpuIntensive, which counts the long runs on threads too (without the "hogged CPU" warning: the work already
 *   is where the kernel would send it).
 *
 * Last, a result back: workOnWorkqueue(crunchWq, workFunc(url, 'checksum'), bytes) runs one function on the
 * workqueue's pool threads and resolves with what it returns (as piscina's run() does); workOnCpu(1, ...) does the
 * same on CPU 1's thread.
 *
 * Run: npm run build && node dist/examples/cpu-heavy/index.js [--short]
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  Work,
  workFunc,
  workOnCpu,
  workOnWorkqueue,
  wqMonitor,
  WQ_UNBOUND,
  type WorkEvent,
} from 'cmwq';
import { createLog, SHORT } from '../shared.js';
import type { CrunchJob } from './crunch.js';

const log = createLog(9); // who-column width

// --short (or CMWQ_EXAMPLE_SHORT=1) runs fewer jobs of fewer slices.
const JOBS = SHORT ? 4 : 8;
const SLICES = SHORT ? 10 : 20;
const SLICE_MS = 30;
const HEARTBEAT_MS = 10;

/** The module the threads load: crunch.ts compiles to crunch.js next to this file. */
const CRUNCH_MODULE = new URL('./crunch.js', import.meta.url);
const crunch = workFunc(CRUNCH_MODULE, 'crunch');

// At most two crunch jobs in flight at once (max_active of an unbound workqueue), each on a worker thread.
const crunchWq = allocWorkqueue('crunch', WQ_UNBOUND, 2);

// The heartbeat: how late does a periodic timer on the main thread fire while the jobs run?
let beats = 0;
let maxLag = 0;
let last = performance.now();
const heartbeat = setInterval(() => {
  const now = performance.now();
  beats++;
  maxLag = Math.max(maxLag, now - last - HEARTBEAT_MS);
  last = now;
}, HEARTBEAT_MS);

// Tracepoints, on the main thread: an item that runs on a worker thread starts and ends here too.
let inFlight = 0;
let maxInFlight = 0;
const order: number[] = [];

function crunchRow() {
  return wqMonitor().find((r) => r.name === 'crunch')!;
}

function onStart(message: unknown): void {
  const { work, workqueue } = message as WorkEvent;
  if (workqueue !== 'crunch') return;
  const job: CrunchJob = work.data; // the main thread's own copy of the job
  order.push(job.id);
  maxInFlight = Math.max(maxInFlight, ++inFlight);
  log(`job ${job.id}`, `starts on a worker thread (${inFlight} in flight)`);
  if (order.length === 2) {
    // Look at the workqueue as the second job starts: two in flight, the rest waiting (inactive, over max_active).
    // (On a very busy machine the pool's second thread may come up only after job 1 is done: then infl is 1.)
    const row = crunchRow();
    log('monitor', `mid-run: infl ${row.infl} (max_active 2), pending ${row.pending}`);
  }
}

function onEnd(message: unknown): void {
  const { work, workqueue, error } = message as WorkEvent;
  if (workqueue !== 'crunch') return;
  const job: CrunchJob = work.data;
  inFlight--;
  log(`job ${job.id}`, error === undefined ? 'done' : `failed: ${String(error)}`);
}

diagnosticsChannel.subscribe('cmwq:workqueue_execute_start', onStart);
diagnosticsChannel.subscribe('cmwq:workqueue_execute_end', onEnd);

log('main', `queueing ${JOBS} jobs of ${SLICES} x ${SLICE_MS} ms on "crunch" (WQ_UNBOUND, maxActive 2)`);
for (let id = 1; id <= JOBS; id++) queueWork(crunchWq, new Work(crunch, { id, slices: SLICES, sliceMs: SLICE_MS }));

await flushWorkqueue(crunchWq);
clearInterval(heartbeat);
diagnosticsChannel.unsubscribe('cmwq:workqueue_execute_start', onStart);
diagnosticsChannel.unsubscribe('cmwq:workqueue_execute_end', onEnd);

log('main', `all ${JOBS} jobs done, started in order ${order.join(', ')}; at most ${maxInFlight} in flight`);
log(
  'main',
  `heartbeat every ${HEARTBEAT_MS} ms: fired ${beats} times, at most ${Math.round(maxLag)} ms late (each job computed for ${SLICES * SLICE_MS} ms without yielding)`,
);

const row = crunchRow();
log('monitor', 'wqMonitor() row for "crunch":');
log(
  'monitor',
  `  total ${row.total}  infl ${row.infl}  pending ${row.pending}  failed ${row.failed}  cpuIntensive ${row.cpuIntensive}`,
);
log('monitor', `  cpuTime ${row.cpuTime.toFixed(0)} ms (the jobs' synchronous time, timed on their threads)`);
log(
  'monitor',
  `  wait p50 ${row.waitP50.toFixed(1)} ms  p99 ${row.waitP99.toFixed(1)} ms   run p50 ${row.runP50.toFixed(1)} ms  p99 ${row.runP99.toFixed(1)} ms`,
);
log(
  'monitor',
  `cpuIntensive ${row.cpuIntensive}: runs over 10 ms (each job is one, on its thread; no "hogged CPU" warning on an unbound workqueue)`,
);

// One call on CPU 1's thread (CPU 0 is this one), and its result back. Arguments and results are cloned.
const cpu = Math.min(1, availableParallelism() - 1);
const bytes = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
const sum = await workOnCpu<Uint8Array, number>(cpu, workFunc(CRUNCH_MODULE, 'checksum'), bytes);
log('main', `workOnCpu(${cpu}, checksum, 1 MiB) = 0x${sum.toString(16).padStart(8, '0')}`);
const pooled = await workOnWorkqueue<Uint8Array, number>(crunchWq, workFunc(CRUNCH_MODULE, 'checksum'), bytes);
log('main', `workOnWorkqueue(crunch, checksum, 1 MiB) = 0x${pooled.toString(16).padStart(8, '0')}`);

await destroyWorkqueue(crunchWq);
log('main', 'workqueue "crunch" destroyed; its threads end and the process exits');
