/**
 * Statistics and dumps: wqMonitor() (the kernel's tools/workqueue/wq_monitor.py), wqDump() (wq_dump.py) and
 * showAllWorkqueues() (show_all_workqueues(), as printed on a lockup).
 *
 * Everything here reads structures the core keeps anyway; counters are plain increments on the hot path and
 * percentiles are computed from sampled histograms only when read.
 */
import { threadId } from 'node:worker_threads';
import { WQ_MEM_RECLAIM } from '../base/constants.js';
import { combineHistograms } from '../base/histogram.js';
import { allPools } from '../core/pools.js';
import { watchdogHooks } from '../core/heartbeat.js';
import type { PoolWorkqueue } from '../core/pool-workqueue.js';
import type { Work } from '../core/work.js';
import type { Worker } from '../core/worker.js';
import type { WorkerPool } from '../core/worker-pool.js';
import type { Workqueue } from '../core/workqueue.js';
import { workqueues, wqListHooks } from '../core/wq-list.js';
import { sharedByLocal } from '../core/shared.js';

/**
 * One workqueue's statistics, as {@link wqMonitor} returns them: the columns of the kernel's wq_monitor.py
 * (total, infl, CPUtime, CPUitsv, CMW, mayday, rescued) plus failed, pending and latency percentiles. Counters
 * count from the workqueue's allocation and never go down; infl and pending are the state now.
 *
 * The four percentiles come from sampled items (every item of a pool workqueue's first 256 queueings, then one in
 * 64) recorded in log-scale buckets, four per power of two from 1 µs up (each about 19% wide): a percentile is
 * the upper bound of the bucket it falls in, not an exact value. They are measured on the configured clock (a
 * {@link ManualClock} in tests), and are 0 until an item has been sampled.
 */
export interface WqMonitorRow {
  /** The workqueue's name. */
  name: string;
  /** Handlers started (count). */
  total: number;
  /** Handlers executing now, running or asleep on a promise (count). */
  infl: number;
  /**
   * Handler CPU time in milliseconds: the time spent in each handler's first synchronous segment (up to its first
   * await; what runs after an await is not charged). On this thread's loop it is sampled by the watchdog thread's
   * tick and reported about once a second, so the latest runs may not be in it yet (and nothing is sampled when
   * cpuIntensiveThreshMs and watchdogThreshS are both 0); for items run on worker threads it is measured there.
   */
  cpuTime: number;
  /** Synchronous segments longer than cpuIntensiveThreshMs (the kernel's CPUitsv; count). */
  cpuIntensive: number;
  /**
   * Concurrency-management wake-ups (the kernel's CMW; count): a handler went to sleep on a promise while other
   * items waited, so the pool started the next one on another worker.
   */
  cmWakeup: number;
  /** Times the pool called this workqueue's rescuer because it could get no thread in time (count). */
  mayday: number;
  /** Items the rescuer ran (count). */
  rescued: number;
  /** Handlers that failed: threw, rejected, or died with their thread (count). */
  failed: number;
  /** Instances queued and not yet started, inactive ones included; armed delayed works are not (count). */
  pending: number;
  /** Median queue wait, in milliseconds: from queueing (for a delayed work, its timer firing) to handler start. */
  waitP50: number;
  /** 99th percentile of the queue wait, in milliseconds. */
  waitP99: number;
  /** Median run time, in milliseconds: from handler start to its end, awaits included. */
  runP50: number;
  /** 99th percentile of the run time, in milliseconds. */
  runP99: number;
}

function livePwqs(wq: Workqueue): PoolWorkqueue[] {
  return wq.pwqs.filter((pwq) => pwq !== undefined);
}

/**
 * A workqueue's items in flight (handlers executing) and pending (queued or inactive, not started): what
 * wqMonitor() reports as infl and pending, for one workqueue.
 */
export function workqueueCounts(wq: Workqueue): { infl: number; pending: number } {
  let infl = 0;
  for (const pwq of livePwqs(wq)) infl += pwq.started - pwq.completed;
  let instances = 0;
  for (const color of wq.colors) instances += color.count;
  return { infl, pending: instances - infl };
}

/**
 * The statistics of every live workqueue, as the kernel's tools/workqueue/wq_monitor.py shows them (`cmwq top`
 * prints them live). Cheap enough to poll: it reads counters the core keeps anyway.
 *
 * @returns One row per workqueue not yet destroyed (the system workqueues included), in allocation order.
 *
 * @example
 * ```ts
 * for (const row of wqMonitor()) {
 *   if (row.failed > 0 || row.waitP99 > 100) console.warn(`${row.name}: ${row.failed} failed, p99 ${row.waitP99}`);
 * }
 * ```
 */
export function wqMonitor(): WqMonitorRow[] {
  const rows: WqMonitorRow[] = [];
  for (const wq of workqueues) rows.push(monitorRow(wq));
  return rows;
}

/** wq's wqMonitor() row. */
function monitorRow(wq: Workqueue): WqMonitorRow {
  const pwqs = livePwqs(wq);
  const row: WqMonitorRow = {
    name: wq.name,
    total: 0,
    infl: 0,
    cpuTime: 0,
    cpuIntensive: 0,
    cmWakeup: 0,
    mayday: 0,
    rescued: 0,
    failed: 0,
    pending: 0,
    waitP50: 0,
    waitP99: 0,
    runP50: 0,
    runP99: 0,
  };
  for (const { started, completed, stats } of pwqs) {
    row.total += started;
    row.infl += started - completed;
    row.cpuTime += stats.cpuTime;
    row.cpuIntensive += stats.cpuIntensive;
    row.cmWakeup += stats.cmWakeup;
    row.mayday += stats.mayday;
    row.rescued += stats.rescued;
    row.failed += stats.failed;
  }
  let instances = 0;
  for (const color of wq.colors) instances += color.count;
  row.pending = instances - row.infl;
  const shared = sharedByLocal.get(wq);
  if (shared !== undefined) ({ pending: row.pending, infl: row.infl } = shared.stats());
  const wait = combineHistograms(pwqs.map((pwq) => pwq.waitHist));
  const run = combineHistograms(pwqs.map((pwq) => pwq.runHist));
  row.waitP50 = wait.percentile(0.5);
  row.waitP99 = wait.percentile(0.99);
  row.runP50 = run.percentile(0.5);
  row.runP99 = run.percentile(0.99);
  return row;
}

/** How many destroyed workqueues' last rows are kept for the monitor agent. */
const DESTROYED_ROWS = 64;
/** The last rows of the workqueues destroyed so far (at most DESTROYED_ROWS, oldest first). */
const destroyed: WqMonitorRow[] = [];
wqListHooks.released = (wq) => {
  destroyed.push(monitorRow(wq));
  if (destroyed.length > DESTROYED_ROWS) destroyed.shift();
};

/** A worker pool in {@link wqDump}. */
export interface WqDumpPool {
  /** The pool's id, unique in the process (unbound workers are named `kworker/u<id>:<n>` after it). */
  id: number;
  /** The CPU, or -1 for an unbound pool. */
  cpu: number;
  /** Whether it is an unbound pool (shared by unbound workqueues of equal attributes). */
  unbound: boolean;
  /** Whether it is a high-priority pool ({@link WQ_HIGHPRI}). */
  highpri: boolean;
  /** Whether it is a bottom-half pool ({@link WQ_BH}). */
  bh: boolean;
  /** The kernel's nice level: -20 for highpri pools. */
  nice: number;
  /** Its workers (execution slots on this loop; each item sent to a thread holds one while it runs there). */
  workers: number;
  /** Workers idle, waiting for an item. */
  idle: number;
  /** Workers running a handler's synchronous segment (at most one per event loop). */
  running: number;
  /** Workers asleep: their handler awaits a promise, or their item runs on another thread. */
  sleeping: number;
  /** Items on the worklist. */
  worklist: number;
  /** The workers' names, as the kernel's (`kworker/0:1`, `kworker/0:0H`, `kworker/u3:2`, `ksoftirqd/0`). */
  workerNames: string[];
  /**
   * The threads the pool's items run on: this thread for a pool whose items all run here; a pool with threads
   * behind it (an unbound pool, another CPU's) lists those that are up (none while idle threads have retired).
   */
  threadIds: number[];
}

/** A workqueue in {@link wqDump}. */
export interface WqDumpWorkqueue {
  /** The workqueue's name. */
  name: string;
  /** Its WQ_* flags. */
  flags: number;
  /** max_active as set (see {@link Workqueue.maxActive}). */
  maxActive: number;
  /** min_active as set ({@link workqueueSetMinActive}). */
  minActive: number;
  /** Whether it is ordered ({@link allocOrderedWorkqueue}). */
  ordered: boolean;
  /** Whether it is unbound ({@link WQ_UNBOUND}). */
  unbound: boolean;
  /**
   * Its pool workqueues, one per pool it has used, each with:
   *
   * - `pool`: the pool's id ({@link WqDumpPool.id});
   * - `cpu`: the pool's CPU, -1 for an unbound pool;
   * - `active`: items active, on the pool's worklist or executing (in flight);
   * - `inactive`: items waiting over max_active, in queueing order;
   * - `maxActive`: the max_active in force: the workqueue's, or 0 while a freezable workqueue is frozen.
   */
  pwqs: { pool: number; cpu: number; active: number; inactive: number; maxActive: number }[];
  /** The rescuer's name for WQ_MEM_RECLAIM workqueues. */
  rescuer: string | null;
  /** The rescuer's thread, once started (on the thread that owns the threads). */
  rescuerThreadId: number | null;
}

/** What {@link wqDump} returns. */
export interface WqDump {
  /** Every worker pool of this thread: per CPU (normal, highpri, BH), and unbound ones. */
  pools: WqDumpPool[];
  /** Every live workqueue, in allocation order, with the pools it uses. */
  workqueues: WqDumpWorkqueue[];
}

/**
 * The pools, the workqueues and which pools each workqueue uses, as the kernel's tools/workqueue/wq_dump.py shows
 * them; `cmwq dump` prints it. A snapshot, as plain data (JSON-serialisable).
 *
 * @returns The pools and the workqueues.
 */
export function wqDump(): WqDump {
  const pools = allPools().map(
    (pool): WqDumpPool => ({
      id: pool.id,
      cpu: pool.cpu,
      unbound: pool.cpu < 0,
      highpri: pool.highpri,
      bh: pool.bh,
      nice: pool.highpri ? -20 : 0,
      workers: pool.nrWorkers,
      idle: pool.nrIdle,
      running: pool.workersIn('running').length,
      sleeping: pool.nrSleeping,
      worklist: pool.worklist.length,
      workerNames: [...pool.workers].map((w) => w.name),
      threadIds: pool.threads === null ? [threadId] : pool.threads.threadIds(),
    }),
  );
  const wqs = [...workqueues].map(
    (wq): WqDumpWorkqueue => ({
      name: wq.name,
      flags: wq.flags,
      maxActive: wq.maxActive,
      minActive: wq.minActive,
      ordered: wq.ordered,
      unbound: wq.unbound,
      pwqs: livePwqs(wq).map((pwq) => ({
        pool: pwq.pool.id,
        cpu: pwq.pool.cpu,
        active: pwq.nrActive,
        inactive: pwq.inactive.length,
        maxActive: pwq.maxActive,
      })),
      rescuer:
        wq.rescuer !== null ? wq.rescuer.name : (wq.flags & WQ_MEM_RECLAIM) !== 0 ? `kworker/R-${wq.name}` : null,
      rescuerThreadId: wq.rescuer !== null && wq.rescuer.threadId !== -1 ? wq.rescuer.threadId : null,
    }),
  );
  return { pools, workqueues: wqs };
}

/** The final rows of the workqueues destroyed so far (the last DESTROYED_ROWS), oldest first. */
export function destroyedRows(): WqMonitorRow[] {
  return [...destroyed];
}

/** The names of the system workqueues. */
export function systemNames(): string[] {
  return [...workqueues].filter((wq) => wq.system).map((wq) => wq.name);
}

watchdogHooks.stateText = showAllWorkqueues;

/** "func, 3*other, func": runs of one function collapse to N*func, as the kernel prints pending work. */
function collapse(works: Iterable<Work<any>>): string {
  const parts: string[] = [];
  let last = '';
  let n = 0;
  const flush = () => {
    if (n > 0) parts.push(n > 1 ? `${n}*${last}` : last);
  };
  for (const work of works) {
    const name = work.funcName;
    if (name === last) n++;
    else {
      flush();
      last = name;
      n = 1;
    }
  }
  flush();
  return parts.join(', ');
}

function poolFlags(pool: WorkerPool): string {
  return `cpus=${pool.cpu < 0 ? 'unbound' : pool.cpu}${pool.bh ? ' bh' : ''} nice=${pool.highpri ? -20 : 0}`;
}

function inFlight(worker: Worker): string {
  const tid = worker.thread !== null ? worker.thread.threadId : threadId;
  const state = worker.thread !== null ? '' : worker.sleeping ? ' sleeping' : '';
  return `${worker.name}(tid ${tid})${state}:${worker.current!.funcName}`;
}

/**
 * The busy workqueues and pools as text, in the format of the kernel's show_all_workqueues() (the watchdog prints
 * it on a lockup): each busy workqueue with, per pool workqueue, its in-flight items (worker name and thread id),
 * pending items and inactive items (runs of one function shortened to `N*func`); then the busy pools with their
 * workers.
 *
 * @returns The report, starting "Showing busy workqueues and worker pools:", one line per entry, ending in a
 *   newline.
 */
export function showAllWorkqueues(): string {
  return stateText(Infinity);
}

/**
 * showAllWorkqueues() reading at most limit items of each list (a pool's worklist, a pwq's inactive list), so
 * that its cost is bounded whatever is queued: what was not read is counted as "+N not listed". The watchdog's
 * copy for lockup reports is built this way, from a timer, without stalling a loop with a million items queued.
 */
export function showAllWorkqueuesBounded(limit: number): string {
  return stateText(limit);
}

/** The first (at most) limit items of list, and how many were left unread. */
function head<T>(list: Iterable<T> & { length: number }, limit: number): { items: T[]; unread: number } {
  const items: T[] = [];
  if (limit <= 0) return { items, unread: list.length };
  for (const item of list) {
    items.push(item);
    if (items.length >= limit) break;
  }
  return { items, unread: list.length - items.length };
}

const notListed = (n: number): string => (n > 0 ? ` (+${n} not listed)` : '');

function stateText(limit: number): string {
  const lines = ['Showing busy workqueues and worker pools:'];
  for (const wq of workqueues) {
    const pwqs = livePwqs(wq).filter((pwq) => pwq.nrActive > 0 || pwq.inactive.length > 0);
    if (pwqs.length === 0) continue;
    lines.push(`workqueue ${wq.name}: flags=0x${wq.flags.toString(16)}`);
    for (const pwq of pwqs) {
      const pool = pwq.pool;
      lines.push(`  pwq ${pool.id}: ${poolFlags(pool)} active=${pwq.nrActive} max_active=${pwq.maxActive}`);
      const running = [...pool.workers].filter((w) => w.current !== null && w.currentPwq === pwq);
      if (running.length > 0) lines.push(`    in-flight: ${running.map(inFlight).join(', ')}`);
      const worklist = head(pool.worklist, limit);
      const pending = worklist.items.filter((w) => w._pwq === pwq);
      for (const w of running) pending.push(...w.scheduled);
      if (pending.length > 0 || worklist.unread > 0)
        lines.push(`    pending: ${collapse(pending)}${notListed(worklist.unread)}`);
      if (pwq.inactive.length > 0) {
        const inactive = head(pwq.inactive, limit);
        lines.push(`    inactive: ${collapse(inactive.items)}${notListed(inactive.unread)}`);
      }
    }
  }
  for (const pool of allPools()) {
    const busy = pool.nrWorkers - pool.nrIdle;
    if (pool.worklist.length === 0 && busy === 0) continue;
    const idle = [...pool.workers].filter((w) => w.current === null).map((w) => w.id);
    lines.push(
      `pool ${pool.id}: ${poolFlags(pool)} workers=${pool.nrWorkers}${idle.length > 0 ? ` idle: ${idle.join(' ')}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
