/**
 * The watchdog, loop side: the start of the thread that reads this loop's heartbeat (core/heartbeat.ts), the
 * thread's start, and what the loop does with its reports (CPU-hog accounting and warnings, lockups; CPU time is measured by the run loop, core/cpu.ts).
 *
 * Heartbeat writes are plain stores into a SharedArrayBuffer, a few per item: the hot path pays nothing else.
 * The thread starts the first time the loop has work, unless both cpuIntensiveThreshMs and watchdogThreshS are
 * 0, and never keeps the process alive.
 */
import type { Worker as Thread } from 'node:worker_threads';
import { startThread as spawnThread } from '../base/exec-argv.js';
import { config, reconfigureHooks } from '../base/init.js';
import { HB_ASLEEP, HB_STALLS, heartbeat, unsentNames, watchdogHooks } from '../core/heartbeat.js';
import { chStall, warn } from '../core/tracepoints.js';

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

export type WatchdogReport = { type: 'stall'; stuckS: number; inFlight: string | null };

let thread: Thread | null = null;
let flushScheduled = false;
let starting = false;

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
    funcs: [...unsentNames.funcs],
    workers: [...unsentNames.workers],
    pwqs: [...unsentNames.pwqs],
    forget: [...unsentNames.forget],
  };
  unsentNames.funcs.clear();
  unsentNames.workers.clear();
  unsentNames.pwqs.clear();
  unsentNames.forget.clear();
  thread.postMessage(message);
}

function wanted(): boolean {
  return config.cpuIntensiveThreshMs > 0 || config.watchdogThreshS > 0;
}

/** The loop has work: make sure the thread watches. Called when the run loop is scheduled. */
function watchdogKick(): void {
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

watchdogHooks.kick = watchdogKick;
watchdogHooks.namesChanged = scheduleNames;
watchdogHooks.noteStalls = noteStalls;

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
    `workqueue: the watchdog reported ${stalls} lockup(s); the loop runs again, state now:\n${watchdogHooks.stateText()}`,
  );
}
