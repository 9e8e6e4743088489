/**
 * Subsystem set-up: workqueueInit() and the configuration every other file reads.
 */
import { availableParallelism } from 'node:os';
import { type Clock, realClock } from './clock.js';
import { describe, invalidArg } from './errors.js';

export interface WorkqueueInitOptions {
  /** CPUs (event loops): CPU 0 is this thread, 1..nrCpus-1 worker threads. Default os.availableParallelism(). */
  nrCpus?: number;
  /** A handler's synchronous segment longer than this counts as CPU intensive. Default 10 ms; 0 turns it off. */
  cpuIntensiveThreshMs?: number;
  /** The watchdog reports a pool stuck this long; 0 turns it off. Default 30 s. */
  watchdogThreshS?: number;
  /** The clock delays are measured on (a ManualClock in tests). Default: performance.now() and Node timers. */
  clock?: Clock;
  /**
   * Run `async function` handlers inside AsyncLocalStorage, so that currentWork() (and the deadlock and
   * chained-queueing checks built on it) hold across their awaits. Default true. On Node 20 the first use turns
   * on promise hooks for the whole process, which makes every promise in it slower; false trades the guarantee
   * after the first await for that cost.
   */
  asyncContext?: boolean;
}

export interface WorkqueueConfig {
  nrCpus: number;
  cpuIntensiveThreshMs: number;
  watchdogThreshS: number;
  clock: Clock;
  asyncContext: boolean;
}

export const config: WorkqueueConfig = {
  nrCpus: availableParallelism(),
  cpuIntensiveThreshMs: 10,
  watchdogThreshS: 30,
  clock: realClock,
  asyncContext: true,
};

/** The CPU this thread is (0 on the thread that loaded cmwq first). */
export const localCpu = 0;

/** Called after workqueueInit() changed the configuration (the watchdog listens; avoids an import cycle). */
export const reconfigureHooks: (() => void)[] = [];

/** Reports whether anything is queued, running or armed; set by the workqueue core (avoids an import cycle). */
export const busyProbe: { busy: () => boolean } = { busy: () => false };

/**
 * Configures cmwq. Optional: defaults apply without it. Call it before queueing anything; calling it while work
 * is queued, running or armed throws ERR_WQ_INVALID_ARG (the clock cannot change under armed timers).
 */
export function workqueueInit(options: WorkqueueInitOptions = {}): void {
  if (options === null || typeof options !== 'object') invalidArg(`workqueueInit options must be an object, got ${describe(options)}`);
  const { nrCpus, cpuIntensiveThreshMs, watchdogThreshS, clock, asyncContext } = options;
  if (asyncContext !== undefined && typeof asyncContext !== 'boolean') invalidArg(`asyncContext must be a boolean, got ${describe(asyncContext)}`);
  if (nrCpus !== undefined && !(Number.isInteger(nrCpus) && nrCpus >= 1)) invalidArg(`nrCpus must be an integer >= 1, got ${describe(nrCpus)}`);
  if (cpuIntensiveThreshMs !== undefined && !(Number.isFinite(cpuIntensiveThreshMs) && cpuIntensiveThreshMs >= 0)) {
    invalidArg(`cpuIntensiveThreshMs must be a number >= 0, got ${describe(cpuIntensiveThreshMs)}`);
  }
  if (watchdogThreshS !== undefined && !(Number.isFinite(watchdogThreshS) && watchdogThreshS >= 0)) {
    invalidArg(`watchdogThreshS must be a number >= 0, got ${describe(watchdogThreshS)}`);
  }
  if (clock !== undefined && (clock === null || typeof clock.now !== 'function' || typeof clock.setTimer !== 'function' || typeof clock.clearTimer !== 'function')) {
    invalidArg('clock must implement now(), setTimer() and clearTimer()');
  }
  if (busyProbe.busy()) invalidArg('workqueueInit() called while work is queued, running or armed');
  if (nrCpus !== undefined) config.nrCpus = nrCpus;
  if (cpuIntensiveThreshMs !== undefined) config.cpuIntensiveThreshMs = cpuIntensiveThreshMs;
  if (watchdogThreshS !== undefined) config.watchdogThreshS = watchdogThreshS;
  if (clock !== undefined) config.clock = clock;
  if (asyncContext !== undefined) config.asyncContext = asyncContext;
  for (const hook of reconfigureHooks) hook();
}
