/**
 * `cmwq demo`: the classic "workqueue demo" kernel module, run for real on cmwq.
 *
 * The module's life is reproduced step by step:
 *
 *   init (insmod)   schedules an immediate work on the system workqueue, a delayed work (2 s) that re-arms itself
 *                   until it has run DELAYED_RUNS times, a periodic work that re-arms itself forever, and creates
 *                   a dedicated ordered workqueue (the kernel's create_singlethread_workqueue) with numbered items
 *                   that each "process task_i" by sleeping a little: handlers run in process context, so they may
 *                   sleep (here: await).
 *   ~10 s later     exit (rmmod): cancels the delayed and periodic works and the immediate work with the ...Sync
 *                   calls, flushes the dedicated workqueue and destroys it.
 *
 * The system workqueue's works are functions and run on this thread's loop (CPU 0). The dedicated workqueue's
 * items are a module work (demo-works.ts): an ordered workqueue is unbound, so they run on a thread of its
 * unbound pool, one at a time and in queueing order, and their lines carry that thread's id where the kernel
 * demo printed its kworker's PID. The handler there posts its lines on a BroadcastChannel; this thread prints
 * them. Exit waits for the lines of every item that ended before it says the workqueue was flushed, so the
 * output never shows an item's line after its workqueue is gone.
 *
 * Every line is printed as it happens, dmesg style: seconds since start, then who printed it (the worker's name
 * and thread id inside a handler; insmod/rmmod for the module's init and exit). At the end a per-workqueue summary
 * is printed, built from cmwq's tracepoints (node:diagnostics_channel), with `timeline` which worker ran which
 * function when, and last the wqMonitor() table as `cmwq top` shows it.
 */
import { randomUUID } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import {
  allocOrderedWorkqueue,
  cancelDelayedWorkSync,
  cancelWorkSync,
  currentWork,
  DelayedWork,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  scheduleDelayedWork,
  scheduleWork,
  Work,
  type WorkEvent,
  workFunc,
  workPending,
  WQ_MEM_RECLAIM,
  wqMonitor,
  type WqMonitorRow,
} from '../index.js';
import type { DedicatedTask, DemoLine } from './demo-works.js';
import { formatMonitor } from './top.js';

export interface DemoOptions {
  /** Divide every delay by FAST_SCALE, so that the whole demo takes about a second. */
  fast?: boolean;
  /** At the end, print which worker ran which function, when. */
  timeline?: boolean;
  /** Where lines go (default: stdout). */
  out?: (line: string) => void;
}

/** How much --fast shortens every delay. */
export const FAST_SCALE = 20;
/** The module's delays, in ms at normal speed. */
export const DELAYED_WORK_DELAY_MS = 2000;
export const PERIODIC_WORK_PERIOD_MS = 3000;
export const UNLOAD_AFTER_MS = 10_000;
const IMMEDIATE_SLEEP_MS = 500;
const TASK_SLEEP_MS = 300;
/** How many times the delayed work runs (it re-arms itself until then). */
export const DELAYED_RUNS = 3;
/** Items queued on the dedicated workqueue: 0..DEDICATED_ITEMS-1. */
export const DEDICATED_ITEMS = 5;
export const DEDICATED_WQ_NAME = 'workqueue_demo';
/**
 * How long exit waits, at most, for the threads' lines of items that have ended (they come on another port than
 * the items' ends, so they may come a moment later); only a lost line would make it wait that long.
 */
const LINE_WAIT_MS = 2000;

/**
 * TEMPORARY: cmwq has no public way yet to learn which worker executes a work item. This reads the internal
 * `_worker` field (src/core/work.ts: the worker executing the item, null when it is not running). To be replaced by a
 * public API; nothing else in the demo touches internals.
 */
function workerNameOf(work: Work<any> | null): string | null {
  return ((work as any)?._worker?.name as string | undefined) ?? null;
}

/** One handler run, as the tracepoints saw it. */
interface Run {
  worker: string;
  /** The thread it ran on (worker_threads threadId). */
  tid: number;
  func: string;
  label: string;
  workqueue: string;
  start: number;
  end: number;
}

interface WqStats {
  queued: number;
  ran: number;
  failed: number;
  inFlight: number;
  maxInFlight: number;
  workers: Set<string>;
}

export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const scale = options.fast === true ? FAST_SCALE : 1;
  const out = options.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const ms = (n: number) => n / scale;
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;

  /** dmesg-style stamp: [seconds.micros] who tid N  text; by default this thread, now (else `t` s since start). */
  const stamp = (who: string, text: string, tid = threadId, t = since()) => {
    const secs = Math.floor(Math.max(0, t));
    const micros = Math.floor((Math.max(0, t) - secs) * 1e6);
    out(`[${String(secs).padStart(5)}.${String(micros).padStart(6, '0')}] ${who.padEnd(13)} tid ${tid}  ${text}`);
  };
  /**
   * A line from inside a handler: the executing work and its worker. currentWork() finds the work in a handler's
   * synchronous part; after an await the handler passes its work (currentWork() holds there only with
   * workqueueInit({ asyncContext: true })).
   */
  const klog = (text: string, self?: Work<any>) => {
    const work = self ?? currentWork();
    stamp(workerNameOf(work) ?? '?', `${work?.funcName ?? '?'}: ${text}`);
  };
  const fmtMs = (n: number) => (scale === 1 ? `${n} ms` : `${n} ms, ${ms(n)} ms with --fast`);

  // Watch cmwq's tracepoints for the summary and the timeline.
  const stats = new Map<string, WqStats>();
  const runs: Run[] = [];
  let monitorRows: WqMonitorRow[] = [];
  const open = new Map<Work<any>, Run>();
  /** The dedicated items' runs, by item number: their lines come from their thread with that number. */
  const dedicatedRuns = new Map<number, Run>();
  const statsFor = (wq: string) => {
    let s = stats.get(wq);
    if (s === undefined)
      stats.set(wq, (s = { queued: 0, ran: 0, failed: 0, inFlight: 0, maxInFlight: 0, workers: new Set() }));
    return s;
  };
  const labelOf = (work: Work<any>) => {
    const data = work.data as { id?: unknown } | undefined;
    return data !== null && typeof data === 'object' && typeof data.id === 'number'
      ? `${work.funcName}[${data.id}]`
      : work.funcName;
  };
  const onQueue = (message: unknown) => void statsFor((message as WorkEvent).workqueue).queued++;
  const onStart = (message: unknown) => {
    const e = message as WorkEvent;
    const worker = workerNameOf(e.work) ?? '?';
    const s = statsFor(e.workqueue);
    s.workers.add(worker);
    s.maxInFlight = Math.max(s.maxInFlight, ++s.inFlight);
    const run: Run = {
      worker,
      tid: threadId,
      func: e.function,
      label: labelOf(e.work),
      workqueue: e.workqueue,
      start: since(),
      end: NaN,
    };
    open.set(e.work, run);
    if (e.workqueue === DEDICATED_WQ_NAME) dedicatedRuns.set((e.work.data as DedicatedTask).id, run);
  };
  const onEnd = (message: unknown) => {
    const e = message as WorkEvent;
    const s = statsFor(e.workqueue);
    s.inFlight--;
    s.ran++;
    if ('error' in e) s.failed++;
    const run = open.get(e.work);
    if (run !== undefined) {
      open.delete(e.work);
      run.end = since();
      runs.push(run);
    }
  };

  // The dedicated items' lines, from their thread: printed with the worker the owner gave the item at its start
  // (the run recorded above) and the thread's id, which the run keeps for the timeline.
  const channel = new BroadcastChannel(`cmwq-demo:${randomUUID()}`);
  let lastLines = 0;
  let lineArrived: (() => void) | null = null;
  channel.onmessage = (event: MessageEvent) => {
    const line = event.data as DemoLine;
    const run = dedicatedRuns.get(line.id);
    if (run !== undefined) run.tid = line.threadId;
    const t = (line.at - (performance.timeOrigin + t0)) / 1000;
    stamp(run?.worker ?? '?', `${run?.func ?? 'dedicatedWorkFn'}: ${line.text}`, line.threadId, t);
    if (line.last) lastLines++;
    lineArrived?.();
  };
  /** Resolves once the last lines of `count` dedicated items have come in (or after LINE_WAIT_MS). */
  const dedicatedLinesIn = async (count: number) => {
    const deadline = performance.now() + LINE_WAIT_MS;
    while (lastLines < count && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - performance.now());
        lineArrived = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      lineArrived = null;
    }
  };

  diagnosticsChannel.subscribe('cmwq:workqueue_queue_work', onQueue);
  diagnosticsChannel.subscribe('cmwq:workqueue_execute_start', onStart);
  diagnosticsChannel.subscribe('cmwq:workqueue_execute_end', onEnd);

  try {
    // ---- the module's work functions (each receives its work item; work.data is the container's payload) ----

    let immediateRuns = 0;
    const immediate = new Work(async function immediateWorkFn(self) {
      immediateRuns++;
      klog(
        `Immediate work executed! count ${immediateRuns} (workPending inside the handler: ${workPending(immediate)})`,
      );
      klog(`sleeping ${fmtMs(IMMEDIATE_SLEEP_MS)}: process context may sleep`);
      await sleepMs(ms(IMMEDIATE_SLEEP_MS));
      klog('Immediate work done', self);
    });

    let delayedRuns = 0;
    const delayed = new DelayedWork(function delayedWorkFn(dwork) {
      delayedRuns++;
      klog(`Delayed work executed! run ${delayedRuns}/${DELAYED_RUNS}`);
      if (delayedRuns < DELAYED_RUNS) {
        scheduleDelayedWork(dwork, ms(DELAYED_WORK_DELAY_MS));
        klog(`Rescheduling delayed work (run ${delayedRuns}/${DELAYED_RUNS}, next in ${fmtMs(DELAYED_WORK_DELAY_MS)})`);
      } else {
        klog(`Delayed work finished after ${delayedRuns} runs`);
      }
    });

    let ticks = 0;
    const periodic = new DelayedWork(function periodicWorkFn(dwork) {
      ticks++;
      scheduleDelayedWork(dwork, ms(PERIODIC_WORK_PERIOD_MS));
      klog(`Periodic tick ${ticks}, re-armed for ${fmtMs(PERIODIC_WORK_PERIOD_MS)} (until unload cancels it)`);
    });

    // ---- init (insmod) ----

    const init = (text: string) => stamp('insmod', text);
    init('=== Work Queue Demo (cmwq) ===');
    if (scale !== 1) init(`--fast: every delay is divided by ${scale}`);

    init('1. Scheduling immediate work...');
    init(`scheduleWork(immediate) = ${scheduleWork(immediate)}`);
    init(`scheduleWork(immediate) again = ${scheduleWork(immediate)} (already pending: it runs once)`);

    init(`2. Scheduling delayed work (${fmtMs(DELAYED_WORK_DELAY_MS)})...`);
    init(`scheduleDelayedWork(delayed) = ${scheduleDelayedWork(delayed, ms(DELAYED_WORK_DELAY_MS))}`);

    init('3. Creating dedicated workqueue...');
    const wq = allocOrderedWorkqueue(DEDICATED_WQ_NAME, WQ_MEM_RECLAIM);
    init(
      `allocOrderedWorkqueue("${DEDICATED_WQ_NAME}") created (as create_singlethread_workqueue: one item at a time, in order)`,
    );
    // The container pattern: each item is a Work whose data holds its own fields (cloned to the item's thread).
    // Its handler is a module work, so that it runs on a thread of the ordered workqueue's unbound pool.
    const dedicatedWork = workFunc(new URL('./demo-works.js', import.meta.url), 'dedicatedWorkFn');
    for (let i = 0; i < DEDICATED_ITEMS; i++) {
      const task: DedicatedTask = { id: i, task: `task_${i}`, sleepMs: ms(TASK_SLEEP_MS), channel: channel.name };
      queueWork(wq, new Work(dedicatedWork, task));
      init(`Queued work item ${i}`);
    }

    init(`4. Starting periodic work (every ${fmtMs(PERIODIC_WORK_PERIOD_MS)})...`);
    init(`scheduleDelayedWork(periodic) = ${scheduleDelayedWork(periodic, ms(PERIODIC_WORK_PERIOD_MS))}`);
    init(`=== Work items scheduled; unloading in ${fmtMs(UNLOAD_AFTER_MS)} ===`);

    await sleepMs(ms(UNLOAD_AFTER_MS));

    // ---- exit (rmmod): always cancel before cleanup ----

    const exit = (text: string) => stamp('rmmod', text);
    exit('=== Unloading: cancelling work ===');
    const delayedWasPending = await cancelDelayedWorkSync(delayed);
    exit(
      `cancelDelayedWorkSync(delayed) = ${delayedWasPending} (${delayedWasPending ? 'an armed instance was cancelled' : 'it had finished'})`,
    );
    const periodicWasPending = await cancelDelayedWorkSync(periodic);
    exit(
      `cancelDelayedWorkSync(periodic) = ${periodicWasPending} (${periodicWasPending ? 'its armed instance was cancelled' : 'it was idle'})`,
    );
    const immediateWasPending = await cancelWorkSync(immediate);
    exit(
      `cancelWorkSync(immediate) = ${immediateWasPending} (${immediateWasPending ? 'a pending instance was cancelled' : 'it had finished'})`,
    );
    await flushWorkqueue(wq);
    const dedicated = statsFor(DEDICATED_WQ_NAME);
    await dedicatedLinesIn(dedicated.ran - dedicated.failed);
    exit(`flushWorkqueue("${DEDICATED_WQ_NAME}") done (every item queued at init has run, in order)`);
    // wqMonitor() as `cmwq top` shows it, read while the dedicated workqueue still exists; printed at the end.
    monitorRows = wqMonitor().filter((r) => r.total > 0 || r.pending > 0 || r.infl > 0);
    await destroyWorkqueue(wq);
    exit(`destroyWorkqueue("${DEDICATED_WQ_NAME}") done`);
    exit('=== Work Queue Demo unloaded ===');
  } finally {
    channel.close();
    diagnosticsChannel.unsubscribe('cmwq:workqueue_queue_work', onQueue);
    diagnosticsChannel.unsubscribe('cmwq:workqueue_execute_start', onStart);
    diagnosticsChannel.unsubscribe('cmwq:workqueue_execute_end', onEnd);
  }

  printSummary(out, stats, runs);
  if (options.timeline === true) printTimeline(out, runs, since());
  out('');
  out('wqMonitor() before rmmod (as `cmwq top` shows it; CPUtime in s, waitP99 and runP99 in ms):');
  for (const line of formatMonitor(monitorRows).trimEnd().split('\n')) out(`  ${line}`);
}

function printSummary(out: (line: string) => void, stats: Map<string, WqStats>, runs: Run[]): void {
  const header = ['workqueue', 'queued', 'ran', 'failed', 'max in flight', 'workers', 'thread ids'];
  const rows = [...stats].map(([name, s]) => [
    name,
    String(s.queued),
    String(s.ran),
    String(s.failed),
    String(s.maxInFlight),
    [...s.workers].sort().join(' '),
    threadIdsOf(runs.filter((r) => r.workqueue === name)),
  ]);
  out('');
  out('Summary (from the cmwq:workqueue_* tracepoints):');
  for (const line of table(header, rows, [false, true, true, true, true, false, false])) out(`  ${line}`);
}

/** The distinct threads the runs ran on, in ascending order, space-separated. */
function threadIdsOf(runs: Run[]): string {
  return [...new Set(runs.map((r) => r.tid))].sort((a, b) => a - b).join(' ');
}

/** Renders a table with columns padded to their widest cell; right-aligned where asked. */
function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...rows.map(render)];
}

const TIMELINE_COLUMNS = 60;

function printTimeline(out: (line: string) => void, runs: Run[], total: number): void {
  out('');
  const perColumn = total / TIMELINE_COLUMNS;
  out(
    `Timeline (one lane per worker; one column = ${(perColumn * 1000).toFixed(perColumn < 0.01 ? 1 : 0)} ms; a letter marks a run):`,
  );
  runs = [...runs].sort((a, b) => a.start - b.start);
  const letters = new Map<string, string>();
  for (const run of runs) if (!letters.has(run.func)) letters.set(run.func, String.fromCharCode(65 + letters.size));
  const workers = [...new Set(runs.map((r) => r.worker))].sort();
  const width = Math.max(...workers.map((w) => w.length));
  /** The threads a worker's runs ran on (one, unless its pool moved them). */
  const tidsOf = (worker: string) => threadIdsOf(runs.filter((r) => r.worker === worker));
  const tidWidth = Math.max(...workers.map((w) => tidsOf(w).length));
  for (const worker of workers) {
    const lane = new Array<string>(TIMELINE_COLUMNS).fill('.');
    for (const run of runs) {
      if (run.worker !== worker) continue;
      const from = Math.min(TIMELINE_COLUMNS - 1, Math.floor(run.start / perColumn));
      const to = Math.min(TIMELINE_COLUMNS - 1, Math.floor(run.end / perColumn));
      const letter = letters.get(run.func)!;
      for (let c = from; c <= to; c++) lane[c] = lane[c] === '.' || lane[c] === letter ? letter : '*';
    }
    out(`  ${worker.padEnd(width)}  tid ${tidsOf(worker).padEnd(tidWidth)}  |${lane.join('')}|`);
  }
  out(`  ${[...letters].map(([func, letter]) => `${letter} = ${func}`).join(', ')}, * = several in one column`);
  for (const worker of workers) {
    out(`  ${worker} (tid ${tidsOf(worker)}):`);
    for (const run of runs) {
      if (run.worker !== worker) continue;
      out(`    ${run.start.toFixed(6)} .. ${run.end.toFixed(6)}  ${run.label}  (${run.workqueue})`);
    }
  }
}
