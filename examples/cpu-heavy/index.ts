/**
 * cpu-heavy: CPU-bound work on an unbound workqueue with maxActive, and what wqMonitor() says about it.
 *
 * In the kernel, a per-CPU workqueue expects its items to be short or to sleep: concurrency management keeps one
 * runnable worker per CPU, so an item that burns the CPU for a long time delays everything behind it on that CPU.
 * The kernel notices (a run longer than wq_cpu_intensive_thresh_us, 10 ms, is counted as "CPU intensive") and,
 * when one function keeps doing it, prints "... hogged CPU ... consider switching to WQ_UNBOUND". CPU-heavy work
 * belongs on an unbound workqueue, whose max_active bounds how many such items run at once.
 *
 * cmwq does the same on Node. A synchronous segment of a handler cannot be preempted; one that lasts longer than
 * cpuIntensiveThreshMs (default 10) is counted in wqMonitor()'s `cpuIntensive` column. Here six "crunch" jobs,
 * each made of several slices of pure computation (each slice longer than 10 ms), run on
 *
 *     allocWorkqueue('crunch', WQ_UNBOUND, 2)
 *
 * so at most two jobs are in flight; the others wait inactive, in FIFO order. Between slices a job yields
 * (awaits a zero-delay timer), which lets timers and I/O run: a heartbeat timer shows how late it fires (a couple
 * of slices at worst). At the end the program prints the workqueue's wqMonitor() row.
 *
 * Not yet: module works (a module specifier plus an export name) that run on the unbound pool's worker threads,
 * which would take this computation off the main thread entirely, come with the worker-threads work. Today a
 * function work on an unbound workqueue runs on the thread that queued it, with the workqueue's semantics
 * (max_active, ordering, freezing) intact.
 *
 * Run: npm run build && node dist/examples/cpu-heavy/index.js [--short]
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWork,
  flushWorkqueue,
  queueWork,
  Work,
  wqMonitor,
  WQ_UNBOUND,
} from 'cmwq';
import { createLog, SHORT } from '../shared.js';

const log = createLog(9); // who-column width

// --short (or CMWQ_EXAMPLE_SHORT=1) runs fewer jobs of fewer slices; each slice stays well above the 10 ms threshold.
const JOBS = SHORT ? 4 : 6;
const SLICES = SHORT ? 2 : 8;
/** One slice of computation: a synchronous segment this long (> cpuIntensiveThreshMs, 10 ms by default). */
const SLICE_MS = SHORT ? 35 : 25;
const HEARTBEAT_MS = 10;

/** Burns the CPU for about `msec` milliseconds (a stand-in for hashing, compression, image work, ...). */
function crunchFor(msec: number, seed: number): number {
  const end = performance.now() + msec;
  let x = seed;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
  }
  return x;
}

/** Gives the event loop back for a moment: timers (the heartbeat below) and I/O run, then the job continues. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * cmwq times synchronous segments from outside the event loop, with a small watchdog thread (a loop busy in a
 * handler cannot time itself, just as the kernel samples a running worker from the scheduler tick). The thread
 * starts the first time work is queued and takes some tens of milliseconds to come up (more on a busy machine);
 * segments that end before it is up are not seen. A long-running program never notices. This short demo makes
 * sure the detector is watching before it starts: it runs a 30 ms probe on a scratch unbound workqueue until
 * wqMonitor() shows that the probe was counted.
 */
async function waitForHogDetector(): Promise<void> {
  const probeWq = allocWorkqueue('probe', WQ_UNBOUND, 1);
  const probe = new Work(function probe() {
    crunchFor(30, 1);
  });
  let probes = 0;
  while (probes < 50 && wqMonitor().find((r) => r.name === 'probe')!.cpuIntensive === 0) {
    probes++;
    queueWork(probeWq, probe);
    await flushWork(probe);
    await sleep(10); // let the watchdog thread's report come in
  }
  await destroyWorkqueue(probeWq);
  log('main', `CPU-hog detector is watching (${probes} probe run(s) of 30 ms)`);
}

// At most two crunch jobs in flight at once, process-wide (max_active of an unbound workqueue).
const crunchWq = allocWorkqueue('crunch', WQ_UNBOUND, 2);

let inFlight = 0;
let maxInFlight = 0;
const order: number[] = [];

/** One job: SLICES synchronous slices, yielding to the event loop in between. */
async function crunchJob(work: Work<number>): Promise<void> {
  const id = work.data;
  order.push(id);
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  log(`job ${id}`, `starts (${inFlight} in flight)`);
  let x = id;
  for (let s = 1; s <= SLICES; s++) {
    x = crunchFor(SLICE_MS, x); // one segment > 10 ms: counted as CPU intensive
    await yieldToLoop(); // the worker "sleeps": timers, I/O and the other in-flight job get the loop
  }
  inFlight--;
  log(`job ${id}`, `done (result ${x % 1000})`);
}

// A heartbeat: how late does a periodic timer fire while the jobs run? Each slice blocks the loop, and with two
// jobs in flight their slices can follow each other, so expect a couple of slices at worst, not whole jobs.
let maxLag = 0;
let last = performance.now();
const heartbeat = setInterval(() => {
  const now = performance.now();
  maxLag = Math.max(maxLag, now - last - HEARTBEAT_MS);
  last = now;
}, HEARTBEAT_MS);

await waitForHogDetector();

log('main', `queueing ${JOBS} jobs of ${SLICES} x ${SLICE_MS} ms on "crunch" (WQ_UNBOUND, maxActive 2)`);
for (let i = 1; i <= JOBS; i++) queueWork(crunchWq, new Work(crunchJob, i));

// Look at the workqueue while it works: two in flight, the rest waiting (inactive, over max_active).
setTimeout(() => {
  const row = wqMonitor().find((r) => r.name === 'crunch')!;
  log('monitor', `mid-run: infl ${row.infl} (max_active 2), pending ${row.pending}`);
}, SLICE_MS);

await flushWorkqueue(crunchWq);
clearInterval(heartbeat);

const row = wqMonitor().find((r) => r.name === 'crunch')!;
log('main', `all ${JOBS} jobs done, in order ${order.join(', ')}; at most ${maxInFlight} in flight`);
log('main', `heartbeat every ${HEARTBEAT_MS} ms fired at most ${Math.round(maxLag)} ms late (a slice is ${SLICE_MS} ms; with 2 jobs in flight about 2 slices can run back to back)`);
log('monitor', 'wqMonitor() row for "crunch":');
log('monitor', `  total ${row.total}  infl ${row.infl}  pending ${row.pending}  failed ${row.failed}  cpuIntensive ${row.cpuIntensive}  cmWakeup ${row.cmWakeup}`);
log('monitor', `  cpuTime ${row.cpuTime.toFixed(0)} ms (sampled by the watchdog thread, reported about once a second)`);
log('monitor', `  wait p50 ${row.waitP50.toFixed(1)} ms  p99 ${row.waitP99.toFixed(1)} ms   run p50 ${row.runP50.toFixed(1)} ms  p99 ${row.runP99.toFixed(1)} ms`);
log('monitor', `cpuIntensive ${row.cpuIntensive}: segments over 10 ms seen by the watchdog (the jobs ran ${JOBS * SLICES} slices of ${SLICE_MS} ms)`);
await destroyWorkqueue(crunchWq);
