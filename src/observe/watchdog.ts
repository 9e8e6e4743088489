/**
 * The watchdog, loop side: the start of the thread that reads this loop's heartbeat (core/heartbeat.ts), the
 * thread's start, and what the loop does with its reports (CPU-hog accounting and warnings, lockups; CPU time is measured by the run loop, core/cpu.ts).
 *
 * Heartbeat writes are plain stores into a SharedArrayBuffer, a few per item: the hot path pays nothing else.
 * A copy of showAllWorkqueues() is kept in shared memory too, rebuilt from a timer a few times a second while
 * there is work, so that the thread can print the state with a lockup while the loop is still stuck.
 * The thread starts the first time the loop has work, unless both cpuIntensiveThreshMs and watchdogThreshS are
 * 0, and never keeps the process alive.
 */
import { performance } from 'node:perf_hooks';
import type { Worker as Thread } from 'node:worker_threads';
import { startThread as spawnThread } from '../base/exec-argv.js';
import { config, reconfigureHooks } from '../base/init.js';
import { HB_ASLEEP, HB_PENDING, HB_SEQ, HB_STALLS, heartbeat, unsentNames, watchdogHooks } from '../core/heartbeat.js';
import { chStall, warn } from '../core/tracepoints.js';
import { showAllWorkqueuesBounded } from './monitor.js';

/**
 * The state report the thread prints with a lockup, kept current by the loop (a blocked loop cannot write it
 * then): showAllWorkqueues() as UTF-8, reading at most SNAPSHOT_MAX_LISTED items per list, rebuilt every SNAPSHOT_EVERY_MS while the loop has had work since the
 * previous build, less often if building it is slow (at most about 1% of the loop's time). Layout: int32 [0] a
 * sequence number, odd while the loop writes (a seqlock), [1] the text's length in bytes; float64 at byte 8 the
 * Date.now() of the build; the text from byte 16.
 */
const SNAPSHOT_TEXT_OFFSET = 16;
const SNAPSHOT_BYTES = 64 * 1024;
const SNAPSHOT_EVERY_MS = 250;
const SNAPSHOT_MAX_SHARE = 100;
/** Items read per list for the copy (showAllWorkqueuesBounded): a millisecond or so, whatever is queued. */
const SNAPSHOT_MAX_LISTED = 1000;
export const stateSnapshot = new SharedArrayBuffer(SNAPSHOT_TEXT_OFFSET + SNAPSHOT_BYTES);
const snapshotHeader = new Int32Array(stateSnapshot, 0, 2);
const snapshotTime = new Float64Array(stateSnapshot, 8, 1);
const snapshotText = new Uint8Array(stateSnapshot, SNAPSHOT_TEXT_OFFSET);
const encoder = new TextEncoder();
let snapshotTimer: NodeJS.Timeout | null = null;
let snapshotSeq = -1;

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
      watchdogHooks.started = true;
      setImmediate(startThread).unref();
    }
  } else if (heartbeat[HB_ASLEEP] === 1) {
    Atomics.store(heartbeat, HB_ASLEEP, 0);
    thread.postMessage({ type: 'wake' } satisfies WatchdogMessage);
    scheduleSnapshot(SNAPSHOT_EVERY_MS);
  }
}

/**
 * New names wait to be sent. A worker's is sent at once: a worker is made just before it runs an item, which
 * may block the loop before a microtask could send it (workers are made rarely, and reused); the rest go in
 * one message from a microtask.
 */
function namesChanged(): void {
  if (unsentNames.workers.size > 0) sendNames();
  else scheduleNames();
}

function scheduleSnapshot(delayMs: number): void {
  if (snapshotTimer !== null || config.watchdogThreshS <= 0) return;
  snapshotTimer = setTimeout(refreshSnapshot, delayMs);
  snapshotTimer.unref();
}

/**
 * Rebuilds the shared state report if the loop has had work since the last build, then comes back later: after
 * SNAPSHOT_EVERY_MS, or SNAPSHOT_MAX_SHARE times the build's cost if that is longer. Stops while the watchdog
 * thread sleeps (an idle loop changes nothing); watchdogKick() starts it again.
 */
function refreshSnapshot(): void {
  snapshotTimer = null;
  const seq = Atomics.load(heartbeat, HB_SEQ);
  let costMs = 0;
  if (seq !== snapshotSeq || Atomics.load(heartbeat, HB_PENDING) === 1) {
    snapshotSeq = seq;
    const t0 = performance.now();
    writeSnapshot(showAllWorkqueuesBounded(SNAPSHOT_MAX_LISTED));
    costMs = performance.now() - t0;
  }
  if (Atomics.load(heartbeat, HB_ASLEEP) === 0)
    scheduleSnapshot(Math.max(SNAPSHOT_EVERY_MS, costMs * SNAPSHOT_MAX_SHARE));
}

/** Writes text into stateSnapshot under the seqlock, cut (and said to be) if it does not fit. */
function writeSnapshot(text: string): void {
  let bytes = encoder.encode(text);
  if (bytes.length > snapshotText.length) {
    const tail = encoder.encode('\n... (truncated)\n');
    bytes = new Uint8Array([...bytes.subarray(0, snapshotText.length - tail.length), ...tail]);
  }
  Atomics.add(snapshotHeader, 0, 1);
  snapshotText.set(bytes);
  snapshotTime[0] = Date.now();
  Atomics.store(snapshotHeader, 1, bytes.length);
  Atomics.add(snapshotHeader, 0, 1);
}

watchdogHooks.kick = watchdogKick;
watchdogHooks.namesChanged = namesChanged;
watchdogHooks.noteStalls = noteStalls;

reconfigureHooks.push(watchdogReconfigure);

/** workqueueInit() changed the thresholds. */
function watchdogReconfigure(): void {
  thread?.postMessage({
    type: 'config',
    cpuIntensiveThreshMs: config.cpuIntensiveThreshMs,
    watchdogThreshS: config.watchdogThreshS,
  } satisfies WatchdogMessage);
  if (thread !== null) scheduleSnapshot(0);
}

function startThread(): void {
  thread = spawnThread(new URL('./watchdog-thread.js', import.meta.url), {
    workerData: {
      heartbeat: heartbeat.buffer,
      stateSnapshot,
      stateSnapshotTextOffset: SNAPSHOT_TEXT_OFFSET,
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
  scheduleSnapshot(0);
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
