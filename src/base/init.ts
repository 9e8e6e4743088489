/**
 * Subsystem set-up: workqueueInit() and the configuration every other file reads.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { availableParallelism } from 'node:os';
import { isMainThread, type Worker as NodeThread, type WorkerOptions, workerData } from 'node:worker_threads';
import { startThread } from './exec-argv.js';
import { type Clock, realClock } from './clock.js';
import { describe, invalidArg } from './errors.js';

/** What {@link workqueueInit} may configure; every field is optional and keeps its current value when left out. */
export interface WorkqueueInitOptions {
  /** CPUs (event loops): CPU 0 is this thread, 1..nrCpus-1 worker threads. Default os.availableParallelism(). */
  nrCpus?: number;
  /** A handler's synchronous segment longer than this counts as CPU intensive. Default 10 ms; 0 turns it off. */
  cpuIntensiveThreshMs?: number;
  /** The watchdog reports a pool stuck this long; 0 turns it off. Default 30 s. */
  watchdogThreshS?: number;
  /** The clock delays are measured on (a ManualClock in tests). Default: the monotonic clock and Node timers. */
  clock?: Clock;
  /**
   * Run `async function` handlers inside AsyncLocalStorage, so that currentWork() (and the deadlock and
   * chained-queueing checks built on it) hold across their awaits, not only in the synchronous part. On Node 20
   * AsyncLocalStorage turns on promise hooks for the whole process, which makes every promise in the application
   * slower (2-3x for await-heavy code), so there it is opt-in: default false. Where the runtime has
   * AsyncContextFrame (Node 24+, or 22+ with --experimental-async-context-frame) it costs little: default true.
   */
  asyncContext?: boolean;
  /**
   * Starts the worker threads cmwq runs on (CPUs 1..nrCpus-1, unbound pools, rescuers): `new Worker(url, options)`
   * with the process's flags by default. Tests inject a failing one to exercise the rescuer.
   *
   * @param url - The thread's entry module.
   * @param options - The worker_threads options cmwq chose (workerData, resourceLimits, execArgv, ...).
   * @returns The started thread.
   */
  startThread?: (url: URL, options: WorkerOptions) => NodeThread;
}

export interface WorkqueueConfig {
  nrCpus: number;
  cpuIntensiveThreshMs: number;
  watchdogThreshS: number;
  clock: Clock;
  asyncContext: boolean;
  startThread: (url: URL, options: WorkerOptions) => NodeThread;
}

/**
 * Whether this runtime implements AsyncLocalStorage with AsyncContextFrame (no promise hooks): Node 24+ unless
 * started with --no-async-context-frame, Node 22-23 with --experimental-async-context-frame.
 *
 * Read from the implementation itself rather than from the flags, which can also come from NODE_OPTIONS, a
 * config file or a worker's execArgv: the promise-hook implementation is the one whose prototype has the
 * `_enable` / `_propagate` hooks plumbing (what its init hook calls); the AsyncContextFrame one has neither.
 * Node 20 has no AsyncContextFrame at all. Nothing here calls run(), so the probe turns nothing on.
 */
export const hasAsyncContextFrame: boolean = (() => {
  if (Number(process.versions.node.split('.')[0]) < 22) return false;
  const proto = AsyncLocalStorage.prototype as unknown as Record<string, unknown>;
  return typeof proto._enable !== 'function' && typeof proto._propagate !== 'function';
})();

export const config: WorkqueueConfig = {
  nrCpus: availableParallelism(),
  cpuIntensiveThreshMs: 10,
  watchdogThreshS: 30,
  clock: realClock,
  asyncContext: hasAsyncContextFrame,
  startThread,
};

/**
 * What a thread cmwq started is for (thread-main.ts reads the rest): CPU k's event loop, or one of an unbound
 * pool's threads, or a rescuer. Passed in workerData under THREAD_ROLE; null on any other thread.
 */
export interface ThreadRole {
  kind: 'cpu' | 'unbound' | 'rescuer';
  /** The CPU number this thread is (unbound and rescuer threads: the CPU of the thread that owns them). */
  cpu: number;
  /** Prefix of the names of this thread's workers ("kworker/u3:" for pool 3's threads). */
  namePrefix: string;
}
export const THREAD_ROLE = '__cmwqThreadRole';

export const threadRole: ThreadRole | null =
  !isMainThread && workerData !== null && typeof workerData === 'object'
    ? ((workerData as Record<string, ThreadRole>)[THREAD_ROLE] ?? null)
    : null;

/**
 * The CPU this thread is: 0 on the thread that loaded cmwq first, k on the thread cmwq started for CPU k. Only a
 * thread cmwq did not start owns threads: the others run everything they are given on their own loop.
 */
export const localCpu = threadRole?.cpu ?? 0;
export const ownsThreads = threadRole === null;

/** Called after workqueueInit() changed the configuration (the watchdog listens; avoids an import cycle). */
export const reconfigureHooks: (() => void)[] = [];

/** Reports whether anything is queued, running or armed; set by the workqueue core (avoids an import cycle). */
export const busyProbe: { busy: () => boolean } = { busy: () => false };

/**
 * Configures cmwq. Optional: defaults apply without it. Call it before queueing anything (the clock, for one,
 * cannot change under armed timers); it may be called again once everything is idle, and each call changes only
 * the options it is given.
 *
 * @param options - The settings to change; see {@link WorkqueueInitOptions} for each one and its default.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if options is not an object, an option has the wrong type or
 *   range (nrCpus not an integer >= 1, a negative threshold, a clock without now/setTimer/clearTimer), or work is
 *   queued, running or armed. Nothing is changed then.
 *
 * @example
 * ```ts
 * // A test: two CPUs, no watchdog, and time that moves only when the test says so.
 * const clock = new ManualClock();
 * workqueueInit({ nrCpus: 2, watchdogThreshS: 0, clock });
 * ```
 */
export function workqueueInit(options: WorkqueueInitOptions = {}): void {
  if (options === null || typeof options !== 'object')
    invalidArg(`workqueueInit options must be an object, got ${describe(options)}`);
  const { nrCpus, cpuIntensiveThreshMs, watchdogThreshS, clock, asyncContext, startThread: start } = options;
  if (start !== undefined && typeof start !== 'function')
    invalidArg(`startThread must be a function, got ${describe(start)}`);
  if (asyncContext !== undefined && typeof asyncContext !== 'boolean')
    invalidArg(`asyncContext must be a boolean, got ${describe(asyncContext)}`);
  if (nrCpus !== undefined && !(Number.isInteger(nrCpus) && nrCpus >= 1))
    invalidArg(`nrCpus must be an integer >= 1, got ${describe(nrCpus)}`);
  if (cpuIntensiveThreshMs !== undefined && !(Number.isFinite(cpuIntensiveThreshMs) && cpuIntensiveThreshMs >= 0)) {
    invalidArg(`cpuIntensiveThreshMs must be a number >= 0, got ${describe(cpuIntensiveThreshMs)}`);
  }
  if (watchdogThreshS !== undefined && !(Number.isFinite(watchdogThreshS) && watchdogThreshS >= 0)) {
    invalidArg(`watchdogThreshS must be a number >= 0, got ${describe(watchdogThreshS)}`);
  }
  if (
    clock !== undefined &&
    (clock === null ||
      typeof clock.now !== 'function' ||
      typeof clock.setTimer !== 'function' ||
      typeof clock.clearTimer !== 'function')
  ) {
    invalidArg('clock must implement now(), setTimer() and clearTimer()');
  }
  if (busyProbe.busy()) invalidArg('workqueueInit() called while work is queued, running or armed');
  if (nrCpus !== undefined) config.nrCpus = nrCpus;
  if (cpuIntensiveThreshMs !== undefined) config.cpuIntensiveThreshMs = cpuIntensiveThreshMs;
  if (watchdogThreshS !== undefined) config.watchdogThreshS = watchdogThreshS;
  if (clock !== undefined) config.clock = clock;
  if (asyncContext !== undefined) config.asyncContext = asyncContext;
  if (start !== undefined) config.startThread = start;
  for (const hook of reconfigureHooks) hook();
}
