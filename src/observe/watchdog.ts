/**
 * The watchdog, loop side: the heartbeat this loop writes for the watchdog thread (watchdog-thread.ts), the
 * thread's start, and what the loop does with its reports (CPU-hog accounting and warnings, CPU time, lockups).
 *
 * Heartbeat writes are plain stores into a SharedArrayBuffer, a few per item: the hot path pays nothing else.
 * The thread starts the first time the loop has work, unless both cpuIntensiveThreshMs and watchdogThreshS are
 * 0, and never keeps the process alive.
 */
import type { Worker as Thread } from 'node:worker_threads';
import { chCpuIntensive, chStall, warn, workEvent } from '../core/tracepoints.js';
import { startThread as spawnThread } from '../base/exec-argv.js';
import { config, reconfigureHooks } from '../base/init.js';
import type { PoolWorkqueue } from '../core/pool-workqueue.js';
import type { Work } from '../core/work.js';

/** Heartbeat slots. */
export const HB_SEQ = 0; // item sequence: odd while a handler's synchronous segment runs
export const HB_FUNC = 1; // the running item's function id
export const HB_PWQ = 2; // its pool workqueue id
export const HB_WORKER = 3; // its worker's id
export const HB_PENDING = 4; // 1 while the loop has work scheduled
export const HB_HOG = 5; // written by the thread: the sequence number of a run found CPU intensive
export const HB_ASLEEP = 6; // written by the thread: it stopped ticking; wake it with a message
export const HB_STALLS = 7; // written by the thread: lockups reported so far
const HB_SLOTS = 8;

export const heartbeat = new Int32Array(new SharedArrayBuffer(HB_SLOTS * 4));

export type WatchdogMessage =
  | {
      type: 'names';
      funcs: [number, string][];
      workers: [number, string][];
      pwqs: [number, string][];
      forget: number[];
    }
  | { type: 'config'; cpuIntensiveThreshMs: number; watchdogThreshS: number }
  | { type: 'wake' };

export type WatchdogReport =
  | { type: 'cpuTime'; ms: [number, number][] }
  | { type: 'stall'; stuckS: number; inFlight: string | null };

/**
 * Per-function record: a small id for the heartbeat, and the CPU-hog count behind the kernel-style warning. Keyed
 * by the function's name, as the kernel's reports name functions by symbol: a work made per request with its own
 * closure shares the record of its siblings, so records (here and in the thread) do not grow with items.
 */
export interface FuncInfo {
  id: number;
  name: string;
  hogs: number;
}

const funcInfos = new Map<string, FuncInfo>();
let lastFunc: ((...args: never) => unknown) | null = null;
let lastInfo: FuncInfo | null = null;
let nextFuncId = 1;
let nextPwqId = 1;
const pwqsById = new Map<number, PoolWorkqueue>();

/**
 * Names not yet sent to the thread, by id, so that they stay bounded while no thread runs (a worker culled and
 * made again, or a pwq made and forgotten, takes one entry).
 */
const unsent = {
  funcs: new Map<number, string>(),
  workers: new Map<number, string>(),
  pwqs: new Map<number, string>(),
  forget: new Set<number>(),
};
let thread: Thread | null = null;
let flushScheduled = false;
let starting = false;

/** The FuncInfo of a work function (a one-entry cache in front of the map: works mostly share functions). */
export function funcInfo(func: (...args: never) => unknown): FuncInfo {
  if (func === lastFunc) return lastInfo!;
  const name = func.name || '<anonymous>';
  let info = funcInfos.get(name);
  if (info === undefined) {
    info = { id: nextFuncId++, name, hogs: 0 };
    funcInfos.set(name, info);
    unsent.funcs.set(info.id, info.name);
    scheduleNames();
  }
  lastFunc = func;
  lastInfo = info;
  return info;
}

/**
 * The heartbeat id of a worker: derived from its pool and its id in the pool, which are reused, so that the
 * thread's table of names stays as small as the set of workers that ever coexist.
 */
export function registerWorker(poolId: number, workerId: number, name: string): number {
  const id = poolId * 65536 + workerId;
  unsent.workers.set(id, name);
  scheduleNames();
  return id;
}

/** The heartbeat id of a pool workqueue (its workqueue's name is what the thread prints). */
export function registerPwq(pwq: PoolWorkqueue): number {
  const id = nextPwqId++;
  pwqsById.set(id, pwq);
  unsent.pwqs.set(id, pwq.wq.name);
  scheduleNames();
  return id;
}

/** A pool workqueue is gone with its workqueue: forget its id here and in the thread. */
export function unregisterPwq(pwq: PoolWorkqueue): void {
  pwqsById.delete(pwq.hbId);
  if (!unsent.pwqs.delete(pwq.hbId)) unsent.forget.add(pwq.hbId);
  scheduleNames();
}

function scheduleNames(): void {
  if (thread === null || flushScheduled) return;
  flushScheduled = true;
  queueMicrotask(sendNames);
}

function sendNames(): void {
  flushScheduled = false;
  if (thread === null) return;
  const message: WatchdogMessage = {
    type: 'names',
    funcs: [...unsent.funcs],
    workers: [...unsent.workers],
    pwqs: [...unsent.pwqs],
    forget: [...unsent.forget],
  };
  unsent.funcs.clear();
  unsent.workers.clear();
  unsent.pwqs.clear();
  unsent.forget.clear();
  thread.postMessage(message);
}

function wanted(): boolean {
  return config.cpuIntensiveThreshMs > 0 || config.watchdogThreshS > 0;
}

/** The loop has work: make sure the thread watches. Called when the run loop is scheduled. */
export function watchdogKick(): void {
  if (thread === null) {
    // Starting a thread takes milliseconds: not inside the queueing call that got here first.
    if (!starting && wanted()) {
      starting = true;
      setImmediate(startThread).unref();
    }
  } else if (heartbeat[HB_ASLEEP] === 1) {
    Atomics.store(heartbeat, HB_ASLEEP, 0);
    thread.postMessage({ type: 'wake' } satisfies WatchdogMessage);
  }
}

/** What the loop prints after a lockup: showAllWorkqueues(), set by monitor.ts (avoids an import cycle). */
export const stateReport = { text: (): string => '' };

reconfigureHooks.push(watchdogReconfigure);

/** workqueueInit() changed the thresholds. */
function watchdogReconfigure(): void {
  thread?.postMessage({
    type: 'config',
    cpuIntensiveThreshMs: config.cpuIntensiveThreshMs,
    watchdogThreshS: config.watchdogThreshS,
  } satisfies WatchdogMessage);
}

function startThread(): void {
  thread = spawnThread(new URL('./watchdog-thread.js', import.meta.url), {
    workerData: {
      heartbeat: heartbeat.buffer,
      cpuIntensiveThreshMs: config.cpuIntensiveThreshMs,
      watchdogThreshS: config.watchdogThreshS,
    },
    name: 'cmwq watchdog',
    stdout: false,
    stderr: false,
  });
  thread.on('message', onReport);
  thread.on('error', (error) =>
    warn('workqueue: the watchdog thread failed; CPU-hog and lockup detection are off', String(error)),
  );
  // After the listeners: adding a message listener refs the port again.
  thread.unref();
  sendNames();
}

function onReport(report: WatchdogReport): void {
  if (report.type === 'cpuTime') {
    for (const [id, ms] of report.ms) {
      const pwq = pwqsById.get(id);
      if (pwq !== undefined) pwq.stats.cpuTime += ms;
    }
    return;
  }
  lastStall = report;
  noteStalls();
}

let stallsSeen = 0;
let lastStall: WatchdogReport & { type: 'stall' } = { type: 'stall', stuckS: 0, inFlight: null };

/**
 * The loop runs again after lockups the thread reported (HB_STALLS moved): publish cmwq:workqueue_stall and
 * print the state. Called when the stuck handler returns (synchronously, so it is said even if the process
 * then exits) and when the thread's message arrives, whichever comes first.
 */
function noteStalls(): void {
  const stalls = Atomics.load(heartbeat, HB_STALLS);
  if (stalls === stallsSeen) return;
  stallsSeen = stalls;
  if (chStall.hasSubscribers)
    chStall.publish({ stuckS: lastStall.stuckS, inFlight: lastStall.inFlight, reports: stalls });
  process.stderr.write(
    `workqueue: the watchdog reported ${stalls} lockup(s); the loop runs again, state now:\n${stateReport.text()}`,
  );
}

/**
 * The run of work on pwq that just returned was found CPU intensive: count it, publish it, and warn about its
 * function from the 4th time on with exponential back-off (4, 5, 7, 11, 19, ... times), as the kernel does.
 */
export function cpuHog(work: Work<any>, pwq: PoolWorkqueue): void {
  const info = work._fn;
  noteStalls();
  pwq.stats.cpuIntensive++;
  if (chCpuIntensive.hasSubscribers) chCpuIntensive.publish(workEvent(work, pwq, -1));
  if (!pwq.pool.concurrencyManaged) return;
  const count = ++info.hogs;
  const n = count + 1 - WARNING_THRESH;
  if (count >= WARNING_THRESH && (n & (n - 1)) === 0) {
    warn(
      `workqueue: ${info.name} hogged CPU for >${Math.round(config.cpuIntensiveThreshMs * 1000)}us ${count} times, consider switching to WQ_UNBOUND`,
    );
  }
}

const WARNING_THRESH = 4;
